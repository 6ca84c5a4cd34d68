"""BabyAI env: byte-for-byte fidelity to AgentGym's recorded outputs, plus protocol properties and the expert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchworld.envs import base
from patchworld.envs.babyai import LEVELS, BabyAIEnv, progress_from_text
from patchworld.envs.babyai_expert import expert_action, run_expert
from patchworld.envs.base import EnvError

FIXTURES = Path(__file__).parent / "fixtures"
INITIAL = [json.loads(line) for line in (FIXTURES / "babyai_initial_observations.jsonl").read_text().splitlines()]
EPISODES = [json.loads(line) for line in (FIXTURES / "babyai_episodes.jsonl").read_text().splitlines()]


def _same(got, expected) -> bool:
    """Equal value and JSON type (an int 0 reward must stay an int, as in the original)."""
    return got == expected and type(got) is type(expected)


def test_all_initial_observations_match() -> None:
    env = BabyAIEnv()
    mismatches = [r["data_idx"] for r in INITIAL if env.reset(r["data_idx"]) != r["response"]["observation"]]
    assert len(INITIAL) == 160
    assert sorted(r["data_idx"] for r in INITIAL) == list(range(160))
    assert mismatches == []


def test_every_recorded_step_replays_exactly() -> None:
    env = BabyAIEnv()
    checked = errors = 0
    mismatches = []
    for episode in EPISODES:
        assert env.reset(episode["data_idx"]) == episode["reset_response"]["observation"]
        for i, step in enumerate(episode["steps"]):
            expected = step["response"]
            checked += 1
            if "error" in expected:
                errors += 1
                with pytest.raises(EnvError) as info:
                    env.step(step["action"])
                if str(info.value) != expected["error"]:
                    mismatches.append((episode["data_idx"], i, "error"))
                continue
            got = env.step(step["action"])
            for key, value in (("observation", got.observation), ("reward", got.reward),
                               ("score", got.info["score"]), ("done", got.done)):
                if not _same(value, expected[key]):
                    mismatches.append((episode["data_idx"], i, key))
    assert len(EPISODES) == 90
    assert checked == sum(len(e["steps"]) for e in EPISODES) == 1077
    assert mismatches == []
    assert errors == sum("error" in s["response"] for e in EPISODES for s in e["steps"])


def test_spec_samples_finish_and_score_accumulation() -> None:
    env = BabyAIEnv()
    env.reset(0)
    step = env.step("go to red ball 1")
    assert (step.reward, step.info["score"], step.done) == (0.8875, 0.8875, True)
    assert step.observation.split("\nAvailable actions:")[0].endswith("\n The task is completed.")
    assert env.is_success() and env.available_actions() == []
    with pytest.raises(EnvError, match=r"^The task with environment 0 has finished\.$"):
        env.step("turn left")
    # data_idx 3: a success that is not "done" (reward <= 0.5) keeps being added to the score
    env.reset(3)
    for _ in range(8):
        env.step("turn left")
    rewards = [(s.reward, s.info["score"], s.done) for s in
               (env.step(a) for a in ("go to blue key 1", "check available actions", "turn left", "turn right", "check"))]
    assert rewards == [(0.4375, 0.4375, False), (0.4375, 0.875, False), (0, 0.875, False),
                       (0.32499999999999996, 1.2, False), (0.32499999999999996, 1.525, False)]
    assert not env.is_success()


def test_mission_failure_prints_completed_but_is_not_done() -> None:
    env = BabyAIEnv()
    env.reset(15)  # open the purple door and open the red door: opening red first fails
    env.step("go to red closed door 1")
    step = env.step("toggle")
    assert "\n The task is completed.\nAvailable actions:" in step.observation
    assert (step.reward, step.done) == (0, False)


def test_errors_and_texts() -> None:
    env = BabyAIEnv()
    with pytest.raises(EnvError):
        env.step("turn left")
    with pytest.raises(EnvError, match="Seed must be greater or equal to zero"):
        env.reset(-1)
    env.reset(12)
    assert env.step("drop").observation.startswith("You cannot drop the object, as you are not carrying anything.\n")
    assert env.step("").observation.startswith("No change in state.\n")
    assert env.step("  RECHECK ").observation.startswith("You can take the following actions: turn left, turn right")
    assert env.step("fly").observation.startswith("The action is not recognized. Please check valid actions.\n")


def test_available_actions_are_all_accepted() -> None:
    env = BabyAIEnv()
    tried = 0
    for task in (0, 6, 12, 22, 27, 31, 38):
        env.reset(task)
        for _ in range(3):
            actions = env.available_actions()
            assert actions[:2] == ["turn left", "turn right"] and actions[-1] == "check available actions"
            for action in actions:
                step = env.clone().step(action)
                assert not step.observation.startswith("The action is not recognized")
                tried += 1
            env.step(actions[len(actions) // 2])
            if env.done:
                break
    assert tried > 50


def test_clone_is_independent_and_deterministic() -> None:
    env = BabyAIEnv()
    env.reset(38)
    env.step(env.available_actions()[2])
    twin = env.clone()
    actions = ["turn right", "move forward", "turn left", "move forward", "check available actions"]
    for action in ["turn left", "turn left", "move forward"]:
        twin.step(action)
    original = [env.step(a) for a in actions]
    assert twin.minigrid_env is not env.minigrid_env
    assert twin.minigrid_env.agent_pos != env.minigrid_env.agent_pos or twin.minigrid_env.agent_dir != env.minigrid_env.agent_dir
    # determinism: a fresh env, a reset to another task in between, the same actions -> the same outputs
    other = BabyAIEnv()
    other.reset(5)
    other.reset(38)
    other.step(other.available_actions()[2])
    assert [other.step(a) for a in actions] == original


def test_progress() -> None:
    env = BabyAIEnv()
    goal_obs = env.reset(0)
    assert 0.0 < env.progress(0, goal_obs) < 1.0
    step = env.step("go to red ball 1")
    assert env.progress(0, step.observation) == 1.0
    near = "There is a red ball 1 right in front of you 1 steps away.  You are not carrying anything."
    far = "There is a red ball 1 5 steps in front of you and 1 steps to your left.  You are not carrying anything."
    assert progress_from_text("go to the red ball", near) > progress_from_text("go to the red ball", far) > 0
    assert progress_from_text("go to the red ball", "You cannot see any objects within sight.") == 0.0
    assert progress_from_text("pick up a key", "You are carrying a grey key.") > progress_from_text("pick up a key", near)
    for episode in EPISODES[:30]:
        for s in episode["steps"]:
            assert 0.0 <= env.progress(episode["data_idx"], s["response"]["observation"]) <= 1.0


def test_registry_entry() -> None:
    entry = base._REGISTRY["babyai"]  # registered at import (not via spec(): that imports every other env too)
    assert entry.factory is BabyAIEnv and "Available actions" in entry.description
    env = entry.factory()
    assert env.tasks[:3] == [0, 1, 2] and len(env.tasks) == 400
    env.reset(1)
    assert entry.expert(env) in env.available_actions()


def test_expert_solves_sample_of_tasks() -> None:
    tasks = [t for t in range(40, 80) if LEVELS[t % 40] != "BabyAI-KeyInBox-v0"]  # no text action opens a box
    results = {t: run_expert(t, max_steps=60) for t in tasks}
    solved = [t for t, (ok, _) in results.items() if ok]
    assert len(solved) >= 0.9 * len(tasks), sorted(set(tasks) - set(solved))
    env = BabyAIEnv()
    env.reset(0)
    assert expert_action(env) == "go to red ball 1"


def test_expert_offers_valid_actions_and_leaves_state_alone() -> None:
    env = BabyAIEnv()
    checked = 0
    for task in (17, 22, 27, 28, 31, 37):  # unblocking, put-next, locked doors, sequences
        env.reset(task)
        while not env.done and checked < 200:
            grid = env.minigrid_env.grid.encode().copy()
            action = expert_action(env)
            assert action in env.available_actions()
            assert (env.minigrid_env.grid.encode() == grid).all()
            env.step(action)
            checked += 1
        assert env.is_success(), task
    assert checked > 20
