"""Staged candidate screening: a cheap replay on a sample first, full val only for survivors.

Teacher-forced replay treats each trajectory on its own, so a child replayed on a few val
trajectories predicts exactly what its full val replay would predict there. The sample is a
few trajectories the parent gets wrong (chosen to cover distinct failures: action type x
error kind) (up to 8) plus a small random sample (3) of trajectories it gets entirely right. A child is
rejected early when, on the sample, it scores worse than the parent (the gate's ordering on
those rows), scores the same while breaking a transition the parent got right in a passing
trajectory, or predicts exactly what the parent predicts (it cannot be the fix for the
failures the sample shows). A child that breaks a sampled transition but scores better on
the sample survives: with two bugs, the parent can be right by accident. Survivors get a full val
replay and go through the gate as usual. The sample changes every round (seeded).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Screener", "Screened", "subset_key"]

_EXCEPTION_KINDS = ("exception", "step_timeout", "timeout", "memory", "crashed", "output_limit")


def subset_key(kinds: Sequence[str], f1s: Sequence[float]) -> tuple[int, int, float, int]:
    """:func:`patchworld.gate.score_key` on a set of rows (sums instead of means: same order for the same rows)."""
    load = sum(k == "load_error" for k in kinds)
    exc = sum(k in _EXCEPTION_KINDS for k in kinds)
    mism = sum(k in ("mismatch", "empty") for k in kinds)
    return (-load, -exc, round(sum(f1s), 9), -mism)


@dataclass
class Screened:
    """A candidate rejected on the screening sample: its replay there and why."""

    replay: Any
    reason: str
    n_rows: int


class Screener:
    """Picks the screening sample for one parent replay and judges children on it."""

    def __init__(self, parent_replay: Any, trajectories: Sequence[Any], n_failing: int = 8, n_passing: int = 3,
                 seed: int = 0):
        steps = parent_replay.steps
        ids = steps.get_column("traj_id").to_list()
        exact = steps.get_column("exact").to_list()
        kinds = steps.get_column("error_kind").to_list()
        actions = steps.get_column("action").to_list()
        failures: dict[str, set[tuple[str, str]]] = {}
        for tid, ok, kind, action in zip(ids, exact, kinds, actions, strict=True):
            if not ok:
                failures.setdefault(tid, set()).add(((action.split() or [""])[0].lower(), kind))
        rng = random.Random(seed)
        by_id = {t.id: t for t in trajectories}
        failing = sorted(failures)
        rng.shuffle(failing)
        chosen: list[str] = []
        covered: set[tuple[str, str]] = set()
        while len(chosen) < min(n_failing, len(failing)):   # greedy cover of the distinct failures
            best = max((t for t in failing if t not in chosen), key=lambda t: len(failures[t] - covered))
            chosen.append(best)
            covered |= failures[best]
        passing = sorted(t.id for t in trajectories if t.id not in failures and t.transitions)
        chosen += rng.sample(passing, min(n_passing, len(passing)))
        self.passing = set(chosen) - set(failures)
        self.sample = [by_id[t] for t in sorted(chosen, key=ids.index) if t in by_id]
        keep = set(chosen)
        self._rows = {tid_step: (ok, kind, f1, pred, tid) for tid_step, ok, kind, f1, pred, tid in zip(
            steps.get_column("id").to_list(), exact, kinds, steps.get_column("token_f1").to_list(),
            steps.get_column("predicted").to_list(), ids, strict=True) if tid in keep}
        rows = list(self._rows.values())
        self.parent_key = subset_key([r[1] for r in rows], [r[2] for r in rows])
        self.full = len(keep) >= len({t.id for t in trajectories})   # the sample is all of val: no screening

    @property
    def n_rows(self) -> int:
        return len(self._rows)

    def judge(self, child_replay: Any) -> str:
        """Why the child is rejected on the sample ("" if it survives to the full val replay)."""
        steps = child_replay.steps
        cols = [steps.get_column(c).to_list() for c in ("id", "exact", "error_kind", "token_f1", "predicted")]
        broken = same = 0
        kinds, f1s = [], []
        for tid, ok, kind, f1, pred in zip(*cols, strict=True):
            parent = self._rows.get(tid)
            if parent is None:
                continue
            kinds.append(kind)
            f1s.append(f1)
            same += pred == parent[3] and kind == parent[1]
            if parent[0] and not ok and parent[4] in self.passing:
                broken += 1
        key = subset_key(kinds, f1s)
        if key < self.parent_key:
            return f"rejected early: worse than the parent on the {len(kinds)} sampled transitions"
        if broken and key == self.parent_key:
            return f"rejected early: breaks {broken} transition(s) the parent got right in the screening sample"
        if same == len(kinds):
            return f"rejected early: predicts exactly what the parent predicts on the {len(kinds)} sampled transitions"
        return ""
