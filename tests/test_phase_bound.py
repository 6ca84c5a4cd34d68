"""benchmarks/phase_bound.py (printed by candidate_eval.py): Amdahl's bound of the 2-workers-vs-1 speed-up from a round's phases."""

from __future__ import annotations

import pytest
from benchmark_module import load


def _module():
    return load("phase_bound")


def _run(wall: float, screen: float) -> dict:
    return {"wall": wall, "phases": {_module().SCREEN: screen}}


def test_the_bound_halves_only_the_screening_phase_and_says_what_the_target_needs():
    pb = _module()
    # 0.3 s outside screening, 0.4 s screening: at best 0.3 + 0.2 = 0.5 s on 2 cores, x1.4;
    # x1.6 leaves 0.7 / 1.6 - 0.3 = 0.1375 s for screening: x2.91 faster, more than 2 cores give
    rest, bound, needed = pb.phase_bound(_run(0.7, 0.4), 2)
    assert rest == pytest.approx(0.3) and bound == pytest.approx(1.4) and needed == pytest.approx(0.4 / 0.1375)
    # a round that is nearly all screening can reach the target with less than 2x on screening
    assert pb.phase_bound(_run(1.0, 0.95), 2)[2] == pytest.approx(0.95 / (1.0 / 1.6 - 0.05))
    # the rest alone is longer than the target's wall: no screening speed-up reaches it
    assert pb.phase_bound(_run(1.0, 0.3), 2)[2] is None


def test_the_line_names_the_median_bound_and_the_screening_speed_up_measured():
    pb = _module()
    one = [_run(0.7, 0.4), _run(0.8, 0.5), _run(0.6, 0.3)]
    two = [_run(0.55, 0.25), _run(0.6, 0.3), _run(0.5, 0.2)]
    line = pb.phase_bound_line(one, two, 2)
    # bounds 0.7 / 0.5, 0.8 / 0.55, 0.6 / 0.45; the target needs screening x2.91, x2.50, x4.00 faster
    assert "took 0.300 s" in line and "x1.40 [1.33-1.45] at most" in line
    assert "screening x2.91 faster [2.50-4.00], more than 2 cores can give" in line
    assert line.endswith("screening was x1.60 faster")   # 0.4 / 0.25, 0.5 / 0.3, 0.3 / 0.2
