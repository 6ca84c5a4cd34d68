"""A contract checker that every registered env must pass (in the spirit of Gymnasium's).

``check_env(name_or_factory)`` returns the list of problems found (empty when the env
honours the protocol in :mod:`patchworld.envs.base`); ``assert_env_ok`` raises
:class:`EnvCheckError` listing them. Checks:

* ``tasks`` is a non-empty, sorted sequence of distinct ints; ``reset`` returns a string;
* determinism: a fixed task and a fixed action sequence give identical observations,
  rewards and done flags in two fresh envs;
* ``done`` ends an episode: a further ``step`` raises ``EnvError``;
* ``available_actions()`` is a non-empty list of strings while the episode runs, and
  each of them is accepted by ``step`` (tried on clones);
* ``clone()`` is independent: stepping a clone leaves the original unchanged;
* ``progress`` stays in [0, 1].
"""

from __future__ import annotations

import random
from collections.abc import Callable

from patchworld.envs.base import EnvError, TextEnv, make

__all__ = ["check_env", "assert_env_ok", "EnvCheckError"]


class EnvCheckError(AssertionError):
    """An env broke the protocol; the message lists every problem found."""


def _factory(env: str | Callable[[], TextEnv]) -> Callable[[], TextEnv]:
    return (lambda: make(env)) if isinstance(env, str) else env


def _rollout(factory: Callable[[], TextEnv], task: int, seed: int, max_steps: int) -> list[tuple]:
    env = factory()
    rng = random.Random(seed)
    trace: list[tuple] = [("reset", env.reset(task))]
    for _ in range(max_steps):
        action = rng.choice(env.available_actions())
        try:
            step = env.step(action)
        except EnvError as exc:  # reported by the episode check; keep the trace comparable
            trace.append((action, "EnvError", str(exc)))
            break
        trace.append((action, step.observation, step.reward, step.done))
        if step.done:
            break
    return trace


def _check_tasks(env: TextEnv) -> list[str]:
    tasks = list(env.tasks)
    problems = []
    if not tasks:
        problems.append("tasks is empty")
    if any(not isinstance(t, int) or isinstance(t, bool) for t in tasks):
        problems.append("tasks must be ints")
    elif tasks != sorted(set(tasks)):
        problems.append("tasks must be sorted and distinct")
    return problems


def _check_episode(factory: Callable[[], TextEnv], task: int, seed: int, max_steps: int) -> list[str]:
    problems: list[str] = []
    env = factory()
    first = env.reset(task)
    if not isinstance(first, str):
        return [f"task {task}: reset returned {type(first).__name__}, not str"]
    rng = random.Random(seed)
    done = False
    for n in range(max_steps):
        actions = env.available_actions()
        if not actions or not all(isinstance(a, str) for a in actions):
            problems.append(f"task {task} step {n}: available_actions() is empty or not all strings")
            break
        accepted = []
        for action in actions[:12]:
            try:
                env.clone().step(action)
                accepted.append(action)
            except EnvError as exc:
                problems.append(f"task {task} step {n}: available action {action!r} rejected by step: {exc}")
        if not accepted:
            break
        action = rng.choice(accepted)
        expected = env.clone().step(action)
        probe = env.clone()
        for _ in range(3):  # mutate a clone; the original must not notice
            try:
                if probe.step(rng.choice(probe.available_actions())).done:
                    break
            except EnvError:
                break
        step = env.step(action)
        if not _same(step, expected):
            problems.append(f"task {task} step {n}: a clone diverged from the original (clone not independent)")
        score = env.progress(task, step.observation)
        if not 0.0 <= score <= 1.0:
            problems.append(f"task {task} step {n}: progress {score} outside [0, 1]")
        if step.done:
            done = True
            break
    if done:
        try:
            env.step(actions[0])
            problems.append(f"task {task}: step after done did not raise EnvError")
        except EnvError:
            pass
    return problems


def _same(a, b) -> bool:
    return (a.observation, a.reward, a.done) == (b.observation, b.reward, b.done)


def check_env(env: str | Callable[[], TextEnv], n_tasks: int = 3, max_steps: int = 25, seed: int = 0) -> list[str]:
    """Run every check on a few tasks; return the problems found (empty list: the env passes)."""
    factory = _factory(env)
    problems = _check_tasks(factory())
    if problems:
        return problems
    tasks = list(factory().tasks)
    picked = random.Random(seed).sample(tasks, min(n_tasks, len(tasks)))
    for i, task in enumerate(sorted(picked)):
        try:
            first = _rollout(factory, task, seed + i, max_steps)
            second = _rollout(factory, task, seed + i, max_steps)
            if first != second:  # a crash inside a rollout is reported by the episode check below
                problems.append(f"task {task}: not deterministic for a fixed task and action sequence")
            problems.extend(_check_episode(factory, task, seed + i, max_steps))
        except Exception as exc:  # noqa: BLE001 - any crash is a protocol violation worth reporting
            problems.append(f"task {task}: {type(exc).__name__}: {exc}")
    return problems


def assert_env_ok(env: str | Callable[[], TextEnv], **kwargs) -> None:
    """Raise :class:`EnvCheckError` if :func:`check_env` finds any problem."""
    problems = check_env(env, **kwargs)
    if problems:
        raise EnvCheckError("env failed the contract check:\n- " + "\n- ".join(problems))
