"""Counterexamples: transitions a program gets wrong, and a diverse, deterministic selection of them.

A :class:`Counterexample` is one replay row whose ``error_kind`` is not "" (not an exact
match). :func:`select_counterexamples` picks ``k`` of them for a proposer: first load errors,
then exceptions and timeouts (and other job failures), then mismatches; within each tier it
takes items round-robin over groups of (action type = first word of the action, error kind),
so one frequent failure does not crowd out the rest. Job-level failures (load error, timeout,
memory, crashed, output limit) are kept once per distinct message, since every row repeats it.
The choice depends only on the items and ``seed``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Counterexample", "select_counterexamples", "from_frame", "TIERS"]

JOB_KINDS = ("load_error", "timeout", "memory", "crashed", "output_limit")
TIERS: dict[str, int] = {
    "load_error": 0,
    "exception": 1, "step_timeout": 1, "timeout": 1, "memory": 1, "crashed": 1, "output_limit": 1,
    "empty": 2, "mismatch": 2,
}
"""Selection order: lower tiers first."""


@dataclass(frozen=True)
class Counterexample:
    """One mispredicted transition, with the belief summary before the step."""

    traj_id: str
    step: int
    observation: str
    action: str
    belief: str
    predicted: str
    true: str
    error_kind: str
    error: str

    @property
    def id(self) -> str:
        """The transition id: ``<traj_id>#<step>``."""
        return f"{self.traj_id}#{self.step}"

    @property
    def action_type(self) -> str:
        """The first word of the action (lower-cased), e.g. "move" or "craft"."""
        words = self.action.split()
        return words[0].lower() if words else ""


def from_frame(steps: Any) -> list[Counterexample]:
    """Counterexamples from a replay steps frame: every row with a non-empty error_kind."""
    bad = steps.filter(steps["error_kind"] != "")
    cols = ("traj_id", "step", "observation", "action", "belief", "predicted", "true", "error_kind", "error")
    return [Counterexample(**{c: row[c] for c in cols}) for row in bad.select(cols).iter_rows(named=True)]


def _round_robin(items: list[Counterexample], rng: random.Random) -> list[Counterexample]:
    groups: dict[tuple[str, str], list[Counterexample]] = {}
    for item in items:
        groups.setdefault((item.action_type, item.error_kind), []).append(item)
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    out: list[Counterexample] = []
    depth = 0
    while len(out) < len(items):
        for key in keys:
            if depth < len(groups[key]):
                out.append(groups[key][depth])
        depth += 1
    return out


def select_counterexamples(items: Any, k: int = 8, seed: int = 0) -> list[Counterexample]:
    """Up to ``k`` counterexamples from a ``Replay`` or a sequence, most severe tiers first."""
    pool: Sequence[Counterexample] = items.counterexamples() if hasattr(items, "counterexamples") else items
    ordered = sorted(pool, key=lambda c: (c.traj_id, c.step, c.error_kind))  # input order must not matter
    seen: set[tuple[str, str]] = set()
    unique: list[Counterexample] = []
    for item in ordered:
        if item.error_kind in JOB_KINDS:
            key = (item.error_kind, item.error)
            if key in seen:
                continue
            seen.add(key)
        unique.append(item)
    rng = random.Random(seed)
    chosen: list[Counterexample] = []
    for tier in sorted(set(TIERS.values()) | {99}):
        members = [c for c in unique if TIERS.get(c.error_kind, 99) == tier]
        chosen.extend(_round_robin(members, rng))
        if len(chosen) >= k:
            break
    return chosen[: max(0, k)]
