"""The reference's post-correction readout (opt-in) and the residual answer when predict_belief raises.

Expectations are computed by hand from the reference evaluator's loop (``compute_observation_fit``:
predict, readout, then ``correct_belief(b', o_true)`` and a readout of the corrected belief) and its
residual wrapper (``predict_belief`` swallows the exception; the memorised text is read out).
"""

from __future__ import annotations

import pytest

from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.replay import STEP_SCHEMA, replay
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import MAX_TEXT
from patchworld.sandbox.lockstep import Lockstep

PROGRAM = '''
import re

class Counter:
    def init_belief(self):
        return -1
    def correct_belief(self, belief, obs):
        if "bad" in obs:
            raise RuntimeError("cannot correct")
        m = re.search(r"count (\\d+)", obs)
        return int(m.group(1)) if m else belief
    def predict_belief(self, belief, action):
        if action == "boom":
            raise ValueError("boom!")
        return belief + 1
    def readout_observation(self, belief, action=""):
        if action == "glitch":
            raise KeyError("no readout")
        return f"count {belief}"
'''


def _traj(i: int, rows: list[tuple[str, str, str]], split: str = "test") -> Trajectory:
    return Trajectory("toy", str(i), i, 0, split, False, 0.0, tuple(Transition(o, a, n, 0.0, False) for o, a, n in rows))


def _fixture() -> list[Trajectory]:
    return [
        _traj(0, [("count 0", "inc", "count 2"),        # predicts 1; corrected to 2, read out "count 2"
                  ("count 2", "glitch", "count 5"),     # readout raises before and after correction
                  ("count 5", "inc", "count 9 bad")]),  # predicts 6; correction raises: prior 6 read out
        _traj(1, [("count 1", "boom", "count 1")]),     # predict raises: belief kept (1), corrected to 1
    ]


@pytest.mark.parametrize("sandbox", [False, True])
def test_post_correction_readout_is_its_own_metric(sandbox: bool) -> None:
    r = replay(Program.from_source(PROGRAM), _fixture(), sandbox=sandbox, post_correction=True)
    assert r.outcome == "ok"
    assert r.steps["post_predicted"].to_list() == ["count 2", "", "count 6", "count 1"]
    # the step's own prediction is untouched by what came after the true observation
    assert r.steps["predicted"].to_list() == ["count 1", "", "count 6", ""]
    assert r.steps["token_f1"].to_list() == pytest.approx([0.5, 0.0, 0.4, 0.0])
    # covered post readouts: "count 2" (F1 1.0), "count 6" vs "count 9 bad" (P 1/2, R 1/3: 0.4), "count 1" (1.0)
    assert r.metrics["token_f1_post_correction"] == pytest.approx(0.8)
    assert r.metrics["token_f1_ref"] == pytest.approx(round((0.5 + 0.4) / 2, 4))  # unchanged by the option
    plain = replay(Program.from_source(PROGRAM), _fixture(), sandbox=sandbox)
    assert plain.metrics["token_f1_post_correction"] is None and plain.steps.schema == STEP_SCHEMA
    assert plain.steps["predicted"].to_list() == r.steps["predicted"].to_list()
    lean = replay(Program.from_source(PROGRAM), _fixture(), sandbox=sandbox, post_correction=True, lean=True)
    assert lean.metrics["token_f1_post_correction"] == pytest.approx(0.8)


def test_post_correction_survives_sharding() -> None:
    r = replay(Program.from_source(PROGRAM), _fixture(), shards=2, post_correction=True)
    assert r.steps["post_predicted"].to_list() == ["count 2", "", "count 6", "count 1"]
    assert r.metrics["token_f1_post_correction"] == pytest.approx(0.8)


def test_post_correction_needs_teacher_mode() -> None:
    with pytest.raises(ValueError, match="post_correction"):
        replay(Program.from_source(PROGRAM), _fixture(), mode="rollout", post_correction=True)


def test_a_post_readout_arrives_only_after_the_true_observation_and_is_coerced() -> None:
    trajs = [[0, [["o0", "a0", "o1"], ["o1", "a1", "o2"]]]]
    plan = Lockstep(trajs, "teacher", None, 10, post=True)
    first = plan.next_round()
    assert first[2] == ["o0"]
    with pytest.raises(Exception, match="8 columns"):  # a reply without the post column is malformed
        plan.take(["rows", ["p"], [""], [""], [""], [""], [""], [[]], None])
    plan.take(["rows", ["p"], [""], [""], [""], [""], [""], [[]], ["forged"], None])
    assert plan.cols[0][6] == []  # a post value in the first round has no earlier step: ignored
    second = plan.next_round()
    assert second[2] == ["o1"]  # the true observation of step 0 only now
    plan.take(["rows", ["q"], [""], [""], [""], [""], [""], [[]], [{"not": "text"}], None])
    plan.next_round()  # the final correction
    plan.take(["rows", [None], [""], [""], [""], [""], [""], [[]], ["x" * (MAX_TEXT + 5)], None])
    assert plan.cols[0][0] == ["p", "q"]  # predictions are never replaced by a post value
    assert plan.cols[0][6] == ["", "x" * MAX_TEXT]  # non-text -> "", long -> capped
    rollout = Lockstep(trajs, "rollout", None, 10, post=True)
    assert not rollout.post  # no true observation ever reaches a rollout worker


@pytest.mark.parametrize("sandbox", [False, True])
@pytest.mark.parametrize("mode", ["teacher", "rollout"])
def test_residual_answers_from_memory_when_predict_belief_raises(sandbox: bool, mode: str) -> None:
    memory = ResidualMemory.build([_traj(9, [("Count 1 ", "boom", "count 1")], split="train")])
    r = replay(Program.from_source(PROGRAM), _fixture()[1:], mode=mode, sandbox=sandbox, residual=memory)
    row = r.steps.row(0, named=True)
    assert (row["predicted"], row["error_kind"], row["from_memory"], row["exact"]) == ("count 1", "", True, True)
    assert "boom!" in row["error"]  # the program's failure stays visible
    without = replay(Program.from_source(PROGRAM), _fixture()[1:], mode=mode, sandbox=sandbox)
    assert without.steps["predicted"].to_list() == [""] and without.steps["error_kind"].to_list() == ["exception"]


def test_evaluate_reports_the_post_correction_number() -> None:
    from patchworld.evaluate import _teacher
    from patchworld.intervals import interval

    out = _teacher(Program.from_source(PROGRAM), _fixture(), False, None)
    rq, measure = out["token_f1_post_correction"]
    assert rq == "rq1" and measure.value == pytest.approx(0.8)
    assert measure.units == [t.id for t in _fixture()]  # per trajectory, so it gets a paired interval
    lo, hi = interval(measure, samples=200)
    assert lo is not None and lo < hi and lo <= 0.8 <= hi
