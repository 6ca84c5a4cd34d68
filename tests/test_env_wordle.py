"""The wordle env against the original server's recorded episodes, plus protocol checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchworld.envs import make, spec
from patchworld.envs.base import EnvError
from patchworld.envs.wordle import DATA_DIR, WordleEnv, expert, feedback, vocabulary

FIXTURE = Path(__file__).parent / "fixtures" / "wordle_episodes.jsonl"
EPISODES = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
RENDERED = (DATA_DIR / "instruction_prompt_rendered.txt").read_text(encoding="utf-8")


def _replay(episode: dict, env: WordleEnv) -> tuple[int, list[str]]:
    """Replay one recorded episode (candidates too); returns (steps replayed, mismatch descriptions)."""
    seed = episode["seed"]
    mismatches: list[str] = []
    first = env.reset(seed)
    if first != episode["reset_response"]["observation"]:
        mismatches.append(f"seed {seed} reset: {first!r}")
    n = 0
    for i, rec in enumerate(episode["steps"]):
        if env.candidates() != rec["candidates_before"]:
            mismatches.append(f"seed {seed} step {i}: candidates {env.candidates()} != {rec['candidates_before']}")
        exp = rec["response"]
        try:
            step = env.step(rec["action"])
            got = {"observation": step.observation, "reward": step.reward, "done": step.done}
        except EnvError as exc:
            got = {"error": str(exc)}
        n += 1
        if got != exp or type(got.get("reward")) is not type(exp.get("reward")):
            mismatches.append(f"seed {seed} step {i} {rec['action']!r}: {got!r} != {exp!r}")
    return n, mismatches


def test_fixture_is_complete() -> None:
    assert len(EPISODES) >= 83
    assert sum(len(e["steps"]) for e in EPISODES) >= 330


def test_replay_every_recorded_episode_exactly() -> None:
    env = WordleEnv(client_prompt=False)
    total, mismatches = 0, []
    for episode in EPISODES:
        n, bad = _replay(episode, env)
        total += n
        mismatches += bad
    assert mismatches == []
    assert total == sum(len(e["steps"]) for e in EPISODES)


def test_reward_types_follow_the_original() -> None:
    types = {(s["response"]["observation"] == "invalid word", type(s["response"]["reward"])) for e in EPISODES for s in e["steps"]}
    assert types == {(True, float), (False, int)}
    env = WordleEnv()
    env.reset(1)
    assert type(env.step("hello").reward) is float
    step = env.step("p a n i c")
    assert (step.observation, step.reward, type(step.reward)) == ("y b b y y\n", 0, int)
    step = env.step("c r i m p")
    assert (step.observation, step.reward, type(step.reward), step.done) == ("g g g g g\n", 1, int, True)


def test_first_observation_is_the_rendered_prompt() -> None:
    env = WordleEnv()
    first = env.reset(0)
    assert first == RENDERED and len(first) == 3247 and len(first.encode("utf-8")) == 3251
    assert env.server_observation == "Let's start Wordle!"
    assert WordleEnv(client_prompt=False).reset(0) == "Let's start Wordle!"


def test_action_normalisation() -> None:
    for action in ("s h i r e", "shire", "  s h i r e ", "sh ire", "\ts h i r e\n"):
        env = WordleEnv()
        env.reset(7)
        assert env.step(action).observation != "invalid word", action
    env = WordleEnv()
    env.reset(7)
    for action in ("S H I R E", "hello", "c r a n e", "shires", "p-a-n-i-c", ""):
        step = env.step(action)
        assert step.observation == "invalid word" and step.reward == 0.0
    assert step.done and env.attempts == 6 and not env.is_success()


def test_invalid_words_draw_no_random_number() -> None:
    a, b = WordleEnv(), WordleEnv()
    a.reset(3)
    b.reset(3)
    a.step("xxxxx")
    a.step("Panic")
    assert a.step("p a n i c").observation == b.step("p a n i c").observation


def test_finished_episode_raises_the_original_error() -> None:
    env = WordleEnv()
    env.reset(0)
    for action in ("p a n i c", "s o l a r", "a r o m a"):
        step = env.step(action)
    assert step.done and env.is_success()
    with pytest.raises(EnvError) as err:
        env.step("p a n i c")
    assert str(err.value) == "The task with environment 0 has finished."


def test_feedback_has_no_duplicate_accounting() -> None:
    assert feedback("aroma", "sugar") == "yybby"
    assert feedback("panic", "panic") == "ggggg"


def test_available_actions_are_accepted() -> None:
    env = WordleEnv()
    env.reset(5)
    actions = env.available_actions()
    assert len(actions) == 40 and actions[0] == "p a n i c"
    for action in actions:
        assert env.clone().step(action).observation != "invalid word"


def test_clone_is_independent_and_same_state() -> None:
    env = WordleEnv()
    env.reset(42)
    env.step("p a n i c")
    twin = env.clone()
    guesses = ["t h o s e", "m o u n t", "e l d e r", "s k i l l", "r o b i n"]
    outcomes = [twin.step(word).observation for word in guesses]
    assert twin.done and len(twin.history) == 6
    assert len(env.history) == 1 and env.attempts == 1 and not env.done
    assert [env.step(word).observation for word in guesses] == outcomes  # same generator state


def test_tasks_are_seeds() -> None:
    env = WordleEnv()
    assert list(env.tasks) == list(range(1000))
    with pytest.raises(EnvError):
        env.reset("3")  # type: ignore[arg-type]


@pytest.mark.parametrize("task", [0, 1, 11, 123, 500, 999])
def test_expert_solves_and_progress_is_one_at_the_solved_step(task: int) -> None:
    env = WordleEnv()
    obs = env.reset(task)
    assert env.progress(task, obs) == 0.0
    for _ in range(6):
        step = env.step(expert(env))
        if step.done:
            break
        assert env.progress(task, step.observation) < 1.0
    assert env.is_success() and step.reward == 1
    assert env.progress(task, step.observation) == 1.0


def test_expert_reproduces_first_candidate_recordings() -> None:
    recorded = [e for e in EPISODES if e["note"].startswith("guess first remaining candidate")]
    assert recorded
    env = WordleEnv()
    for episode in recorded:
        env.reset(episode["seed"])
        for rec in episode["steps"]:
            assert expert(env) == rec["action"]
            env.step(rec["action"])


def test_progress_values() -> None:
    env = WordleEnv()
    assert env.progress(0, "b y g g b\n") == 0.4
    assert env.progress(0, "g g g g g\n") == 1.0
    assert env.progress(0, "invalid word") == 0.0
    assert env.progress(0, "b y g g") == 0.0


def test_registered_with_description() -> None:
    entry = spec("wordle")
    assert entry.expert is expert and "s h i r e" in entry.description
    assert all(word in entry.description for word in vocabulary())
    assert isinstance(make("wordle"), WordleEnv)
