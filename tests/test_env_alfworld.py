"""The ALFWorld env against episodes recorded from the original engine, plus generator and protocol checks.

Fixtures: ``alfworld_episodes.jsonl`` (the 21 recorded episodes of the spec, tasks 0-20 of the
shipped problem set) and ``alfworld_handmade_episodes.jsonl`` (16 episodes recorded from the
original engine -- textworld 1.7.0 + alfworld 0.3.3 through AgentGym's reset/step path, with
``benchmarks/alfworld_oracle.py record`` -- on the four hand-written problems of
``alfworld_handmade_problems.jsonl``, which the generator did not make: bathroom receptacles,
receptacles out of order, a lamp in a drawer, a free-form goal sentence; the last four episodes are
scripted probes: cool/heat/clean in turn, slicing and the sliced texts, a lamp used in a closed
drawer, puts into closed or unfitting receptacles, the 50-step limit).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from patchworld.envs import base
from patchworld.envs.alfworld import MAX_STEPS, AlfworldEnv, expert_action, parse_goal
from patchworld.envs.alfworld_gen import RECORDED_FILE, generate_problems, write_problem_set
from patchworld.envs.alfworld_problem import (
    PROBLEMS_FILE,
    TASK_TYPES,
    ProblemFormatError,
    load_problems,
    parse_problem,
    problem_to_dict,
)
from patchworld.envs.base import EnvError, make
from patchworld.envs.checker import check_env

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = [json.loads(line) for line in (FIXTURES / "alfworld_episodes.jsonl").read_text().splitlines()]
HANDMADE_PROBLEMS = FIXTURES / "alfworld_handmade_problems.jsonl"
HANDMADE = [json.loads(line) for line in (FIXTURES / "alfworld_handmade_episodes.jsonl").read_text().splitlines()]
FINISHED = "The task with environment 0 has finished."


@pytest.fixture(scope="module")
def env() -> AlfworldEnv:
    return AlfworldEnv(client_view=False)


def _replay(env: AlfworldEnv, episode: dict) -> list[str]:
    """Replay one recorded episode; every mismatch (reset payload, step payload or error) described."""
    bad = []
    env.reset(episode["task"])
    if env.reset_payload() != episode["reset_response"]:
        bad.append(f"task {episode['task']}: reset payload {env.reset_payload()!r}")
    for i, rec in enumerate(episode["steps"]):
        try:
            step = env.step(rec["action"])
            got = {"observation": step.observation, "reward": step.reward,
                   "available_actions": step.info["available_actions"], "done": step.done}
            assert env.available_actions() == ([] if step.done else got["available_actions"])
        except EnvError as exc:
            got = {"error": str(exc)}
        if got != rec["response"] or type(got.get("reward")) is not type(rec["response"].get("reward")):
            bad.append(f"task {episode['task']} step {i} {rec['action']!r}: {got!r} != {rec['response']!r}")
            break
    return bad


def test_fixtures_are_complete() -> None:
    assert len(RECORDED) == 21 and sum(len(e["steps"]) for e in RECORDED) == 229
    assert {e["task"] for e in RECORDED} == set(range(21))
    assert len(HANDMADE) == 16 and sum(len(e["steps"]) for e in HANDMADE) == 354


def test_replay_every_recorded_episode_exactly(env: AlfworldEnv) -> None:
    mismatches = [m for episode in RECORDED for m in _replay(env, episode)]
    assert mismatches == []


def test_replay_oracle_episodes_on_problems_the_generator_did_not_make() -> None:
    hand = base.make("alfworld", problems=HANDMADE_PROBLEMS, client_view=False)
    assert list(hand.tasks) == [0, 1, 2, 3]
    mismatches = [m for episode in HANDMADE for m in _replay(hand, episode)]
    assert mismatches == []
    wins = [e for e in HANDMADE if any(s["response"].get("reward") == 1.0 for s in e["steps"])]
    assert {e["task"] for e in wins} == {0, 1, 2, 3}  # every task won at least once, through the expert's plan


def test_client_view_reset_and_available_actions() -> None:
    env = AlfworldEnv()
    first = env.reset(0)
    recorded = RECORDED[0]["reset_response"]
    assert first == recorded["observation"] + "\nAVAILABLE ACTIONS: " + ",".join(recorded["available_actions"])
    assert env.available_actions() == recorded["available_actions"]
    assert all(a.startswith("go to ") for a in env.available_actions()[:-2])


def test_contract_checker_passes() -> None:
    assert check_env("alfworld", n_tasks=4, max_steps=30) == []
    assert check_env(lambda: AlfworldEnv(problems=HANDMADE_PROBLEMS), n_tasks=2, max_steps=20) == []


def test_shipped_problem_set_is_the_generators_seed_0(tmp_path: Path) -> None:
    shipped = PROBLEMS_FILE.read_bytes()
    assert write_problem_set(0, tmp_path / "p.jsonl").read_bytes() == shipped
    lines = shipped.decode().splitlines()
    assert len(lines) == 100
    assert lines[:21] == RECORDED_FILE.read_text().splitlines()  # the recorded problems keep ids 0-20
    for i, line in enumerate(lines):  # the PDDL we write is the one the recordings fed to the engine
        raw = json.loads(line)
        again = problem_to_dict(parse_problem(raw), i)
        assert again == {k: v for k, v in raw.items() if k != "solution"}
    assert write_problem_set(1, tmp_path / "q.jsonl").read_bytes() != shipped


def test_generator_is_seeded_covers_all_types_and_its_solutions_win() -> None:
    first = generate_problems(7, 12)
    assert first == generate_problems(7, 12)
    assert [p for p, _ in first] != [p for p, _ in generate_problems(8, 12)]
    assert {p.task_type for p, _ in first} == set(TASK_TYPES)
    env = AlfworldEnv(problems=[p for p, _ in first], client_view=False)
    for task, (problem, solution) in enumerate(first):
        env.reset(task)
        assert not env.is_success()
        steps = [env.step(action) for action in solution]
        assert [s.done for s in steps] == [False] * (len(steps) - 1) + [True], problem.id
        assert steps[-1].reward == 1.0 and env.is_success()
        assert all("Nothing happens." != s.observation for s in steps)


def test_expert_solves_every_shipped_task_with_monotone_progress(env: AlfworldEnv) -> None:
    for task in env.tasks:
        first = env.reset(task)
        previous = env.progress(task, first)
        assert previous == 0.0
        for _ in range(MAX_STEPS):
            step = env.step(expert_action(env))
            score = env.progress(task, step.observation)
            assert previous <= score <= 1.0, (task, step.observation)
            assert (score == 1.0) == step.done, (task, step.observation)
            previous = score
            if step.done:
                break
        assert env.is_success() and step.reward == 1.0, task


def test_expert_recovers_from_random_detours(env: AlfworldEnv) -> None:
    rng = random.Random(3)
    for task in range(0, 100, 7):
        env.reset(task)
        for _ in range(8):
            if env.step(rng.choice(env.available_actions())).done:
                break
        while not env.done:
            env.step(expert_action(env))
        assert env.is_success() or env.steps == MAX_STEPS, task


def test_progress_of_a_predicted_observation(env: AlfworldEnv) -> None:
    env.reset(0)  # tomato 1 on sinkbasin 1 -> diningtable 1
    now = env.progress(0, env.world.intro())
    there = env.progress(0, "On the sinkbasin 1, you see a tomato 1.")  # what 'go to sinkbasin 1' would answer
    elsewhere = env.progress(0, "On the shelf 1, you see nothing.")
    assert now == 0.0 < there and elsewhere <= there
    assert env.progress(0, "gibberish") == now
    env.step("go to sinkbasin 1")
    assert env.progress(0, "You pick up the tomato 1 from the sinkbasin 1.") > there


def test_bad_input_gives_the_originals_behaviour() -> None:
    env = AlfworldEnv(client_view=False)
    with pytest.raises(EnvError, match="reset"):
        env.step("look")
    with pytest.raises(EnvError, match=r"^list index out of range$"):
        env.reset(100)
    with pytest.raises(EnvError, match=r"^list indices must be integers or slices, not str$"):
        env.reset("3")  # type: ignore[arg-type]
    assert env.reset(-100) == env.reset(0)  # the server indexes a Python list
    env.step("go to sinkbasin 1")
    with pytest.raises(EnvError, match="list index out of range"):
        env.reset(999)
    assert env.world.location == "sinkbasin 1"  # a failed reset leaves the episode running
    for action in ["", "   ", "jump", "Look", "go to sinkbasin 1", "take tomato 1", "toggle desklamp 1", "help"]:
        step = env.step(action)
        assert (step.observation, step.reward, step.done) == ("Nothing happens.", 0.0, False), action
    assert env.step("  examine sinkbasin 1\n").observation == "On the sinkbasin 1, you see a tomato 1."
    with pytest.raises(EnvError, match=r"^'int' object has no attribute 'strip'$"):
        env.step(5)  # type: ignore[arg-type]
    assert env.steps == 10  # invalid commands count as steps
    for _ in range(MAX_STEPS - 11):
        assert not env.step("look").done
    last = env.step("look")
    assert (last.reward, last.done, env.is_success()) == (0.0, True, False)
    assert env.available_actions() == []
    with pytest.raises(EnvError) as err:
        env.step("look")
    assert str(err.value) == FINISHED
    env.reset(0)  # reset after done is allowed
    assert env.step("look").observation.startswith("You are in the middle of a room.")


def test_problem_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    good = RECORDED_FILE.read_text().splitlines()[0]
    raw = json.loads(good)
    cases = {
        "{not json": "not valid JSON",
        json.dumps({**raw, "task_type": "fly"}): "field 'task_type'",
        json.dumps({**raw, "objects": [{**raw["objects"][0], "name": "tomato one"}]}): "field 'objects[0].name'",
        json.dumps({**raw, "objects": [{**raw["objects"][0], "in": "moon 1"}]}): "field 'objects[0].in'",
        json.dumps({**raw, "goal": {**raw["goal"], "recep": "StoveBurner"}}): "field 'goal.recep'",
        json.dumps({**raw, "objects": [{**raw["objects"][0], "name": "tomato 2"}]}): "numbered 1..1",
    }
    for number, (line, fragment) in enumerate(cases.items()):
        path = tmp_path / f"bad{number}.jsonl"
        path.write_text(good + "\n\n" + line + "\n")
        with pytest.raises(ProblemFormatError) as err:
            make("alfworld", problems=path)
        message = str(err.value)
        assert message.startswith(f"{path}:3: field ") and fragment in message and "\n" not in message, message
    with pytest.raises(ProblemFormatError, match="cannot read"):
        load_problems(tmp_path / "missing.jsonl")
    minimal = {k: raw[k] for k in ("task_type", "receptacles", "objects", "goal")}  # no task/id/goal_text/pddl
    env = AlfworldEnv(problems=[parse_problem(minimal)], client_view=False)
    assert env.reset(0).endswith("Your task is to: put some tomato on diningtable.")


def test_available_actions_follow_the_engine(env: AlfworldEnv) -> None:
    env.reset(3)  # plate 1 on shelf 1 with dishsponge 2
    env.step("go to shelf 1")
    actions = env.available_actions()
    assert actions == sorted(actions) and "take plate 1 from shelf 1" in actions
    assert "examine plate 1" not in actions  # objects lying in a receptacle cannot be examined
    assert env.step("examine plate 1").observation == "Nothing happens."
    env.step("take plate 1 from shelf 1")
    assert "examine plate 1" in env.available_actions()
    assert not any(a.startswith("take ") for a in env.available_actions())  # hands full


def test_clone_is_independent(env: AlfworldEnv) -> None:
    env.reset(1)
    env.step("go to drawer 1")
    twin = env.clone()
    assert twin.step("open drawer 1").observation.startswith("You open the drawer 1.")
    assert env.world.opened == {"cabinet 1"} and env.steps == 1  # cabinet 1 starts open
    assert env.step("examine drawer 1").observation == "The drawer 1 is closed."


def test_registered_with_description() -> None:
    from patchworld.envs.alfworld import conversation_start

    turns = conversation_start()
    assert [t["from"] for t in turns] == ["human", "gpt"] and "household" in turns[0]["value"]
    entry = base.spec("alfworld")
    assert entry.factory is AlfworldEnv and entry.expert is expert_action
    assert "Nothing happens." in entry.description and "go to" in entry.description
    assert AlfworldEnv().name == "alfworld"


def test_shipped_trajectories_are_seed_0_and_splits_are_disjoint(tmp_path: Path) -> None:
    from patchworld.data import load_trajectories
    from patchworld.envs.generate import generate

    shipped = Path(__file__).resolve().parents[1] / "data" / "trajectories" / "alfworld"
    paths = generate("alfworld", 0, tmp_path)  # what `make data` runs
    tasks = {}
    for split, path in paths.items():
        assert path.read_bytes() == (shipped / path.name).read_bytes(), split
        trajs = load_trajectories(path)
        tasks[split] = {t.task_idx for t in trajs}
        assert 300 <= sum(len(t) for t in trajs) <= 3000
        assert any(t.success for t in trajs) and not all(t.success for t in trajs)
    assert not tasks["train"] & tasks["val"] and not tasks["test"] & (tasks["train"] | tasks["val"])


def test_cli_generate_on_a_fresh_problem_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from patchworld.cli import main
    from patchworld.data import load_trajectories

    assert main(["generate", "--env", "alfworld", "--seed", "3", "--problems", "80", "--out", str(tmp_path)]) == 0
    problems = load_problems(tmp_path / "alfworld_problems.jsonl")
    assert len(problems) == 80 and problems[21].id == "gen_s3_021"
    trajs = load_trajectories(tmp_path / "alfworld_traj_test.jsonl")
    env = AlfworldEnv(problems=tmp_path / "alfworld_problems.jsonl")
    first = trajs[0]
    assert env.reset(first.task_idx) == first.transitions[0].observation  # the data is playable from the written set
    assert main(["generate", "--env", "maze", "--problems", "30", "--out", str(tmp_path / "x")]) == 2
    assert "only for --env alfworld" in capsys.readouterr().err


def test_goal_score_reads_only_the_goal_sentence_and_the_text() -> None:
    from patchworld.envs.base import goal_scorer

    score = goal_scorer("alfworld")
    assert score is AlfworldEnv.goal_score
    env = AlfworldEnv()
    heat = env.reset(2)  # heat some apple and put it in diningtable
    assert score(heat, "On the garbagecan 1, you see a apple 1.") == 0.2
    assert score(heat, "You pick up the apple 1 from the garbagecan 1.") == 0.4
    assert score(heat, "You heat the apple 1 using the microwave 1.") == 0.6
    assert score(heat, "You put the apple 1 in/on the diningtable 1.") == 0.8
    assert score(heat, "You put the apple 1 in/on the shelf 1.") == score(heat, "Nothing happens.") == 0.0
    simple = env.reset(0)  # put some tomato on diningtable
    assert score(simple, "You put the tomato 1 in/on the diningtable 1.") == 1.0
    light = env.reset(4)  # look at alarmclock under the desklamp
    assert score(light, "You turn on the desklamp 1.") == 0.6
    assert score(light, "You pick up the alarmclock 2 from the sidetable 1.") == 0.4
    assert score("no task here", "You put the tomato 1 in/on the diningtable 1.") == 0.0
    for task in range(21, 100):  # every generated goal sentence parses
        assert parse_goal(env.reset(task)) is not None, task
