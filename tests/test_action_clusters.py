"""Failures of one kind of action are scored on their own (patchworld.localise._blame_clusters): a program that
fails on many rows for other reasons buries a fault only one action reaches under lines the other failures run."""

from __future__ import annotations

import polars as pl
import pytest

import patchworld.localise
from patchworld.localise import CLUSTER_MIN, CLUSTER_WEIGHT, action_kind, localise

_MODEL = '''
class Model:
    def predict_belief(self, belief, action):
        b = dict(belief)
        b["pred"] = "ok"
        if action.startswith("examine"):
            b["pred"] = "plain"
        else:
            b["pred"] = "other"
        return b
'''
SHARED, EXAMINE, OTHER = 5, 7, 9   # run on every row; on examine rows only; on the rest


def _steps(actions: list[str], exact: list[bool]) -> tuple[pl.DataFrame, list[list[int]]]:
    lines = [[SHARED, EXAMINE] if a.startswith("examine") else [SHARED, OTHER] for a in actions]
    return pl.DataFrame({"action": actions, "exact": exact, "error": [""] * len(actions)}), lines


def test_action_kind_is_the_first_token_lower_cased():
    assert action_kind("Examine the mug 1") == "examine"
    assert action_kind("  click[Buy Now]") == "click[buy"
    assert action_kind("") == action_kind(None) == ""


def test_a_line_only_one_kind_of_failing_action_runs_is_raised_above_the_lines_every_failure_runs():
    actions = ["examine mug"] * 4 + ["go to desk"] * 20 + ["take key"] * 10
    exact = [False] * 4 + [False] * 16 + [True] * 4 + [True] * 10   # 16 other failures bury the 4 examine ones
    steps, lines = _steps(actions, exact)
    plain = localise(_MODEL, steps.drop("action"), lines).lines
    clustered = localise(_MODEL, steps, lines).lines
    assert plain[EXAMINE] < plain[OTHER]                            # Ochiai 4 / sqrt(20 * 4) against 0.8
    assert clustered[EXAMINE] == pytest.approx(CLUSTER_WEIGHT * 1.0)   # every examine row fails, no pass runs it
    assert clustered[EXAMINE] > clustered[OTHER] == plain[OTHER]    # "go to" failures: their own cluster scores
    assert clustered[OTHER] == pytest.approx(max(plain[OTHER], CLUSTER_WEIGHT * 16 / (16 * 30) ** 0.5))


def test_a_kind_holding_every_failure_or_too_few_rows_adds_nothing(monkeypatch):
    actions = ["examine mug"] * 4 + ["go to desk"] * 20
    steps, lines = _steps(actions, [False] * 4 + [True] * 20)   # examine holds every failure
    assert localise(_MODEL, steps, lines).lines == localise(_MODEL, steps.drop("action"), lines).lines
    few = ["examine mug"] * (CLUSTER_MIN - 1) + ["go to desk"] * 20
    exact = [False] * (CLUSTER_MIN - 1) + [False] * 10 + [True] * 10
    steps, lines = _steps(few, exact)
    assert localise(_MODEL, steps, lines).lines == localise(_MODEL, steps.drop("action"), lines).lines


def test_an_inverted_examine_test_in_alfworld_is_repaired_in_the_first_round(tmp_path, monkeypatch):
    """Hand-written ALFWorld with ``if "clean" in flags and "cool" in flags`` negated in ``_examine``: a dozen
    examine rows fail among the 130 the hand-written program already gets wrong, so the line's Ochiai is 0.3.
    Without the clusters the first round accepts a word swap between the examine strings that fits better."""
    from planted import no_probes, repaired_only_with

    no_probes(monkeypatch)   # the negated test's own probe (patchworld.probes) marks its line too
    bugs = (('        if "clean" in flags and "cool" in flags:',
             '        if not ("clean" in flags and "cool" in flags):'),)
    repaired_only_with(monkeypatch, patchworld.localise, "CLUSTER_WEIGHT", 0.0, "alfworld", bugs, tmp_path, seed=1357)
