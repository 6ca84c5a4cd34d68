"""Writers of belief keys read on later steps are blamed with the rows that read them
(patchworld.dataflow.carried_writers, patchworld.localise): a value parsed wrong on a passing first step and
shown wrong on every failing later step."""

from __future__ import annotations

import polars as pl
import pytest

from patchworld.dataflow import carried_writers
from patchworld.localise import CARRIED_WEIGHT, localise

_MODEL = '''
class Model:
    def correct_belief(self, belief, obs):
        b = dict(belief)
        if obs.startswith("goal:"):
            b["goal"] = obs[5:]
            b["name"] = obs
        b["obs"] = obs
        return b

    def predict_belief(self, belief, action):
        b = dict(belief)
        b["pred"] = action
        b["who"] = belief["name"]
        return b

    def readout_observation(self, belief, action=""):
        if belief["pred"] == "stop":
            return "done"
        return belief["goal"] + " " + belief["pred"]
'''


def _line(text: str) -> int:
    return next(n for n, line in enumerate(_MODEL.splitlines(), 1) if text in line)


GOAL, NAME, OBS, PRED, WHO = (_line(t) for t in ('b["goal"] =', 'b["name"] =', 'b["obs"] =', 'b["pred"] =', 'b["who"] ='))
STOP, DONE, SHOW = _line('== "stop"'), _line('return "done"'), _line('return belief["goal"]')
FIRST = [_line("if obs"), GOAL, NAME, OBS]          # the first row parses the goal and the name
LATER = [_line("if obs"), OBS, PRED, WHO, STOP, SHOW]   # reads "name", "pred" and "goal"
FINAL = [_line("if obs"), OBS, PRED, WHO, STOP, DONE]   # reads "name" and "pred", not "goal"


def test_a_row_carries_the_lines_that_last_wrote_what_it_reads_within_its_own_trajectory():
    rows = carried_writers(_MODEL, ["a", "a", "a", "b", "b"], [FIRST, LATER, None, LATER, FINAL])
    assert rows[0] == set()                      # nothing written before the first row
    assert rows[1] == {GOAL, NAME}               # "pred" was written on no earlier row, "obs" is read by none
    assert rows[2] is None                       # no line record, none carried
    assert rows[3] == set()                      # a new trajectory starts with nothing written
    assert rows[4] == {PRED}                     # trajectory b never parsed a goal: only its own pred


def test_a_writer_is_raised_by_the_failing_rows_that_read_its_key_and_no_other_line_moves():
    lines_run = [FIRST, LATER, LATER, FINAL, FINAL, FIRST, LATER, FINAL]
    exact = [True, False, False, True, True, True, False, True]   # every row showing the goal fails
    steps = pl.DataFrame({"traj_id": list("aaaaabbb"), "exact": exact, "error": [""] * 8})
    with_carry = localise(_MODEL, steps, lines_run).lines
    without = localise(_MODEL, steps.drop("traj_id"), lines_run).lines
    assert without[GOAL] == 0.0                      # run only on passing rows
    # scored on the rows that read "goal" (the 3 failing ones): Ochiai 3 / sqrt(3 * 3), weighted
    assert with_carry[GOAL] == pytest.approx(CARRIED_WEIGHT * 3 / 9 ** 0.5)
    assert with_carry[GOAL] > with_carry[OBS]        # above a line run on every row
    assert with_carry[SHOW] == max(with_carry.values())   # the line run only by failing rows stays first
    # "name" is read on every later row, failing or not: no more failure-dense than the rows at large
    assert with_carry[NAME] == without[NAME] == 0.0
    assert {k: v for k, v in with_carry.items() if k != GOAL} == {k: v for k, v in without.items() if k != GOAL}


def test_a_negated_instruction_parse_on_the_first_step_is_repaired_in_the_first_round(tmp_path, monkeypatch):
    """Hand-written WebShop with the instruction kept only when the index page has no instruction segment:
    the parse runs on each episode's first row, and the lost instruction shows on every later row. Without
    the carried blame the line ranks far down and round 1 accepts a swap of two belief keys that fits better."""
    from planted import repaired_only_with

    import patchworld.localise

    bugs = (('parsed["segments"][2] if len(parsed["segments"]) > 2 else ""',
             'parsed["segments"][2] if not (len(parsed["segments"]) > 2) else ""'),)
    repaired_only_with(monkeypatch, patchworld.localise, "_blame_carried", lambda *args: None, "webshop", bugs,
                       tmp_path)


_PARSED = '''
import re


class Model:
    def parse_observation(self, obs):
        items = []
        for part in obs.split(","):
            m = re.match(r"(\\w+)=(\\d+)", part)
            if m:
                items.append((m.group(1), int(m.group(2))))
        return {"items": items}

    def correct_belief(self, belief, obs):
        b = dict(belief)
        parsed = self.parse_observation(obs)
        if "=" in obs:
            b["items"] = parsed["items"]
        return b

    def predict_belief(self, belief, action):
        b = dict(belief)
        if action.startswith("count "):
            b["pred"] = str(dict(belief["items"]).get(action[6:], 0))
        else:
            b["pred"] = action
        return b
'''


def _parsed_line(text: str) -> int:
    return next(n for n, line in enumerate(_PARSED.splitlines(), 1) if text in line)


def test_a_parse_run_only_on_passing_first_steps_is_blamed_through_the_key_it_fed():
    """``parse_observation`` runs on every row, but its loop body only where the observation lists items (the
    first step, which passes); the items it stored are read on every later row, and only the rows that look an
    item up fail (and one more). The writer is raised through its reader, and the parse lines that ran on its rows only are
    raised after it (patchworld.dataflow.producers); a line of the parse run on every row is not moved."""
    from patchworld.dataflow import producers

    store, lookup = _parsed_line('b["items"] ='), _parsed_line('b["pred"] =')
    loop_body = [_parsed_line(t) for t in ('m = re.match', 'if m:', 'items.append')]
    head, test = _parsed_line("items = []"), _parsed_line('if "=" in obs')
    assert producers(_PARSED)[store] == {"parse_observation"}
    every = [head, _parsed_line("for part"), _parsed_line("return {"), _parsed_line("parsed = self"), test]
    first = every + loop_body + [store]
    count = every + [_parsed_line("if action"), lookup]
    other = every + [_parsed_line("if action"), _parsed_line('b["pred"] = action')]
    lines_run = [first, count, other, count, first, count, other, other]
    exact = [True, False, True, False, True, False, True, False]   # the counts fail, and one other row
    steps = pl.DataFrame({"traj_id": list("aaaabbbb"), "exact": exact, "error": [""] * 8})
    with_carry = localise(_PARSED, steps, lines_run).lines
    without = localise(_PARSED, steps.drop("traj_id"), lines_run).lines
    assert all(without[line] == 0.0 for line in [*loop_body, store])   # run on passing rows only
    assert with_carry[store] == pytest.approx(CARRIED_WEIGHT * without[lookup])   # its one reader's rows
    assert all(with_carry[line] == pytest.approx(CARRIED_WEIGHT * with_carry[store]) for line in loop_body)
    assert with_carry[store] > with_carry[loop_body[0]] > with_carry[head] == without[head]
    assert {k: v for k, v in with_carry.items() if k not in {store, *loop_body}} == \
        {k: v for k, v in without.items() if k not in {store, *loop_body}}


def test_a_negated_guard_in_the_recipe_parse_is_repaired_in_the_first_round(tmp_path):
    """Hand-written TextCraft with the ingredient guard of the first step's recipe parse inverted: every recipe
    is stored without ingredients, and only later crafting steps show it. Before the producers' blame the
    guard's line scored 0 (its rows all pass) and forty rounds never mutated it."""
    from planted import planted_session, run_until_repaired

    from patchworld.gate import score_key

    session, original = planted_session("textcraft", (("                    if c:\n",
                                                        "                    if not (c):\n"),), tmp_path / "run")
    accepted = run_until_repaired(session, original, rounds=1)
    assert score_key(session.score) >= original, [r.get("note") for r in accepted]
