"""The SciWorld env against AgentGym's recorded episodes (byte for byte), plus protocol, expert and bad input.

The real ScienceWorld JVM is slow to start, so the module shares one engine (fresh at the golden
replay, which runs first, in file order, as the spec requires). The jobs that need their own fresh
JVMs (the failures file, generate's byte-identity, the contract checker, whose determinism check
compares two fresh envs) run in one background thread beside the main replay, on the other core.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from patchworld.data import load_trajectories
from patchworld.envs import base
from patchworld.envs.base import EnvError
from patchworld.envs.checker import check_env
from patchworld.envs.generate import GenerationConfig, generate
from patchworld.envs.sciworld import N_GAMES, SciWorldEnv, conversation_start, expert_action, goal_score, seen_names
from patchworld.envs.sciworld_engine import Engine, games
from patchworld.envs.sciworld_gold import shipped_gold_paths

if shutil.which("java") is None:
    _why = "ScienceWorld needs a Java runtime (apt: openjdk-17-jre-headless; .ci/run installs it)"
    if os.environ.get("PATCHWORLD_REQUIRE_JAVA") == "1":
        raise RuntimeError(_why + ", and PATCHWORLD_REQUIRE_JAVA=1")
    pytest.skip(_why, allow_module_level=True)

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


EPISODES = _load("sciworld_episodes.jsonl")
FAILURES = _load("sciworld_episodes_failures.jsonl")


@pytest.fixture(scope="module")
def engine():
    eng = Engine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def env(engine) -> SciWorldEnv:
    return SciWorldEnv(engine=engine)


class _Background:
    """Jobs that need their own fresh JVMs, run one after another in a thread beside the main replay.

    The main replay keeps one JVM busy for most of this module's time; these jobs use the other core.
    Each test then waits for its own job's result (an exception is re-raised there).
    """

    def __init__(self, jobs: dict[str, Callable[[], Any]]) -> None:
        self._results: dict[str, tuple[bool, Any]] = {}
        self._ready = {name: threading.Event() for name in jobs}
        self._thread = threading.Thread(target=self._run, args=(jobs,), daemon=True)
        self._thread.start()

    def _run(self, jobs: dict[str, Callable[[], Any]]) -> None:
        for name, job in jobs.items():
            try:
                self._results[name] = (True, job())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test that asks
                self._results[name] = (False, exc)
            self._ready[name].set()

    def result(self, name: str) -> Any:
        self._ready[name].wait()
        ok, value = self._results[name]
        if not ok:
            raise value
        return value


def _replay_failures() -> tuple[int, list[str], bool]:
    own = Engine()
    try:
        return _replay(SciWorldEnv(engine=own), FAILURES)
    finally:
        own.close()


def _generate_twice(folder: Path) -> list[tuple[bytes, bytes]]:
    config = GenerationConfig(n_tasks=(1, 1, 1), schedule=((0.5, 0.2),), max_steps=4)
    first = generate("sciworld", 0, folder / "a", config)
    second = generate("sciworld", 0, folder / "b", config)
    return [(first[split].read_bytes(), second[split].read_bytes()) for split in ("train", "val", "test")]


def _expert_on_unshipped_task(task: int = 4366) -> tuple[bool, bool, int]:
    """Play the expert on a task whose gold path is not shipped (computed on the env's own gold JVM)."""
    env = SciWorldEnv()
    try:
        env.reset(task)
        for _ in range(30):
            if env.step(expert_action(env)).done:
                break
        return env.is_success(), task in env._family.gold._computed, len(env.history)
    finally:
        env.engine.close()
        env._family.gold.close()


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> _Background:
    folder = tmp_path_factory.mktemp("sciworld-generate")
    return _Background({"failures": _replay_failures, "generate": lambda: _generate_twice(folder),
                        "checker": lambda: check_env(SciWorldEnv, n_tasks=1, max_steps=2),
                        "unshipped gold": _expert_on_unshipped_task})


_NUMBERED = re.compile(r"^\d+:\t")


def _same_up_to_order(got: Any, expected: Any) -> bool:
    """True when two responses differ at most in the order of their text's lines (numbers of an
    ambiguity prompt's choices aside): the JVM's listing order, which the recording cannot pin (spec §9)."""
    if isinstance(got, str) and isinstance(expected, str):
        return sorted(_NUMBERED.sub("", ln) for ln in got.split("\n")) == \
            sorted(_NUMBERED.sub("", ln) for ln in expected.split("\n"))
    if isinstance(got, dict) and isinstance(expected, dict):
        return list(got) == list(expected) and all(_same_up_to_order(got[k], expected[k]) for k in got)
    return type(got) is type(expected) and got == expected


def _replay(env: SciWorldEnv, episodes: list[dict]) -> tuple[int, list[str], bool]:
    """Replay recorded episodes in order on ``env``.

    Returns (responses compared, mismatches, whether every mismatch is only a listing-order difference).
    """
    bad: list[str] = []
    reordered = 0
    n = 0
    for ep in episodes:
        expected = ep["reset_response"]
        try:
            first = env.reset(ep["data_idx"])
            got = env.engine.last
            client = expected["task_description"] + "\n" + expected["observation"]
            if first != client:
                bad.append(f"{ep['data_idx']} reset: client observation differs")
                reordered += _same_up_to_order(first, client)
        except EnvError as exc:
            got = {"error": str(exc)}
        n += 1
        if got != expected or list(got) != list(expected):
            bad.append(f"{ep['data_idx']} reset: {got!r} != {expected!r}")
            reordered += _same_up_to_order(got, expected)
        for i, rec in enumerate(ep["steps"]):
            try:
                step = env.step(rec["action"])
                got = {"observation": step.observation, "reward": step.reward, "score": step.info["score"],
                       "done": step.done}
                if env.engine.last != got or list(env.engine.last) != list(rec["response"]):
                    bad.append(f"{ep['data_idx']} step {i}: env and server response disagree")
            except EnvError as exc:
                got = {"error": str(exc)}
            n += 1
            if got != rec["response"] or any(type(got[k]) is not type(v) for k, v in rec["response"].items()):
                bad.append(f"{ep['data_idx']} step {i} {rec['action']!r}: {got!r} != {rec['response']!r}")
                reordered += _same_up_to_order(got, rec["response"])
    return n, bad, reordered == len(bad)


def _replay_without_cyclic_gc(env: SciWorldEnv) -> tuple[int, list[str], bool]:
    gc.collect()
    gc.disable()
    try:
        return _replay(env, EPISODES)
    finally:
        gc.enable()


def test_fixtures_are_complete() -> None:
    assert (len(EPISODES), sum(len(e["steps"]) for e in EPISODES)) == (41, 668)
    assert (len(FAILURES), sum(len(e["steps"]) for e in FAILURES)) == (2, 7)
    assert len({games()[e["data_idx"]]["taskName"] for e in EPISODES if -N_GAMES <= e["data_idx"] < N_GAMES}) == 23


FRESH_JVMS = 4
"""How many fresh JVMs the golden replay may take. Up to one fresh JVM in four (6 of 23, idle or
loaded, in one hour on a 2-core machine; 0 of 12 in the next) lists episode 31's three wood cups in
another order at its reset, and nothing else differs; which JVM does is not predictable from its
thread start-up. A later attempt runs only when every mismatch is such a reordering, so a change in
our code fails at once."""


def test_replay_every_recorded_episode_exactly(env: SciWorldEnv, background: _Background) -> None:
    # Must run first on the module's fresh engine: the recording is one JVM's history (spec §9).
    # No cyclic garbage collection meanwhile: run from the background thread, it would finalize this
    # engine's py4j proxies there, and their "delete" command opens a second gateway connection when
    # this thread holds the first; the JVM's new connection thread shifts the identity-hash seeds that
    # order the jar's listings (suspected after one CI run; the reorders measured since, see FRESH_JVMS,
    # happen without it).
    n, mismatches, reordered = _replay_without_cyclic_gc(env)
    earlier: list[list[str]] = []
    while mismatches and len(earlier) < FRESH_JVMS - 1:
        assert reordered, f"not only listing order: {mismatches[:4]}"
        earlier.append(mismatches[:2])
        own = Engine()
        try:
            n, mismatches, reordered = _replay_without_cyclic_gc(SciWorldEnv(engine=own))
        finally:
            own.close()
    assert mismatches == [], f"{FRESH_JVMS} fresh JVMs differ; the earlier ones: {earlier}"
    assert n == 41 + 668


def test_only_a_listing_reordering_earns_another_fresh_jvm() -> None:
    room = {"observation": "In it, you see: \n\ta wood cup (containing blue paint)\n\ta wood cup (containing red paint)",
            "score": 0}
    assert _same_up_to_order({**room, "observation": "In it, you see: \n\ta wood cup (containing red paint)\n"
                                                     "\ta wood cup (containing blue paint)"}, room)
    assert not _same_up_to_order({**room, "observation": room["observation"].replace("blue", "red")}, room)
    assert not _same_up_to_order({**room, "score": 83}, room)
    assert not _same_up_to_order({"score": 0, "observation": room["observation"]}, room)   # key order matters
    ask = "Ambiguous request:\n0:\tconnect cup to blue paint\n1:\tconnect cup to red paint\n"
    assert _same_up_to_order(ask, "Ambiguous request:\n0:\tconnect cup to red paint\n1:\tconnect cup to blue paint\n")
    assert not _same_up_to_order(ask, ask.replace("red", "blue"))


def test_replay_failures_file_on_its_own_fresh_engine(background: _Background) -> None:
    n, mismatches, _ = background.result("failures")
    assert mismatches == [] and n == 2 + 7


def test_games_table_and_preamble() -> None:
    table = json.loads((Path(base.__file__).parents[2] / "data/envs/sciworld/task_table.json").read_text())
    rows = games()
    assert len(rows) == N_GAMES == table["num_games"]
    for task in table["tasks"]:
        if task["excluded"]:
            assert all(g["taskName"] != task["task_name"] for g in rows)
            continue
        first, last = task["first_data_idx"], task["last_data_idx"]
        assert rows[first] == {"taskName": task["task_name"], "variationIdx": 0}
        assert rows[last] == {"taskName": task["task_name"], "variationIdx": task["max_variations"] - 1}
    preamble = conversation_start()
    assert [m["from"] for m in preamble] == ["human", "gpt"]
    assert preamble[0]["value"].endswith("Thought:\nyour thoughts.\n\nAction:\nyour next action")


def test_bad_input_gives_the_original_behaviour(env: SciWorldEnv) -> None:
    fresh = SciWorldEnv(engine=env.engine)
    with pytest.raises(EnvError, match="reset"):
        fresh.step("look around")
    for task in (N_GAMES, -N_GAMES - 1, 10**9):
        with pytest.raises(EnvError) as err:
            env.reset(task)
        assert str(err.value) == "list index out of range"
    with pytest.raises(EnvError) as err:
        env.reset("5")  # type: ignore[arg-type]
    assert str(err.value) == "list indices must be integers or slices, not str"
    first = env.reset(-N_GAMES)  # Python indexing: games[-4639] is data_idx 0
    assert env.task == 0 and first.startswith("Your task is to boil water.")
    with pytest.raises(EnvError):
        env.reset(N_GAMES)
    assert env.task == 0  # a failed reset keeps the episode
    for action in ("", "fly to the moon", "0", "pick up"):
        step = env.step(action)
        assert (step.observation, step.reward, step.done, step.info) == (
            "No known action matches that input.", 0, False, {"score": 0})
    with pytest.raises(EnvError, match="must be a string"):
        env.step(None)  # type: ignore[arg-type]
    with pytest.raises(EnvError, match="not UTF-8 text: surrogates not allowed at position 5"):
        env.step("look \ud800 around")  # refused before the gateway (which would log a traceback)
    assert env.step("look around").observation.startswith("This room is called the hallway.")  # still connected
    assert env.step("  LOOK AROUND ").observation.startswith("This room is called the hallway.")
    env.reset(2938)  # find-living-thing var 2: the reset already scores 8 (spec §4)
    step = env.step("focus on air")  # a wrong focus fails the task
    assert (step.reward, step.done, step.info["score"]) == (-108, True, -100) and not env.is_success()
    assert env.available_actions() == []
    with pytest.raises(EnvError) as err:
        env.step("look around")
    assert str(err.value) == "The task with environment 0 has finished."
    assert env.reset(0) == first and not env.step("look around").done  # reset clears the finished flag


def test_missing_java_is_one_line_from_the_cli(tmp_path: Path) -> None:
    # In a child process with no java on PATH (patching shutil here would race the background thread).
    run = subprocess.run([sys.executable, "-m", "patchworld.cli", "generate", "--env", "sciworld", "--seed", "0",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PATH": str(tmp_path)})
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "patchworld generate: SciWorld needs a Java runtime on PATH (Java 17 recorded; Debian: "
        "apt-get install openjdk-17-jre-headless)"]


def test_expert_solves_with_monotone_progress(env: SciWorldEnv) -> None:
    for task in (4428, 2947, 1437):  # lifespan, find-living-thing, test-conductivity (shipped gold paths)
        observation = env.reset(task)
        previous = env.progress(task, observation)
        assert previous == env.score / 100
        for _ in range(60):
            step = env.step(expert_action(env))
            score = env.progress(task, step.observation)
            assert 0.0 <= score <= 1.0 and score >= previous, (task, step.observation)
            assert score == max(0, step.info["score"]) / 100 or score == previous
            previous = score
            if step.done:
                break
        assert env.is_success() and step.done and previous == 1.0
        assert env.progress(task, "an observation this env never returned") == 0.0


def test_expert_computes_a_missing_gold_path_on_its_own_engine(background: _Background) -> None:
    assert 4366 not in shipped_gold_paths()
    success, computed, steps = background.result("unshipped gold")
    assert success and computed and steps > 0


def test_progress_is_monotone_along_recorded_gold_paths() -> None:
    # Scores of the recorded gold episodes (original wrapper) never drop before success.
    for ep in EPISODES:
        if not ep["note"].split(": ", 1)[-1].startswith("gold path"):
            continue
        scores = [ep["reset_response"]["score"]] + [s["response"]["score"] for s in ep["steps"]
                                                     if "score" in s["response"]]
        assert scores == sorted(scores), ep["note"]


def test_available_actions_come_from_the_text_shown(env: SciWorldEnv) -> None:
    first = env.reset(4136)  # chemistry-mix: starts in a room full of objects
    shown = [first]
    for action in ("open door to hallway", "go to hallway", "look around", "inventory"):
        actions = env.available_actions()
        assert actions[:4] == ["look around", "inventory", "task", "wait1"] and len(actions) == len(set(actions))
        rooms, objects = set(), set()
        for text in shown:
            r, o = seen_names(text)
            rooms |= set(r)
            objects |= set(o)
        for a in actions[4:]:
            name = a.removeprefix("go to ").removeprefix("open door to ")
            name = name.split(" ", 2)[-1] if name == a else name
            assert any(name in text for text in shown), a  # only names the agent was shown
        assert {f"go to {r}" for r in rooms} <= set(actions)
        assert {f"look at {o}" for o in objects} <= set(actions)
        shown.append(env.step(action).observation)
    for action in env.available_actions()[:6]:
        step = env.clone().step(action)  # accepted by step; the clone leaves env alone
        assert isinstance(step.observation, str) and step.observation
    assert seen_names("This room is called the kitchen. In it, you see: \n\ta counter. On the counter is: a bowl "
                      "(containing a red apple, a banana), a drawer.\n\ta substance called air\nYou also see:\n"
                      "\tA door to the hallway (that is open)") == (
        ["hallway"], ["counter", "bowl", "red apple", "banana", "drawer", "air"])


def test_clone_is_independent_and_leaves_the_engine_alone(env: SciWorldEnv) -> None:
    env.reset(2947)
    env.step("open door to hallway")
    state = env.engine.state
    twin = env.clone()
    moved = twin.step("go to hallway")
    assert moved.observation == "You move to the hallway."
    reached = max(0, moved.info["score"]) / 100
    assert twin.step("look around").observation.startswith("This room is called the hallway.")
    assert env.engine.state == state and env.history == ("open door to hallway",)
    assert twin.engine is not env.engine
    assert env.step("open door to hallway").observation == "The door is already open."
    assert twin.clone().step("open door to greenhouse").observation == "The door is now open."
    assert twin.history == ("open door to hallway", "go to hallway", "look around")
    # the family's progress cache: the original reads a clone's observation at the clone's score
    assert (2947, "You move to the hallway.") in env._family.seen
    assert env.progress(2947, "You move to the hallway.") == twin.progress(2947, "You move to the hallway.") >= reached


def test_goal_score_reads_text_only() -> None:
    goal = "Your task is to find a(n) living thing. First, focus on the thing. Then, move it to the red box.\nThis"
    assert goal_score(goal, "No known action matches that input.") == 0.0
    assert goal_score(goal, "You focus on the thing.") == 0.5
    assert goal_score(goal, "You focus on the orange.") == 0.0
    assert 0.0 < goal_score(goal, "You move the frog to the red box.") <= 0.25
    assert SciWorldEnv.goal_score is not None and base.goal_scorer("sciworld") is SciWorldEnv.goal_score


def test_registered_with_description() -> None:
    entry = base.spec("sciworld")
    assert entry.factory is SciWorldEnv and entry.expert is expert_action
    assert "focus on" in entry.description and len(entry.description) > 300
    assert SciWorldEnv().name == "sciworld" and list(SciWorldEnv().tasks) == list(range(N_GAMES))


def test_shipped_datasets_have_disjoint_tasks_and_sizes() -> None:
    folder = Path(base.__file__).parents[2] / "data" / "trajectories" / "sciworld"
    tasks = {}
    for split in ("train", "val", "test"):
        trajectories = load_trajectories(folder / f"sciworld_traj_{split}.jsonl")
        tasks[split] = {t.task_idx for t in trajectories}
        assert 300 <= sum(len(t.transitions) for t in trajectories) <= 3000
        assert any(t.success for t in trajectories) and not all(t.success for t in trajectories)
        for t in trajectories:
            assert t.transitions[0].observation.startswith("Your task is")
            assert t.total_reward == sum(x.reward for x in t.transitions) and all(type(x.reward) is int for x in t.transitions)
            assert t.transitions[-1].done or not t.success  # success (score 100) always ends the episode
    assert not (tasks["train"] & tasks["val"] or tasks["train"] & tasks["test"] or tasks["val"] & tasks["test"])


@pytest.mark.slow
def test_generate_is_byte_identical_for_a_seed(background: _Background) -> None:
    # generate builds a fresh env (fresh JVM) per call and plays tasks in a fixed order: same seed, same bytes.
    outputs = background.result("generate")
    assert all(first == second and first.count(b"\n") >= 1 for first, second in outputs)


@pytest.mark.slow
def test_contract_checker_passes(background: _Background) -> None:
    assert background.result("checker") == []
