"""The hostile-program corpus: every program yields its typed outcome and this process survives."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from patchworld.data import Trajectory, Transition
from patchworld.program import Program, ProgramLoadError
from patchworld.replay import replay
from patchworld.sandbox import Limits, ModelCallError, clean_environment, open_model, use_fork_server

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = Limits(cpu_seconds=4, memory_mb=200, wall_seconds=4, step_seconds=0.5, output_bytes=100_000,
                max_step_timeouts=2)


# the wall clock alone must stop the swallowing loop; the C-stack overflow and the memory bomb get no
# per-call alarm and a generous wall clock, so a loaded machine changes how long they take, not their outcome
SLOW = {"loop_swallows_timeout": {"step_seconds": 0},
        "segfault": {"step_seconds": 0, "wall_seconds": 120, "cpu_seconds": 120},
        "memory_bomb": {"step_seconds": 0, "wall_seconds": 120, "cpu_seconds": 120}}


def _trajs() -> list[Trajectory]:
    def traj(i: int) -> Trajectory:
        ts = tuple(Transition(f"obs {i}.{s}", "noop", f"obs {i}.{s + 1}", 0.0, False) for s in range(3))
        return Trajectory("toy", str(i), i, 0, "train", False, 0.0, ts)

    return [traj(0), traj(1)]


def _run(name: str, **kw):
    limits = dataclasses.replace(LIMITS, **SLOW.get(name, {}))
    return replay(Program.from_file(HOSTILE / f"{name}.py"), _trajs(), limits=limits, **kw)


# name -> (job outcome, an error kind some row must have, text the detail/error must contain)
CASES = {
    "loop_init_belief": ("timeout", "step_timeout", "step timeouts"),
    "loop_correct_belief": ("timeout", "step_timeout", "step timeouts"),
    "loop_predict_belief": ("timeout", "step_timeout", "step timeouts"),
    "loop_readout_observation": ("timeout", "step_timeout", "step timeouts"),
    "loop_swallows_timeout": ("timeout", "timeout", "wall-clock"),
    "memory_bomb": ("memory", "memory", "MemoryError"),
    "deep_recursion": ("ok", "exception", "RecursionError"),
    "sys_exit": ("ok", "exception", "SystemExit"),
    "os_exit": ("crashed", "crashed", "exited with code 0"),
    "segfault": ("crashed", "crashed", "SIGSEGV"),
    "fork": ("ok", "exception", "os.fork is not allowed"),
    "kill_parent": ("ok", "exception", "os.kill is not allowed"),
    "print_flood": ("output_limit", "output_limit", "exceeded"),
    "syntax_error": ("load_error", "load_error", "line 4"),
    "no_class": ("load_error", "load_error", "no world-model class"),
    "two_classes": ("load_error", "load_error", "Model, OtherModel"),
    "missing_import": ("load_error", "load_error", "numpy_that_does_not_exist"),
    "module_loop": ("load_error", "load_error", "loading took longer"),
    "forge_huge_header": ("protocol_error", "protocol_error", "announced"),
    "forge_deep_json": ("protocol_error", "protocol_error", "deeper"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_program_gets_its_outcome(name: str) -> None:
    outcome, kind, text = CASES[name]
    result = _run(name)
    assert result.outcome == outcome, (result.outcome, result.detail)
    assert result.steps.height == 6  # one row per transition, always
    kinds = set(result.steps["error_kind"].to_list())
    assert kind in kinds, kinds
    messages = result.detail + " ".join(result.steps["error"].to_list())
    assert text in messages, messages[:500]
    assert not result.steps["exact"].any()


def test_secrets_do_not_reach_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-123")
    monkeypatch.setenv("PATCHWORLD_LLM_TOKEN", "tok-fake")
    monkeypatch.setenv("MY_SECRET", "shh")
    assert "OPENAI_API_KEY" not in clean_environment()
    result = _run("read_api_key")
    assert result.outcome == "ok", result.detail
    predicted = result.steps["predicted"].to_list()
    assert predicted[0].startswith("ENV: VALUE:- PARENT:blocked"), predicted[0]
    assert not any("sk-fake" in p or "LEAK" in p or "tok-fake" in p for p in predicted)


def test_in_process_mode_matches_sandbox_on_a_good_program() -> None:
    program = Program.from_file(HOSTILE / "good_maze.py")
    trajs = [Trajectory("maze", "0", 0, 0, "train", True, 1.0, (
        Transition("The goal is at position 3, 1. Your current position is at position 1, 1. There is a wall above you.",
                   "move down", "The goal is at position 3, 1. Your current position is at position 2, 1.", 0.0, False),
        Transition("The goal is at position 3, 1. Your current position is at position 2, 1.",
                   "move down", "Success", 1.0, True),
    ))]
    boxed = replay(program, trajs, sandbox=True, limits=LIMITS)
    local = replay(program, trajs, sandbox=False)
    assert boxed.outcome == local.outcome == "ok"
    assert boxed.steps["predicted"].to_list() == local.steps["predicted"].to_list()
    assert boxed.steps["exact"].to_list() == [True, True]


def test_model_client_holds_beliefs_by_handle() -> None:
    program = Program.from_file(HOSTILE / "good_maze.py")
    first = "The goal is at position 3, 1. Your current position is at position 1, 1."
    for sandbox in (True, False):
        with open_model(program, sandbox=sandbox, limits=LIMITS) as model:
            h = model.init(first)
            down = model.predict(h, "move down")
            right = model.predict(h, "move right")  # the same handle again: beliefs are copied
            assert down.observation.endswith("position 2, 1.")
            assert right.observation.endswith("position 1, 2."), right
            assert down.handle != right.handle and down.error_kind == ""
            h2 = model.correct(down.handle, "The goal is at position 3, 1. Your current position is at position 2, 1.")
            assert model.predict(h2, "move down").observation == "Success"
            assert "move up" in model.action_forms()
            assert "GraphState" in model.summary(h2) and len(model.summary(h2)) <= 200
            model.release([h, h2])
            assert model.predict(h, "move up").error_kind == "handle"


def test_model_client_hostile_calls_are_typed() -> None:
    with open_model(Program.from_file(HOSTILE / "loop_action_forms.py"), limits=LIMITS) as model:
        with pytest.raises(ModelCallError) as info:
            model.action_forms()
        assert info.value.kind == "step_timeout"
        assert model.init("hello") > 0  # still usable after a timed-out call
    with open_model(Program.from_file(HOSTILE / "loop_parse_observation.py"), limits=LIMITS) as model:
        with pytest.raises(ModelCallError):
            model.parse("x")
    with open_model(Program.from_file(HOSTILE / "os_exit.py"), limits=LIMITS) as model:
        h = model.init("hello")
        assert model.predict(h, "noop").error_kind == "crashed"
        with pytest.raises(ModelCallError):
            model.init("again")
    with pytest.raises(ProgramLoadError, match="line 4"):
        open_model(Program.from_file(HOSTILE / "syntax_error.py"), limits=LIMITS)
    assert os.getpid() > 0  # still here


@pytest.mark.parametrize("name", ["os_exit", "memory_bomb", "loop_predict_belief", "print_flood", "missing_import"])
def test_spawned_worker_fallback_gives_the_same_outcomes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-123")
    use_fork_server(False)
    try:
        result = _run(name)
        secret = _run("read_api_key")
    finally:
        use_fork_server(True)
    assert result.outcome == CASES[name][0], result.detail
    assert CASES[name][1] in set(result.steps["error_kind"].to_list())
    assert secret.outcome == "ok" and not any("sk-fake" in p for p in secret.steps["predicted"].to_list())


def test_model_client_reports_reward_and_done_when_the_program_predicts_them() -> None:
    source = (HOSTILE / "good_maze.py").read_text() + '''
    def predict_reward_done(self, belief, action):
        return (1.0, True) if self.predict_observation(belief, action) == "Success" else (0.0, False)
'''
    with open_model(Program.from_source(source), limits=LIMITS) as model:
        h = model.init("The goal is at position 2, 1. Your current position is at position 1, 1.")
        win, lose = model.predict(h, "move down"), model.predict(h, "move right")
    assert (win.observation, win.reward, win.done) == ("Success", 1.0, True)
    assert (lose.reward, lose.done) == (0.0, False)
    with open_model(Program.from_file(HOSTILE / "good_maze.py"), sandbox=False) as model:
        p = model.predict(model.init("The goal is at position 2, 1. Your current position is at position 1, 1."), "move up")
    assert p.reward is None and p.done is None


def _counting(n: int, start: int = 0) -> list[Trajectory]:
    ts = tuple(Transition(f"n {start + s}", "inc", f"n {start + s + 1}", 0.0, False) for s in range(n))
    return [Trajectory("toy", str(start), start, 0, "val", False, 0.0, ts)]


COUNT = '''
import time

class Count:
    def init_belief(self):
        return 0
    def correct_belief(self, belief, obs):
        return int(obs.split()[1])
    def predict_belief(self, belief, action):
        time.sleep(DELAY)
        if belief == HANG:
            while True:
                pass
        return belief + 1
    def readout_observation(self, belief, action=""):
        return f"n {belief}"
'''


def test_many_quick_calls_do_not_add_up_to_a_step_timeout() -> None:
    # 400 calls of 5 ms: 2 s in all, twice one step_seconds of 1 s, each with a 200-fold margin (a loaded
    # machine may stretch one call, not by that much)
    limits = dataclasses.replace(LIMITS, step_seconds=1.0, wall_seconds=60, cpu_seconds=60)
    program = Program.from_source(COUNT.replace("DELAY", "0.005").replace("HANG", "-1"))
    result = replay(program, _counting(400), limits=limits)
    assert result.outcome == "ok", result.detail
    assert result.steps["exact"].all()
    # ... and a call that hangs after many quick ones still times out at its own deadline
    program = Program.from_source(COUNT.replace("DELAY", "0.001").replace("HANG", "300"))
    result = replay(program, _counting(400), limits=dataclasses.replace(limits, max_step_timeouts=1))
    assert result.outcome == "timeout", result.detail
    kinds = result.steps["error_kind"].to_list()
    assert kinds[:300] == [""] * 300 and kinds[300] == "step_timeout", kinds[298:302]


def test_replays_of_different_trajectories_never_mix() -> None:
    # the pre-forked worker holds the latest replay's trajectories: alternate lists and check each frame
    program = Program.from_source(COUNT.replace("DELAY", "0").replace("HANG", "-1"))
    first, second = _counting(5, 0), _counting(7, 100)
    for trajs in (first, second, second, first, list(first), second):
        boxed = replay(program, trajs, limits=LIMITS)
        local = replay(program, trajs, sandbox=False)
        assert boxed.outcome == "ok", boxed.detail
        assert boxed.steps.equals(local.steps) and boxed.metrics == local.metrics
    with open_model(program, limits=LIMITS) as model:  # a session after replays: no trajectories needed
        assert model.predict(model.init("n 41"), "inc").observation == "n 42"


def test_frames_from_workers_are_decoded_defensively() -> None:
    from patchworld.sandbox.wire import ProtocolError, decode

    assert decode(b'["rows", ["[[[[ not nesting", "\\\\\\"]]]]"], [[1, 2]]]', 4)[1][0] == "[[[[ not nesting"
    for bad in (b"[" * 100_000 + b"]" * 100_000, b'{"a": [1,', b"\xff\xfe", b"[[[[[1]]]]]", b'[{"a": [{"b": [1]}]}]'):
        with pytest.raises(ProtocolError):
            decode(bad, 4)   # the last: five levels alternating objects and lists (once counted as three)
    assert decode(b'{"a": [{"b": [1]}]}', 4) == {"a": [{"b": [1]}]}


def test_a_job_sharded_over_two_workers_gives_the_same_frame() -> None:
    program = Program.from_source(COUNT.replace("DELAY", "0").replace("HANG", "-1"))
    trajs = _counting(7, 0) + _counting(3, 100) + _counting(5, 200)
    one = replay(program, trajs, limits=LIMITS, shards=1)
    two = replay(program, trajs, limits=LIMITS, shards=2)
    assert one.outcome == two.outcome == "ok", two.detail
    assert one.steps.equals(two.steps) and one.metrics == two.metrics
    hang = Program.from_source(COUNT.replace("DELAY", "0").replace("HANG", "202"))
    failed = replay(hang, trajs, limits=dataclasses.replace(LIMITS, max_step_timeouts=1), shards=2)
    assert failed.outcome == "timeout" and failed.steps.height == 15
    kinds = failed.steps["error_kind"].to_list()
    assert kinds[:7] == [""] * 7 and "step_timeout" in kinds[10:]  # the other shard's rows are intact


def test_sharding_discounts_this_process_trees_own_load() -> None:
    """A session's own recent work is in the load average too; it must not stop sharding on a machine
    nobody else uses, while someone else's busy core still does."""
    import math

    from patchworld.sandbox.cores import _OwnLoad, spare_core

    own = _OwnLoad()
    assert own.update(0.0, 0.0) == 0.0                       # no history: nothing of ours yet
    for second in range(1, 61):                              # one core busy for a minute
        value = own.update(float(second), float(second))
    assert value == pytest.approx(1 - math.exp(-1), rel=1e-6)  # what the kernel's 1-minute average shows
    assert own.update(120.0, 60.0) == pytest.approx(value * math.exp(-1), rel=1e-6)   # then idle: decays
    assert spare_core(load=0.63, own=0.63, cores=2)           # only we were busy: shard
    assert not spare_core(load=1.63, own=0.63, cores=2)       # someone else holds a core
    assert not spare_core(load=0.0, own=0.0, cores=1)         # one core: never
    assert spare_core(load=2.2, own=0.1, cores=4)


def test_a_screening_batch_counts_as_a_running_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a batch screens children, a replay started beside it is not sharded (both would want the cores)."""
    from patchworld.sandbox import batch, job

    seen = []
    monkeypatch.setattr(batch, "_run_batch", lambda *a: seen.append(job._ACTIVE[0]) or "done")
    assert batch.run_batch([Program.from_source("x = 1")], []) == "done"
    assert seen == [1] and job._ACTIVE[0] == 0
