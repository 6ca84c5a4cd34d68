"""The env contract checker: every registered env passes; broken envs fail it."""

from __future__ import annotations

import copy
import itertools

import pytest

from patchworld.envs import EnvError, Step, make, registered, spec
from patchworld.envs.checker import EnvCheckError, assert_env_ok, check_env

_counter = itertools.count()


class CountdownEnv:
    """A tiny correct env: reach 0 from the task id by 'dec'; 'noop' does nothing."""

    name = "countdown"

    def __init__(self):
        self.task = None
        self.value = 0
        self.done = False

    @property
    def tasks(self):
        return [3, 4, 5]

    def reset(self, task):
        self.task, self.value, self.done = task, task, False
        return f"value {self.value}"

    def step(self, action):
        if self.done:
            raise EnvError("The task has finished.")
        if action == "dec":
            self.value -= 1
        self.done = self.value == 0
        return Step(f"value {self.value}", 1 if self.done else 0, self.done)

    def available_actions(self):
        return ["dec", "noop"]

    def is_success(self):
        return self.value == 0

    def progress(self, task, observation):
        return 1 - int(observation.split()[1]) / task

    def clone(self):
        return copy.deepcopy(self)


class NonDeterministicEnv(CountdownEnv):
    def reset(self, task):
        super().reset(task)
        return f"value {self.value} (episode {next(_counter)})"


class RejectsOfferedActionEnv(CountdownEnv):
    def available_actions(self):
        return ["dec", "noop", "fly"]

    def step(self, action):
        if action == "fly":
            raise EnvError("unknown action")
        return super().step(action)


class NeverFinishesEnv(CountdownEnv):
    def step(self, action):
        step = super().step(action)
        self.done = False
        return step


class SharedStateCloneEnv(CountdownEnv):
    def clone(self):
        return self  # not independent


class BadProgressEnv(CountdownEnv):
    def progress(self, task, observation):
        return 2.0


def test_correct_toy_env_passes():
    assert check_env(CountdownEnv) == []


@pytest.mark.parametrize(
    "broken, expected",
    [
        (NonDeterministicEnv, "not deterministic"),
        (RejectsOfferedActionEnv, "rejected by step"),
        (NeverFinishesEnv, "step after done"),
        (SharedStateCloneEnv, "clone"),
        (BadProgressEnv, "outside [0, 1]"),
    ],
)
def test_broken_env_fails_the_check(broken, expected):
    problems = check_env(broken, max_steps=40)
    assert any(expected in p for p in problems), problems
    with pytest.raises(EnvCheckError):
        assert_env_ok(broken, max_steps=40)


def test_all_four_envs_are_registered_with_expert_and_description():
    assert set(registered()) >= {"maze", "wordle", "textcraft", "babyai"}
    for name in ("maze", "wordle", "textcraft", "babyai"):
        entry = spec(name)
        assert entry.name == name and callable(entry.expert) and len(entry.description) > 80
        assert make(name).name == name
    with pytest.raises(KeyError, match="known: alfworld, babyai"):
        spec("nosuchenv")


@pytest.mark.parametrize("name", ["maze", "wordle", "textcraft", "babyai"])
def test_registered_env_passes_the_check(name):
    if name not in registered():
        pytest.fail(f"env {name} is not registered")
    assert_env_ok(name, n_tasks=2, max_steps=15)
