"""The rollout AUC and drop (RQ2) as bootstrap-resampled measures, paired with every other metric.

:func:`patchworld.replay.replay` (``mode="rollout"``) reports, as the reference does, the mean token
F1 of the h-th prediction over the trajectories at least h long, for each reported horizon h
(:data:`~patchworld.replay.HORIZONS`); ``rollout_auc`` is the mean of those per-horizon means over
the horizons some trajectory reaches, ``rollout_drop`` the first reached minus the last reached.

That is a mean of per-horizon *ratios*, not one ratio of sums, so no
:class:`~patchworld.utility.Measure` shortcut is exactly equivalent: :class:`RolloutMeasure` keeps
each trajectory's F1 at each reported horizon and recomputes the per-horizon means, then the AUC or
drop, on every bootstrap draw of trajectories (:meth:`RolloutMeasure.stat`), the very function
applied to the full set. Units are the trajectory ids, the same units as RQ1 and ``f1@h``, so a
Simple and a Residual measure of one program on the same trajectories are resampled with the
same seeded draws (:mod:`patchworld.intervals`) and their difference is paired. A draw that
happens to hold no trajectory reaching the longest horizon averages over fewer horizons, exactly as
the reference's number would on such a data set (the plug-in bootstrap of the statistic as defined).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["RolloutMeasure", "rollout_measures", "horizon_means"]


def horizon_means(scores: Sequence[dict[int, float]], horizons: Sequence[int]) -> list[float]:
    """Mean F1 at each horizon reached by some trajectory of ``scores`` (``{horizon: f1}`` per trajectory),
    in horizon order; unreached horizons are left out (as the reference's ``observed`` list)."""
    out = []
    for h in horizons:
        got = [s[h] for s in scores if h in s]
        if got:
            out.append(sum(got) / len(got))
    return out


@dataclass
class RolloutMeasure:
    """``rollout_auc`` (``kind="auc"``) or ``rollout_drop`` (``kind="drop"``) over trajectories, resampled
    by recomputing the statistic on each draw (module docstring)."""

    kind: str
    horizons: tuple[int, ...]
    units: list[str] = field(default_factory=list)
    scores: list[dict[int, float]] = field(default_factory=list)  # per trajectory: {reported horizon: F1}

    def __post_init__(self) -> None:
        if self.kind not in ("auc", "drop"):
            raise ValueError(f"RolloutMeasure: kind must be 'auc' or 'drop', got {self.kind!r}")

    def add(self, unit: str, f1_by_step: Iterable[tuple[int, float]]) -> None:
        """One trajectory: ``(step, token F1)`` pairs of its rollout, step 0 being horizon 1."""
        wanted = set(self.horizons)
        self.units.append(unit)
        self.scores.append({step + 1: float(f1) for step, f1 in f1_by_step if step + 1 in wanted})

    def stat(self, idx: Sequence[int]) -> float | None:
        """The AUC or drop of the trajectories ``idx`` (a draw; repeats count twice); None without any."""
        means = horizon_means([self.scores[i] for i in idx], self.horizons)
        if not means:
            return None
        return sum(means) / len(means) if self.kind == "auc" else means[0] - means[-1]

    @property
    def value(self) -> float | None:
        return self.stat(range(len(self.units)))

    @property
    def n(self) -> int:
        return sum(1 for s in self.scores if s)


def rollout_measures(groups: Iterable[tuple[str, Iterable[tuple[int, float]]]],
                     horizons: Sequence[int]) -> dict[str, RolloutMeasure]:
    """``{"rollout_auc": ..., "rollout_drop": ...}`` from ``(trajectory id, [(step, F1), ...])`` groups."""
    auc, drop = RolloutMeasure("auc", tuple(horizons)), RolloutMeasure("drop", tuple(horizons))
    for unit, pairs in groups:
        pairs = list(pairs)
        auc.add(unit, pairs)
        drop.add(unit, pairs)
    return {"rollout_auc": auc, "rollout_drop": drop}
