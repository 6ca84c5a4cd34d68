"""Bootstrap intervals of the rollout AUC and drop (RQ2), of totals and of constants, against hand computations.

The hand computations below read the raw per-step F1 lists and recompute the reference's AUC/drop with
their own code on every draw; they share with the library only the seeded index draws
(:func:`patchworld.intervals.draws`), which fix *which* units a draw holds.
"""

from __future__ import annotations

import pytest
from test_replay import COUNTER, _fixture

from patchworld.intervals import difference_interval, draws, interval
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.rollout_measure import RolloutMeasure, rollout_measures
from patchworld.utility import Constant, Measure

H = (1, 2, 3, 5)
# per trajectory: token F1 of the rollout's prediction at step 0, 1, ... (horizon = step + 1)
F1 = {"a": [1.0, 0.5, 0.5, 0.0, 0.0], "b": [0.0, 0.0], "c": [1.0, 1.0, 0.0]}


def _measures(f1: dict[str, list[float]]) -> dict[str, RolloutMeasure]:
    return rollout_measures(((u, list(enumerate(v))) for u, v in f1.items()), H)


def _hand(trajs: list[list[float]], kind: str) -> float:
    """The reference's rule, written out: per reported horizon the mean F1 of the trajectories that long;
    AUC = mean over the horizons reached, drop = first reached minus last reached."""
    means = []
    for h in H:
        vals = [t[h - 1] for t in trajs if len(t) >= h]
        if vals:
            means.append(sum(vals) / len(vals))
    return sum(means) / len(means) if kind == "auc" else means[0] - means[-1]


def _hand_interval(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return values[round(0.025 * (len(values) - 1))], values[round(0.975 * (len(values) - 1))]


def test_rollout_auc_and_drop_of_the_full_set_and_of_single_draws_by_hand() -> None:
    m = _measures(F1)
    # h1 (1+0+1)/3, h2 (0.5+0+1)/3, h3 (0.5+0)/2, h5 0/1
    assert m["rollout_auc"].value == pytest.approx((2 / 3 + 0.5 + 0.25 + 0.0) / 4)
    assert m["rollout_drop"].value == pytest.approx(2 / 3 - 0.0)
    assert m["rollout_auc"].value != pytest.approx(sum(sum(v) for v in F1.values()) / 10)  # not a pooled ratio
    # a draw of "a" three times: a's own curve
    assert m["rollout_auc"].stat([0, 0, 0]) == pytest.approx((1.0 + 0.5 + 0.5 + 0.0) / 4)
    # b, b, c: h1 1/3, h2 1/3, h3 0/1 (only c reaches 3), h5 unreached: fewer horizons
    assert m["rollout_auc"].stat([1, 1, 2]) == pytest.approx((1 / 3 + 1 / 3 + 0.0) / 3)
    assert m["rollout_drop"].stat([1, 1, 2]) == pytest.approx(1 / 3)
    assert m["rollout_auc"].stat([]) is None and m["rollout_auc"].n == 3


@pytest.mark.parametrize("kind", ["auc", "drop"])
def test_rollout_interval_matches_an_independent_bootstrap_and_is_not_degenerate(kind: str) -> None:
    m = _measures(F1)[f"rollout_{kind}"]
    units = tuple(F1)
    hand = [_hand([F1[units[i]] for i in idx], kind) for idx in draws(units, 3, 400)]
    lo, hi = interval(m, seed=3, samples=400)
    assert (lo, hi) == pytest.approx(_hand_interval(hand))
    assert lo < hi  # the trajectories differ, so the draws do too
    assert lo <= _hand(list(F1.values()), kind) <= hi


def test_identical_trajectories_give_a_degenerate_rollout_interval() -> None:
    same = _measures({"x": [1.0, 0.5, 0.25], "y": [1.0, 0.5, 0.25], "z": [1.0, 0.5, 0.25]})["rollout_auc"]
    assert interval(same, seed=0, samples=200) == pytest.approx(((1 + 0.5 + 0.25) / 3,) * 2)


def test_simple_minus_residual_rollout_difference_is_paired_draw_by_draw() -> None:
    other_f1 = {"a": [1.0, 1.0, 1.0, 1.0, 0.0], "b": [0.0, 1.0], "c": [0.5, 0.5, 0.5]}
    a, b = _measures(F1)["rollout_auc"], _measures(other_f1)["rollout_auc"]
    units = tuple(F1)
    hand = [_hand([F1[units[i]] for i in idx], "auc") - _hand([other_f1[units[i]] for i in idx], "auc")
            for idx in draws(units, 0, 300)]
    value, lo, hi = difference_interval(a, b, seed=0, samples=300)
    assert value == pytest.approx(a.value - b.value)
    assert (lo, hi) == pytest.approx(_hand_interval(hand))
    assert difference_interval(a, a, seed=0, samples=300) == pytest.approx((0.0, 0.0, 0.0))  # paired: no noise
    shuffled = _measures(dict(reversed(list(other_f1.items()))))["rollout_auc"]
    assert difference_interval(a, shuffled) == (None, None, None)  # different unit lists are never paired


def test_evaluate_rollout_value_equals_the_replay_metric() -> None:
    from patchworld.evaluate import _rollout

    program, trajs = Program.from_source(COUNTER), _fixture()
    got = _rollout(program, trajs, sandbox=False, memory=None)
    r = replay(program, trajs, mode="rollout", sandbox=False)
    assert got["rollout_auc"][1].value == pytest.approx(r.metrics["rollout_auc"])
    assert got["rollout_drop"][1].value == pytest.approx(r.metrics["rollout_drop"])
    assert got["rollout_auc"][1].units == got["f1@1"][1].units == [t.id for t in trajs]  # paired with f1@h


def test_totals_and_constants_have_intervals() -> None:
    hits = Measure(total=True)
    for unit, n in (("t1", 0), ("t2", 3), ("t3", 1)):
        hits.add(unit, n)
    assert hits.value == 4 and hits.stat([1, 1, 1]) == 9
    units = ("t1", "t2", "t3")
    nums = [0, 3, 1]
    hand = _hand_interval([float(sum(nums[i] for i in idx)) for idx in draws(units, 0, 200)])
    assert interval(hits, seed=0, samples=200) == pytest.approx(hand) and hand[0] < hand[1]
    assert interval(Constant(49.0)) == (49.0, 49.0)
    assert difference_interval(Constant(1.0), Constant(0.25)) == (0.75, 0.75, 0.75)
    with pytest.raises(ValueError, match="kind"):
        RolloutMeasure("area", H)
