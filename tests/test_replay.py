"""Teacher-forced and rollout replay against hand-computed expectations on a tiny fixture."""

from __future__ import annotations

import dataclasses

import pytest

from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.replay import HORIZONS, STEP_SCHEMA, replay

COUNTER = '''
import re

class Counter:
    def init_belief(self):
        return -1
    def correct_belief(self, belief, obs):
        m = re.search(r"count (\\d+)", obs)
        return int(m.group(1)) if m else belief
    def predict_belief(self, belief, action):
        if action == "boom":
            raise ValueError("boom!")
        return belief + 1
    def readout_observation(self, belief, action=""):
        return f"count {belief}"
'''


def _fixture() -> list[Trajectory]:
    def traj(i: int, rows: list[tuple[str, str, str]]) -> Trajectory:
        ts = tuple(Transition(o, a, n, 0.0, False) for o, a, n in rows)
        return Trajectory("toy", str(i), i, 0, "val", False, 0.0, ts)

    return [
        traj(0, [("count 0", "inc", "count 1"), ("count 1", "inc", "count 3"), ("count 3", "inc", "count 4")]),
        traj(1, [("count 5", "boom", "count 5"), ("count 5", "inc", "count 6")]),
    ]


@pytest.mark.parametrize("sandbox", [False, True])
def test_teacher_forced(sandbox: bool) -> None:
    seen: list[tuple[int, int]] = []
    r = replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox, progress=lambda d, t, m: seen.append((d, t)))
    assert r.outcome == "ok" and r.mode == "teacher" and r.split == "val"
    assert r.steps.schema == STEP_SCHEMA
    assert r.steps["id"].to_list() == ["toy/0/0#0", "toy/0/0#1", "toy/0/0#2", "toy/1/0#0", "toy/1/0#1"]
    assert r.steps["predicted"].to_list() == ["count 1", "count 2", "count 4", "", "count 6"]
    assert r.steps["error_kind"].to_list() == ["", "mismatch", "", "exception", ""]
    assert r.steps["token_f1"].to_list() == pytest.approx([1.0, 0.5, 1.0, 0.0, 1.0])
    assert r.steps["belief"].to_list() == ["0", "1", "3", "5", "5"]  # the belief before each step
    assert "boom!" in r.steps["error"][3] and "line" in r.steps["error"][3]
    m = r.metrics
    assert m["token_f1"] == pytest.approx(0.7)
    assert "token_f1_covered" not in m   # a mean over rows a program could drop after seeing the truth
    assert m["exact_match"] == pytest.approx(0.6) and m["coverage"] == pytest.approx(0.8)
    assert (m["n_exceptions"], m["n_mismatches"], m["n_load_errors"], m["n_transitions"]) == (1, 1, 0, 5)
    assert r.horizon is None
    assert seen[-1] == (5, 5)
    assert [c.id for c in r.counterexamples()] == ["toy/0/0#1", "toy/1/0#0"]


@pytest.mark.parametrize("sandbox", [False, True])
def test_rollout_feeds_on_its_own_predictions(sandbox: bool) -> None:
    r = replay(Program.from_source(COUNTER), _fixture(), mode="rollout", sandbox=sandbox)
    assert r.steps["predicted"].to_list() == ["count 1", "count 2", "count 3", "", "count 6"]
    assert r.steps["token_f1"].to_list() == pytest.approx([1.0, 0.5, 0.5, 0.0, 1.0])
    h = {row["horizon"]: row for row in r.horizon.iter_rows(named=True)}
    assert list(h) == list(HORIZONS)
    assert (h[1]["token_f1"], h[2]["token_f1"], h[3]["token_f1"]) == pytest.approx((0.5, 0.75, 0.5))
    assert (h[1]["n"], h[2]["n"], h[3]["n"], h[5]["n"]) == (2, 2, 1, 0)
    assert r.metrics["f1@2"] == pytest.approx(0.75) and r.metrics["f1@5"] == 0.0
    assert r.metrics["rollout_auc"] == pytest.approx((0.5 + 0.75 + 0.5) / 3)
    assert r.metrics["rollout_drop"] == pytest.approx(0.0)


def test_load_error_still_gives_one_row_per_transition() -> None:
    r = replay(Program.from_source("class Broken(:\n    pass\n"), _fixture())
    assert r.outcome == "load_error" and "line 1" in r.detail
    assert r.steps.height == 5 and set(r.steps["error_kind"]) == {"load_error"}
    assert r.metrics["n_load_errors"] == 5 and r.metrics["token_f1"] == 0.0


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        replay(Program.from_source(COUNTER), _fixture(), mode="dream")


GLITCHY = COUNTER.replace(
    '        return f"count {belief}"',
    '        if action == "glitch":\n            raise KeyError("no readout")\n        return f"count {belief}"',
).replace(
    "        m = re.search",
    '        if "bad" in obs:\n            raise RuntimeError("cannot correct")\n        m = re.search',
)


def test_failed_readout_still_corrects_and_failed_correction_keeps_the_prior() -> None:
    trajs = [Trajectory("toy", "0", 0, 0, "train", False, 0.0, (
        Transition("count 0", "glitch", "count 7", 0.0, False),   # readout fails; belief still corrected to 7
        Transition("count 7", "inc", "count 8 bad", 0.0, False),  # predicted "count 8"; correction fails -> prior 8
        Transition("count 8 bad", "inc", "count 9", 0.0, False),  # prior 8 + 1 = 9: exact
    ))]
    r = replay(Program.from_source(GLITCHY), trajs, sandbox=False)
    assert r.steps["predicted"].to_list() == ["", "count 8", "count 9"]
    assert r.steps["error_kind"].to_list() == ["exception", "exception", ""]
    assert "in readout_observation" in r.steps["error"][0] and "in correct_belief" in r.steps["error"][1]
    assert r.steps["belief"].to_list() == ["0", "7", "8"]


def test_belief_summaries_are_short_and_safe() -> None:
    from patchworld.sandbox import summarize

    class Hostile:
        __slots__ = ()

        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    assert summarize({"a": [1, (2,)], "b": set()}) == "{'a': [1, (2,)], 'b': set()}"
    huge = {"cells": {(i, j): ["wall"] for i in range(300) for j in range(300)}, "goal": (1, 2)}
    text = summarize(huge)
    assert len(text) <= 200 and text.startswith("{'cells': {(0, 0): ['wall']")
    assert "summary failed" in summarize([Hostile()])


def test_odd_readouts_do_not_break_the_frame() -> None:
    odd = COUNTER.replace('        return f"count {belief}"', '        return "\\ud800 bad" if action == "odd" else 42')
    trajs = [Trajectory("toy", "0", 0, 0, "train", False, 0.0, (
        Transition("count 0", "odd", "count 1", 0.0, False), Transition("count 1", "inc", "count 2", 0.0, False),
    ))]
    for sandbox in (False, True):
        r = replay(Program.from_source(odd), trajs, sandbox=sandbox)
        assert r.outcome == "ok"
        assert r.steps["error_kind"].to_list() == ["mismatch", "exception"]  # 42 is not a str
        assert "expected str" in r.steps["error"][1]


def test_belief_summaries_give_keys_their_own_budget_and_hide_deep_containers() -> None:
    from patchworld.sandbox import summarize

    key = ("a" * 20, "b" * 20, "c" * 5)
    full = "('aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb', 'ccccc')"
    cut = "('aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb', ...)"  # a dict key gets 40 characters
    assert summarize([key]) == f"[{full}]"
    assert summarize({key: key}) == f"{{{cut}: {full}}}"
    assert summarize([[[key]]]) == f"[[[{full}]]]" and summarize([[[[key]]]]) == "[[[[...]]]]"
    assert summarize({"a": {"b": {"c": {"d": 1, "e": [2]}}}}) == "{'a': {'b': {'c': {'d': 1, 'e': ...}}}}"
    assert summarize((True, 2, None, 1.5, 2**300)) == "(True, 2, None, 1.5, " + str(2**300)[:57] + "...)"


@pytest.mark.parametrize("sandbox", [False, True])
def test_traced_lines_say_which_program_lines_each_step_ran(sandbox: bool) -> None:
    lines = COUNTER.splitlines()
    number = {text.strip(): i + 1 for i, text in enumerate(lines) if text.strip()}
    r = replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox, trace_lines=True)
    assert r.lines is not None and len(r.lines) == r.steps.height
    inc, boom = r.lines[0], r.lines[3]
    assert number["return belief + 1"] in inc and number['raise ValueError("boom!")'] not in inc
    assert number['raise ValueError("boom!")'] in boom and number["return belief + 1"] not in boom
    assert number['return f"count {belief}"'] in inc  # the readout
    assert all(line == sorted(set(line)) for line in r.lines)
    assert replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox).lines is None


@pytest.mark.parametrize("sandbox", [False, True])
def test_lean_replay_scores_what_the_gate_needs_and_nothing_more(sandbox: bool) -> None:
    full = replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox)
    lean = replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox, lean=True)
    for name in ("token_f1", "exact_match", "n_exceptions", "n_mismatches", "n_transitions"):
        assert lean.metrics[name] == full.metrics[name]
    assert lean.steps["bleu4"].is_nan().all() and set(lean.steps["belief"]) == {""}
    part = replay(Program.from_source(COUNTER), _fixture(), sandbox=sandbox, lean=True, trajectories_subset=[1],
                  max_steps=1)
    assert part.steps["id"].to_list() == ["toy/1/0#0"] and part.steps["error_kind"].to_list() == ["exception"]


def test_the_worker_never_gets_an_answer_before_it_has_answered() -> None:
    from patchworld.sandbox.lockstep import Lockstep

    trajs = [[0, [["o0", "a0", "o1"], ["o1", "a1", "o2"]]], [1, [["p0", "b0", "p1"]]]]
    for mode in ("teacher", "rollout"):
        plan = Lockstep(trajs, mode, None, 10)
        rounds, predicted = [], set()
        while (message := plan.next_round()) is not None:
            rounds.append(message)
            sent = {text for text in message[2] if text is not None}
            # every observation sent is a first observation or the answer to a step already predicted
            assert sent <= {"o0", "p0"} | predicted, (mode, message)
            n = len(message[1])
            plan.take(["rows", ["guess"] * n, [""] * n, [""] * n, [""] * n, [""] * n, [""] * n, [[]] * n, None])
            predicted |= {"o1", "p1"} if len(rounds) == 1 else {"o2"}
        observations = [text for message in rounds[1:] for text in message[2]]
        assert observations == (["o1", "p1", "o2"] if mode == "teacher" else [None, None, None])


def test_a_reply_that_holds_back_a_row_is_a_protocol_error() -> None:
    # otherwise the next round's true observation (the held-back step's answer) would be scored as its prediction
    from patchworld.sandbox.lockstep import Lockstep
    from patchworld.sandbox.wire import ProtocolError

    plan = Lockstep([[0, [["o0", "a0", "o1"], ["o1", "a1", "o2"]]], [1, [["p0", "b0", "p1"]]]], "teacher", None, 10)
    plan.next_round()
    with pytest.raises(ProtocolError, match="left out rows"):
        plan.take(["rows", ["x"], [""], [""], [""], [""], [""], [[]], None])
    stopped = plan.take(["rows", ["x"], [""], [""], [""], [""], [""], [[]], ["timeout", "stopped", ""]])
    assert stopped[1][0] == "timeout"  # fewer rows are fine when the job ends with them


def test_raising_after_seeing_the_truth_raises_no_reported_number() -> None:
    # the program remembers what it predicted and raises in correct_belief when the true observation
    # differs: that row then counts as an exception. No metric replay reports may rise from that.
    hiding = COUNTER.replace("class Counter:", "class Hiding:").replace(
        '''    def correct_belief(self, belief, obs):
''', '''    last = None
    def correct_belief(self, belief, obs):
        if self.last is not None and obs != self.last:
            raise RuntimeError("I was wrong: hide it")
''').replace('''        return f"count {belief}"''', '''        self.last = f"count {belief}"
        return self.last''')
    honest, cheat = (replay(Program.from_source(src), _fixture(), sandbox=False).metrics for src in (COUNTER, hiding))
    assert cheat["n_exceptions"] > honest["n_exceptions"]   # the raise happened and was seen
    for name, value in cheat.items():
        if isinstance(value, float) and name not in ("n_exceptions",):
            assert value <= honest[name] + 1e-12, (name, value, honest[name])


def test_isolated_jobs_start_in_an_unpredictable_order_and_merge_in_trajectory_order(monkeypatch) -> None:
    import importlib

    module = importlib.import_module("patchworld.replay")
    started: list[int] = []
    real = module.run_job

    def record(program, payload, *args, **kwargs):
        started.append(payload[0][0])
        return real(program, payload, *args, **kwargs)

    monkeypatch.setattr(module, "run_job", record)
    trajs = [t for _ in range(4) for t in _fixture()]   # 8 trajectories
    trajs = [dataclasses.replace(t, item_id=f"{t.item_id}-{k}") for k, t in enumerate(trajs)]
    orders, frames = [], []
    for _ in range(3):
        started.clear()
        r = replay(Program.from_source(COUNTER), trajs, sandbox=False, isolate=True)
        orders.append(list(started))
        frames.append(r.steps)
    assert all(sorted(o) == list(range(8)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1   # three equal orders of 8: odds 1 in 40,320 squared
    assert all(f.equals(frames[0]) for f in frames)   # the same rows, in trajectory order, every time
    assert frames[0]["id"].to_list() == [f"{t.id}#{k}" for t in trajs for k in range(len(t.transitions))]
