"""Paired bootstrap intervals for the evaluation's metrics and for differences between programs.

A metric is a :class:`Resampled`: units (test trajectories, tasks or planning states) and a
statistic of any draw of them, ``stat(idx)``. Resampling draws units with replacement and
recomputes the statistic on the draw: for a :class:`~patchworld.utility.Measure` that is
``sum(num) / sum(den)`` (or ``sum(num)`` for a total) over the drawn units; for the rollout AUC and
drop (:class:`~patchworld.rollout_measure.RolloutMeasure`) the per-horizon means and the AUC/drop
are recomputed from the drawn trajectories; a :class:`~patchworld.utility.Constant` (not a
function of the test units) has the same value on every draw. *Paired*:
every program measured on the same units (same tasks, same states, same seed) is resampled
with the very same draws, so a difference's interval reflects only how the two programs differ
on the same units. Draws come from ``random.Random(f"{seed}/{key}")``, so they are fixed by
the seed and the unit list alone. Percentile intervals (2.5th and 97.5th for 95 %).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

__all__ = ["draws", "interval", "difference_interval", "statistics", "Resampled", "DEFAULT_SAMPLES"]

DEFAULT_SAMPLES = 1000


@runtime_checkable
class Resampled(Protocol):
    """A metric the bootstrap can resample: its units, its value on all of them, and its value on a draw."""

    units: Sequence[str]

    @property
    def value(self) -> float | None: ...

    @property
    def n(self) -> int: ...

    def stat(self, idx: Sequence[int]) -> float | None: ...


@lru_cache(maxsize=256)
def draws(units: tuple[str, ...], seed: int = 0, samples: int = DEFAULT_SAMPLES) -> tuple[tuple[int, ...], ...]:
    """``samples`` index draws (with replacement) over ``units``; the same units and seed give the same draws."""
    rng = random.Random(f"{seed}/" + "|".join(units))
    n = len(units)
    return tuple(tuple(rng.randrange(n) for _ in range(n)) for _ in range(samples)) if n else ()


def statistics(measure: Resampled, seed: int = 0, samples: int = DEFAULT_SAMPLES) -> list[float | None]:
    """The statistic of ``measure`` on each of the ``samples`` seeded draws of its units (None where undefined);
    a measure without units (a constant) gives its value ``samples`` times."""
    units = tuple(measure.units)
    if not units:
        return [measure.stat(())] * samples
    return [measure.stat(idx) for idx in draws(units, seed, samples)]


def _percentiles(values: list[float], level: float) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    values.sort()
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    pick = lambda q: values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]  # noqa: E731
    return pick(lo_q), pick(hi_q)


def interval(measure: Any, seed: int = 0, samples: int = DEFAULT_SAMPLES,
             level: float = 0.95) -> tuple[float | None, float | None]:
    """The percentile interval of ``measure`` (a :class:`Resampled`) over the seeded draws of its units."""
    if measure.value is None:
        return None, None
    return _percentiles([s for s in statistics(measure, seed, samples) if s is not None], level)


def difference_interval(a: Any, b: Any, seed: int = 0, samples: int = DEFAULT_SAMPLES,
                        level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """``(value, lo, hi)`` of ``a - b`` under paired draws; None values when the units differ."""
    if list(a.units) != list(b.units) or a.value is None or b.value is None:
        return None, None, None
    stats = [sa - sb for sa, sb in zip(statistics(a, seed, samples), statistics(b, seed, samples), strict=True)
             if sa is not None and sb is not None]
    lo, hi = _percentiles(stats, level)
    return a.value - b.value, lo, hi
