"""Fault localisation: spectrum formulas, traceback frames, mutant evidence, every function ranked."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from patchworld.localise import (
    SUSPICION_CEILING,
    function_spans,
    localise,
    mutant_score,
    ochiai,
    tarantula,
)
from patchworld.suspicion import line_suspicion, recorded_suspicion

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''\
def helper(x):
    return x + 1


def parse_observation(text):
    if text.startswith("a"):
        return helper(1)
    return 0


def predict_belief(b, a):
    return b
'''


def _steps(exact: list[bool], errors: list[str] | None = None) -> pl.DataFrame:
    n = len(exact)
    return pl.DataFrame({"id": [f"t#{i}" for i in range(n)], "exact": exact,
                         "error": errors or [""] * n, "predicted": ["p"] * n})


def test_formulas_on_a_known_spectrum():
    assert ochiai(2, 0, 2, 3) == pytest.approx(1.0)
    assert ochiai(1, 1, 2, 3) == pytest.approx(1 / (2 ** 0.5 * 2 ** 0.5))
    assert ochiai(0, 3, 2, 3) == 0.0
    assert tarantula(2, 0, 2, 3) == pytest.approx(1.0)
    assert tarantula(1, 3, 2, 3) == pytest.approx(0.5 / 1.5)


def test_line_run_only_by_failing_rows_ranks_first():
    # rows 0-1 fail and ran lines 6-7 (the branch); rows 2-3 pass and ran 6, 8; every row ran 12
    lines = [[6, 7, 2, 12], [6, 7, 2, 12], [6, 8, 12], [6, 8, 12]]
    s = localise(SOURCE, _steps([False, False, True, True]), lines)
    assert s.method == "coverage"
    assert s.lines[7] == pytest.approx(1.0) and s.lines[2] == pytest.approx(1.0)
    assert s.lines[8] == 0.0
    assert s.lines[6] < s.lines[7]
    assert {"helper", "parse_observation", "predict_belief"} <= set(s.functions)
    assert s.ranked_functions()[0][0] == "parse_observation"   # tie with helper broken upstream-first
    assert s.functions["predict_belief"] < s.functions["parse_observation"]


def test_traceback_frames_without_coverage():
    tb = ('Traceback (most recent call last):\n  File "<program>", line 12, in predict_belief\n'
          '  File "<program>", line 7, in parse_observation\n  File "<program>", line 2, in helper\n'
          "ZeroDivisionError: x")
    s = localise(SOURCE, _steps([False, True, False], [tb, "", tb]))
    assert s.method == "tracebacks"
    assert s.ranked_functions()[0][0] == "helper"           # the innermost frame
    assert s.lines[2] > s.lines[7] > s.lines[8]               # crash site, then its caller, then the rest
    assert all(v > 0 for v in s.functions.values())          # every function stays searchable


def test_mutant_evidence_fix_beats_change_beats_nothing():
    parent = {"a": (False, "x"), "b": (False, "y"), "c": (True, "z")}
    ids = ["a", "b", "c"]
    fixes = mutant_score(parent, ids, ["A", "y", "z"], [True, False, True])
    changes = mutant_score(parent, ids, ["q", "y", "z"], [False, False, True])
    breaks = mutant_score(parent, ids, ["x", "y", "w"], [False, False, False])
    nothing = mutant_score(parent, ids, ["x", "y", "z"], [False, False, True])
    assert fixes > changes > breaks == nothing == 0.0
    s = localise(SOURCE, _steps([False, True]), [[7], [8]], mutants={8: 0.0, 7: fixes})
    assert s.method == "coverage+mutants" and s.lines[7] > s.lines[8]


def test_probe_evidence_raises_only_its_own_lines_in_the_blends_order():
    """Critical probes without mutant evidence lift their lines by the blend's margin and leave every other
    line's score alone (the blend would compress them all); with mutant evidence they count as more of it."""
    steps, ran = _steps([False, False, True, True]), [[6, 7], [6, 8], [6, 8], [6]]
    plain = localise(SOURCE, steps, ran)
    lifted = localise(SOURCE, steps, ran, critical={6: 0.9})
    blended = localise(SOURCE, steps, ran, mutants={6: 0.9})
    assert lifted.method == "coverage+probes" and blended.method == "coverage+mutants"
    assert lifted.lines[6] > plain.lines[6]
    assert {k: v for k, v in lifted.lines.items() if k != 6} == {k: v for k, v in plain.lines.items() if k != 6}
    assert sorted(lifted.lines, key=lambda k: (-lifted.lines[k], k)) == sorted(blended.lines,
                                                                            key=lambda k: (-blended.lines[k], k))
    both = localise(SOURCE, steps, ran, mutants={7: 0.0}, critical={6: 0.9})
    assert both.lines == localise(SOURCE, steps, ran, mutants={7: 0.0, 6: 0.9}).lines


def test_a_probe_lifts_its_line_above_lines_the_spectrum_already_scores_one():
    """Lines 7 and 8 run only on the failing row (both 1.0): the probe's line 7 must rank above 8, as the
    blend ranks them, not tie with it at a cap; no line goes past the ceiling."""
    steps, ran = _steps([False, True]), [[6, 7, 8], [6]]
    assert localise(SOURCE, steps, ran).lines[7] == localise(SOURCE, steps, ran).lines[8] == 1.0
    lifted = localise(SOURCE, steps, ran, critical={7: 1.0})
    blended = localise(SOURCE, steps, ran, mutants={7: 1.0})
    assert lifted.lines[7] > lifted.lines[8] == 1.0
    assert lifted.lines[7] <= SUSPICION_CEILING and lifted.ranked_functions()[0][0] == "parse_observation"
    assert sorted(lifted.lines, key=lambda k: (-lifted.lines[k], k)) == sorted(blended.lines,
                                                                            key=lambda k: (-blended.lines[k], k))


def test_line_suspicion_of_a_real_traced_replay():
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.replay import replay

    source = (ROOT / "data/programs/handwritten/maze.py").read_text(encoding="utf-8")
    broken = source.replace("new[\"position\"] = (pos[0] + delta[0], pos[1] + delta[1])",
                            "new[\"position\"] = (pos[0] - delta[0], pos[1] + delta[1])")
    assert broken != source
    val = load_trajectories(ROOT / "data/trajectories/maze/maze_traj_val.jsonl")[:8]
    rep = replay(Program(broken), val, lean=True, trace_lines=True)
    scores = line_suspicion(broken, rep)
    spans = function_spans(broken)
    assert set(scores) and all(0.0 <= v <= 1.0 for v in scores.values())
    line = next(i for i, t in enumerate(broken.splitlines(), 1) if "pos[0] - delta[0]" in t)
    assert scores[line] >= max(scores.values()) - 1e-9             # the planted line is among the top
    assert all(any(a <= ln <= b for ln in scores) for a, b in spans["readout_observation"])


def test_recorded_suspicion_reads_the_round_and_parent_asked_for():
    rounds = [{"round": 0}, {"round": 1, "suspicion": {"abc": {"method": "coverage", "lines": {"2": 0.5, "7": 1.0},
                                                               "functions": {}}}}]
    assert recorded_suspicion(rounds, 1, "abc") == {2: 0.5, 7: 1.0}
    assert recorded_suspicion(rounds, 1, "other") is None and recorded_suspicion(rounds, 0, "abc") is None


CRASHING = '''\
from patchworld.worldmodel_base import BaseWorldModel


def article(name):
    return ("an " if name[:1] in "aeiou" else "a ") - name


class M(BaseWorldModel):
    def parse_observation(self, obs_text):
        return {"text": obs_text}

    def init_belief(self):
        return {"last": ""}

    def correct_belief(self, belief, obs_text):
        return {"last": obs_text}

    def predict_belief(self, belief, action):
        if action.startswith("take "):
            return {"last": "You take " + article(action[5:]) + "."}
        return {"last": belief["last"]}

    def readout_observation(self, belief, action=""):
        return belief["last"]
'''


@pytest.mark.parametrize("sandbox", [True, False])
def test_frames_of_errors_as_replay_records_them(sandbox: bool):
    """Localisation and the mutation proposer read the frames of the error texts replay really writes
    (the sandbox's compact format), not only Python's own traceback format."""
    import ast

    from patchworld.data import Trajectory, Transition
    from patchworld.localise import program_frames
    from patchworld.program import Program
    from patchworld.proposers.mutation_evidence import function_weights
    from patchworld.replay import replay

    steps = (Transition("start", "take apple", "You take an apple.", 0.0, False),
             Transition("You take an apple.", "wait", "You take an apple.", 0.0, False))
    traj = Trajectory("toy", "0", 0, 0, "val", False, 0.0, steps)
    result = replay(Program(CRASHING), [traj], sandbox=sandbox, trace_lines=True)
    error = result.steps["error"].to_list()[0]
    assert result.steps["error_kind"].to_list()[0] == "exception" and "TypeError" in error
    spans = function_spans(CRASHING)
    assert program_frames(error, spans) == [("predict_belief", 20), ("article", 5)]   # outermost first
    assert program_frames("line 5, in article: x\nline 99, in article: y", spans) == [("article", 5)]  # in span only
    suspicion = localise(CRASHING, result.steps, result.lines)
    assert suspicion.lines[5] > 0.5 + 0.5 * 0.5      # the crash site gains the traceback's share on top of Ochiai
    weights, hot = function_weights(ast.parse(CRASHING), result.counterexamples())
    assert hot == {5} and weights["article"] == 1.0 == max(weights.values())   # the crash site s function first


def test_function_spans_are_parsed_once_but_each_caller_gets_its_own_dict():
    source = "def f(x):\n    return x\n\n\ndef g():\n    pass\n"
    first = function_spans(source)
    assert first == {"f": [(1, 2)], "g": [(5, 6)]}
    first["f"].append((9, 9))      # a caller's change must not leak into the next caller's spans
    first["h"] = [(1, 1)]
    assert function_spans(source) == {"f": [(1, 2)], "g": [(5, 6)]}
