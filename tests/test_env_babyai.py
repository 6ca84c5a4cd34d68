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



# single-clause levels plus every multi-stage kind: ordered doors (Debug: strict), put-next,
# key-then-door, blocked doors, sequences joined by then / after you / and (Synth*, Boss*)
MONOTONE_TASKS = (0, 7, 12, 14, 15, 21, 22, 23, 26, 27, 28, 31, 33, 35, 36, 37, 38, 54, 55, 73, 76, 113, 116, 118)


def _expert_progress(task: int) -> tuple[str, list[float], list[bool]]:
    """The goal line, and the progress of the reset and of every step observation along the expert's episode
    (from the env that plays it, right after each step, as a planner sees it) with the done flags."""
    env = BabyAIEnv()
    expert = base._REGISTRY["babyai"].expert
    obs = env.reset(task)
    values, dones = [env.progress(task, obs)], [False]
    while not dones[-1] and len(dones) <= 60:
        step = env.step(expert(env))
        values.append(env.progress(task, step.observation))
        dones.append(step.done)
    return obs.split("\n", 1)[0], values, dones


def test_progress_is_monotone_along_expert_play_and_one_exactly_at_success() -> None:
    multi = 0
    for task in MONOTONE_TASKS:
        goal, values, dones = _expert_progress(task)
        assert dones[-1], task
        assert all(b >= a for a, b in zip(values, values[1:], strict=False)), (task, values)
        assert [v == 1.0 for v in values] == dones, (task, values)  # 1.0 only at (and at every) success
        assert all(0.0 <= v <= 1.0 for v in values)
        if " and " in goal:  # a multi-part mission earns credit for its finished parts before the end
            multi += 1
            assert max(v for v, d in zip(values, dones, strict=True) if not d) >= 0.95 / 2, (task, values)
    assert multi >= 10


def test_progress_completion_text_is_not_success_on_mission_failure() -> None:
    env = BabyAIEnv()
    env.reset(15)  # open the purple door after you open the red door (strict Debug level)
    env.step("go to red closed door 1")
    probe = env.clone()
    failed = probe.step("toggle")  # minigrid's strict verifier fails here; the text still says completed
    assert "The task is completed." in failed.observation and not failed.done
    assert probe.progress(15, failed.observation) < 1.0  # the env's own observation: live facts
    assert env.progress(15, failed.observation) < 1.0  # a prediction from the live state: purple still to open
    assert BabyAIEnv().progress(15, failed.observation) < 1.0  # text alone: the last part (purple) is not shown done
    # the red door counts as a finished part in all three readings
    assert min(probe.progress(15, failed.observation), env.progress(15, failed.observation)) >= 0.95 / 2
    probe.step("go to purple closed door 1")
    twin = probe.clone()
    done = twin.step("toggle")
    assert done.done and twin.progress(15, done.observation) == 1.0 and probe.progress(15, done.observation) == 1.0


def test_progress_keeps_finished_parts_from_live_state() -> None:
    blind = "You cannot see any objects within sight.The room has walls around you. You are not carrying anything."
    env = BabyAIEnv()
    env.reset(14)  # open the red door, then open the blue door
    before = env.progress(14, blind)
    env.step("go to red closed door 1")
    env.step("toggle")
    assert env.progress(14, blind) >= 0.95 / 2 > before  # the red door stays open although no longer visible
    assert BabyAIEnv().progress(14, blind) == 0.0  # no episode of the task: the text alone shows nothing done
    # the same text is worth less for the mission's first part while it is still pending
    env.reset(14)
    assert env.progress(14, blind) == before


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
