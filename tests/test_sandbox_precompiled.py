"""Programs compiled once in the parent for several jobs (patchworld.sandbox.precompiled): the job
processes run the code the parent compiled, tracebacks keep the program's lines, and a program that
does not compile is still reported by the job with its line."""

from __future__ import annotations

import pytest

from patchworld.data import Trajectory, Transition
from patchworld.program import Program, compile_program
from patchworld.replay import replay
from patchworld.sandbox import Limits, precompiled, run_job

_MODEL = ("class M:\n    def init_belief(self): return 0\n    def correct_belief(self, b, o): return b\n"
          "    def predict_belief(self, b, a): return b\n"
          "    def readout_observation(self, b, a=''): return {text!r}\n")
SAYS_A = Program(source=_MODEL.format(text="A"))
SAYS_B = Program(source=_MODEL.format(text="B"))
RAISES = Program(source="class M:\n    def init_belief(self): return 0\n    def correct_belief(self, b, o): return b\n"
                        "    def predict_belief(self, b, a): return b\n"
                        "    def readout_observation(self, b, a=''):\n"
                        "        return {}['missing key']  # the failing line\n")
BROKEN = Program(source="class M:\n    def init_belief(self):\n        return (\n")


def _trajs(n: int = 4) -> list[list]:
    return [[k, [["o", "a", "A"]] * 3] for k in range(n)]


def _predictions(result) -> set[str]:
    return {p for cols in result.columns.values() for p in cols[0]}


def test_a_sharded_job_runs_the_code_the_parent_compiled(monkeypatch) -> None:
    # the parent is trusted: make its compiler answer with another program's code, to see which code ran
    monkeypatch.setattr(precompiled, "_CACHE", type(precompiled._CACHE)())
    monkeypatch.setattr(precompiled, "compile_program", lambda source: compile_program(SAYS_B.source))
    result = run_job(SAYS_A, _trajs(), "teacher", limits=Limits(wall_seconds=60), shards=2)
    assert result.outcome == "ok" and _predictions(result) == {"B"}
    assert precompiled.code_field(SAYS_A.source)


def test_a_job_without_precompiled_code_compiles_its_source(monkeypatch) -> None:
    monkeypatch.setattr(precompiled, "_CACHE", type(precompiled._CACHE)())
    result = run_job(SAYS_A, _trajs(), "teacher", limits=Limits(wall_seconds=60), shards=1)
    assert result.outcome == "ok" and _predictions(result) == {"A"}
    assert precompiled.code_field(SAYS_A.source) == {}


def test_tracebacks_of_precompiled_code_show_the_program_line(monkeypatch) -> None:
    monkeypatch.setattr(precompiled, "_CACHE", type(precompiled._CACHE)())
    result = run_job(RAISES, _trajs(), "teacher", limits=Limits(wall_seconds=60), shards=2)
    errors = {e for cols in result.columns.values() for e in cols[2]}
    assert precompiled.code_field(RAISES.source)
    assert errors and all("line 6" in e and "missing key" in e for e in errors), errors


def test_a_program_that_does_not_compile_is_reported_by_its_jobs(monkeypatch) -> None:
    monkeypatch.setattr(precompiled, "_CACHE", type(precompiled._CACHE)())
    trajs = [Trajectory("toy", k, k, 0, "val", True, 0.0, (Transition("o", "a", "A", 0.0, False),) * 2)
             for k in range(3)]
    result = replay(BROKEN, trajs, isolate=True)
    assert precompiled.code_field(BROKEN.source) == {}
    assert result.outcome == "load_error" and "line 3" in result.detail


def test_long_sources_are_left_to_the_job_process(monkeypatch) -> None:
    monkeypatch.setattr(precompiled, "_CACHE", type(precompiled._CACHE)())
    long = Program(source=SAYS_A.source + "#" * precompiled.MAX_SOURCE + "\n")
    precompiled.precompile(long.source)
    assert precompiled.code_field(long.source) == {}
    assert _predictions(run_job(long, _trajs(2), "teacher", shards=2)) == {"A"}


@pytest.mark.parametrize("job", [{}, {"code": 3}, {"code": "not base64!"}, {"code": "AAAA"}])
def test_an_unreadable_code_field_means_compile_the_source(job) -> None:
    assert precompiled.code_of(job) is None
