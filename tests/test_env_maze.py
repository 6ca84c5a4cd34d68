"""The maze env against the original server's recorded episodes, plus protocol checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchworld.envs import make, spec
from patchworld.envs.base import EnvError
from patchworld.envs.maze import DATA_DIR, MAX_STEPS, MazeEnv, expert

FIXTURE = Path(__file__).parent / "fixtures" / "maze_episodes.jsonl"
EPISODES = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
PROMPT = (DATA_DIR / "instruction_prompt.txt").read_text(encoding="utf-8")


def _replay(episode: dict, env: MazeEnv) -> tuple[int, list[str]]:
    """Replay one recorded episode; returns (steps replayed, mismatch descriptions)."""
    mismatches: list[str] = []
    expected_reset = episode["reset_response"]
    try:
        got = {"observation": env.reset(episode["game"])}
    except EnvError as exc:
        got = {"error": str(exc)}
    if got != expected_reset:
        mismatches.append(f"game {episode['game']} reset: {got!r} != {expected_reset!r}")
    n = 0
    for i, rec in enumerate(episode["steps"]):
        exp = rec["response"]
        try:
            step = env.step(rec["action"])
            got = {"observation": step.observation, "reward": step.reward, "done": step.done}
        except EnvError as exc:
            got = {"error": str(exc)}
        n += 1
        same = got == exp and type(got.get("reward")) is type(exp.get("reward"))
        if not same:
            mismatches.append(f"game {episode['game']} step {i} {rec['action']!r}: {got!r} != {exp!r}")
    return n, mismatches


def test_fixture_is_complete() -> None:
    assert len(EPISODES) >= 24
    assert sum(len(e["steps"]) for e in EPISODES) >= 355


def test_replay_every_recorded_episode_exactly() -> None:
    env = MazeEnv(client_prompt=False)
    total, mismatches = 0, []
    for episode in EPISODES:
        n, bad = _replay(episode, env)
        total += n
        mismatches += bad
    assert mismatches == []
    assert total == sum(len(e["steps"]) for e in EPISODES)


def test_reward_types_follow_the_original() -> None:
    rewards = [s["response"]["reward"] for e in EPISODES for s in e["steps"]]
    assert {type(r) for r in rewards} == {int, float}  # the fixture exercises both types
    env = MazeEnv()
    env.reset(18)
    step = env.step("move down")
    assert (step.observation, step.reward, type(step.reward), step.done) == ("Success\n", 1.0, float, True)


def test_first_observation_is_prompt_newline_reset_text() -> None:
    env = MazeEnv()
    for episode in EPISODES:
        if "observation" not in episode["reset_response"]:
            continue
        first = env.reset(episode["game"])
        assert first == PROMPT + "\n" + episode["reset_response"]["observation"]
        assert env.server_observation == episode["reset_response"]["observation"]
    assert len(PROMPT) == 2973 and not PROMPT.endswith("\n")
    assert first.endswith("make the optimal action given the current environment state:\n" + env.server_observation)


def test_reset_errors_and_negative_indices() -> None:
    env = MazeEnv()
    with pytest.raises(EnvError) as err:
        env.reset(26)
    assert str(err.value) == "The game 26 is not valid."
    for goal_game in (25, -1):
        with pytest.raises(EnvError) as err:
            env.reset(goal_game)
        assert str(err.value) == ""
    with pytest.raises(EnvError, match="list index out of range"):
        env.reset(-27)
    assert env.reset(-2) == env.reset(24)


def test_failure_after_fifty_steps_then_finished_error() -> None:
    env = MazeEnv(client_prompt=False)
    start = env.reset(5)
    for _ in range(MAX_STEPS):
        step = env.step("move up")
        assert (step.observation, step.reward, step.done) == (start, 0, False)
    step = env.step("move right")
    assert (step.observation, step.reward, type(step.reward), step.done) == ("Failure\n", -1.0, float, True)
    assert not env.is_success()
    with pytest.raises(EnvError) as err:
        env.step("move up")
    assert str(err.value) == "The task with environment 0 has finished."


def test_failure_check_precedes_a_winning_move() -> None:
    env = MazeEnv()
    env.reset(18)  # one step above the goal
    for _ in range(MAX_STEPS):
        assert not env.step("move up").done
    assert env.step("move down").observation == "Failure\n"


def test_invalid_actions_act_like_a_bump() -> None:
    env = MazeEnv(client_prompt=False)
    start = env.reset(21)
    for action in ("Move up", "move  up", "move forward", "", " move left"):
        step = env.step(action)
        assert (step.observation, step.reward, step.done) == (start, 0, False)
    assert env.n_steps == 5


def test_available_actions_are_the_four_moves_and_all_accepted() -> None:
    env = MazeEnv()
    env.reset(13)
    actions = env.available_actions()
    assert actions == ["move left", "move right", "move up", "move down"]
    for action in actions:
        env.clone().step(action)


def test_clone_is_independent() -> None:
    env = MazeEnv()
    env.reset(13)
    twin = env.clone()
    twin.step("move right")
    assert env.position == (5, 3) and twin.position == (5, 4)
    assert env.n_steps == 0 and twin.n_steps == 1
    assert env.step("move right").observation == twin.server_observation


def test_tasks_are_the_usable_games() -> None:
    env = MazeEnv()
    assert list(env.tasks) == list(range(25))
    for task in env.tasks:
        env.reset(task)


@pytest.mark.parametrize("task", [0, 4, 9, 13, 18, 24])
def test_expert_solves_and_progress_is_monotone(task: int) -> None:
    env = MazeEnv()
    obs = env.reset(task)
    values = [env.progress(task, obs)]
    distance = env.distance_to_goal()
    for _ in range(distance):
        step = env.step(expert(env))
        values.append(env.progress(task, step.observation))
    assert step.done and step.observation == "Success\n" and env.is_success()
    assert values == sorted(values) and values[-1] == 1.0 and values[0] < 1.0


def test_expert_reproduces_the_recorded_optimal_paths() -> None:
    optimal = [e for e in EPISODES if e["note"] == "optimal path"]
    assert optimal
    env = MazeEnv()
    for episode in optimal:
        env.reset(episode["game"])
        actions = []
        for _ in episode["steps"]:
            actions.append(expert(env))
            env.step(actions[-1])
        assert actions == [s["action"] for s in episode["steps"]]


def test_progress_values() -> None:
    env = MazeEnv()
    assert env.progress(0, env.reset(0)) == 0.0  # distance 12, the farthest cell; prompt's example ignored
    assert env.progress(0, "The goal is at position 8, 6. Your current position is at position 7, 6. x") == 1 - 1 / 12
    assert env.progress(0, "Success\n") == 1.0
    assert env.progress(0, "Failure\n") == 0.0
    assert env.progress(0, "garbage") == 0.0
    assert env.progress(0, "Your current position is at position 0, 0.") == 0.0  # a wall cell


def test_registered_with_description() -> None:
    entry = spec("maze")
    assert entry.expert is expert and "move up" in entry.description and len(entry.description) > 200
    assert isinstance(make("maze"), MazeEnv)


def test_step_before_reset_raises() -> None:
    with pytest.raises(EnvError):
        MazeEnv().step("move up")
