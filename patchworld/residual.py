"""The Residual variant: a small, constrained memory of frequent transitions around a program.

Built from the **train** split only, the memory maps ``(normalized observation, normalized
action)`` to the most common next observation seen for that key. An entry is kept only when
that next observation was seen at least ``min_count`` times and makes up at least
``min_confidence`` of the key's transitions; at most ``max_entries`` entries are kept (the
most frequent keys). Normalization collapses runs of whitespace and strips the ends, so keys
depend only on text, never on object identity. At replay time a hit replaces the program's
readout while the program's belief still advances (see ``patchworld.replay``).

Stdlib only, and serializable as a plain dict, so it can be shipped into sandbox workers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResidualMemory", "normalize_text"]


def normalize_text(text: str) -> str:
    """Collapse whitespace runs to one space and strip the ends."""
    return " ".join(text.split())


@dataclass
class ResidualMemory:
    """A lookup table ``(observation, action) -> next observation`` with its build options."""

    table: dict[tuple[str, str], str] = field(default_factory=dict)
    min_count: int = 2
    min_confidence: float = 0.6
    max_entries: int = 5000
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # key -> (top count, total)

    @classmethod
    def build(
        cls,
        train: Sequence[Any],
        min_count: int = 2,
        min_confidence: float = 0.6,
        max_entries: int = 5000,
    ) -> ResidualMemory:
        """Build the memory from training trajectories; refuses any other split.

        Raises ``ValueError`` naming the first trajectory whose ``split`` is not "train".
        """
        stats: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for traj in train:
            if traj.split != "train":
                raise ValueError(
                    f"ResidualMemory.build takes train trajectories only; {traj.id} has split {traj.split!r}"
                )
            for t in traj.transitions:
                stats[(normalize_text(t.observation), normalize_text(t.action))][t.next_observation] += 1
        kept: list[tuple[int, tuple[str, str], str, int]] = []
        for key, counter in stats.items():
            total = sum(counter.values())
            best_text, best = min(counter.items(), key=lambda item: (-item[1], item[0]))
            if best >= min_count and best / total >= min_confidence:
                kept.append((total, key, best_text, best))
        kept.sort(key=lambda item: (-item[0], item[1]))
        kept = kept[: max(0, max_entries)]
        return cls(
            table={key: text for _, key, text, _ in kept},
            min_count=min_count,
            min_confidence=min_confidence,
            max_entries=max_entries,
            counts={key: (best, total) for total, key, _, best in kept},
        )

    def lookup(self, observation: str, action: str) -> str | None:
        """The remembered next observation for this pair, or None."""
        return self.table.get((normalize_text(observation), normalize_text(action)))

    def __len__(self) -> int:
        return len(self.table)

    def to_dict(self) -> dict:
        """A JSON- and pickle-friendly dict (round-trips through :meth:`from_dict`)."""
        return {
            "version": 1,
            "min_count": self.min_count,
            "min_confidence": self.min_confidence,
            "max_entries": self.max_entries,
            "entries": [
                [obs, act, text, *self.counts.get((obs, act), (0, 0))] for (obs, act), text in self.table.items()
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> ResidualMemory:
        """Rebuild a memory written by :meth:`to_dict`."""
        if d.get("version") != 1:
            raise ValueError(f"unsupported ResidualMemory dict version: {d.get('version')!r}")
        table: dict[tuple[str, str], str] = {}
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for obs, act, text, best, total in d["entries"]:
            table[(obs, act)] = text
            counts[(obs, act)] = (int(best), int(total))
        return cls(
            table=table,
            min_count=int(d["min_count"]),
            min_confidence=float(d["min_confidence"]),
            max_entries=int(d["max_entries"]),
            counts=counts,
        )
