"""Paired bootstrap intervals for the evaluation's metrics and for differences between programs.

A metric is a :class:`~patchworld.utility.Measure`: per-unit numerators and denominators
(units are test trajectories, tasks or planning states). Resampling draws units with
replacement; the statistic of a draw is ``sum(num) / sum(den)`` over the drawn units. *Paired*:
every program measured on the same units (same tasks, same states, same seed) is resampled
with the very same draws, so a difference's interval reflects only how the two programs differ
on the same units. Draws come from ``random.Random(f"{seed}/{key}")``, so they are fixed by
the seed and the unit list alone. Percentile intervals (2.5th and 97.5th for 95 %).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["draws", "interval", "difference_interval", "DEFAULT_SAMPLES"]

DEFAULT_SAMPLES = 1000


@lru_cache(maxsize=256)
def draws(units: tuple[str, ...], seed: int = 0, samples: int = DEFAULT_SAMPLES) -> tuple[tuple[int, ...], ...]:
    """``samples`` index draws (with replacement) over ``units``; the same units and seed give the same draws."""
    rng = random.Random(f"{seed}/" + "|".join(units))
    n = len(units)
    return tuple(tuple(rng.randrange(n) for _ in range(n)) for _ in range(samples)) if n else ()


def _stat(num: Sequence[float], den: Sequence[float], idx: Sequence[int]) -> float | None:
    total = sum(den[i] for i in idx)
    return sum(num[i] for i in idx) / total if total else None


def _percentiles(values: list[float], level: float) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    values.sort()
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    pick = lambda q: values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]  # noqa: E731
    return pick(lo_q), pick(hi_q)


def interval(measure: Any, seed: int = 0, samples: int = DEFAULT_SAMPLES,
             level: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of ``measure`` (a :class:`~patchworld.utility.Measure`)."""
    stats = [s for idx in draws(tuple(measure.units), seed, samples)
             if (s := _stat(measure.num, measure.den, idx)) is not None]
    return _percentiles(stats, level)


def difference_interval(a: Any, b: Any, seed: int = 0, samples: int = DEFAULT_SAMPLES,
                        level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """``(value, lo, hi)`` of ``a - b`` under paired draws; None values when the units differ."""
    if list(a.units) != list(b.units) or a.value is None or b.value is None:
        return None, None, None
    stats = []
    for idx in draws(tuple(a.units), seed, samples):
        sa, sb = _stat(a.num, a.den, idx), _stat(b.num, b.den, idx)
        if sa is not None and sb is not None:
            stats.append(sa - sb)
    lo, hi = _percentiles(stats, level)
    return a.value - b.value, lo, hi
