"""The Residual variant: the finished Simple program wrapped post hoc with a train-only memory.

As in the reference (``EpisodicResidualWorldModel``), the memory maps a *normalized*
``(observation, action)`` key (lower-cased, whitespace runs collapsed, ends stripped) to the
most common next observation seen for that key in the **train** split. A key is kept when its
top next observation was seen at least ``min_count`` times and makes up at least
``min_confidence`` of the key's transitions; ``max_entries`` caps the table (most frequent keys
first), and ``max_entries=0`` means *unlimited*. At replay or planning time a hit replaces the
program's readout while the program's belief still advances.

Presets (:data:`PRESETS`): ``"reference"`` (the default: ``min_count=1``,
``min_confidence=1.0``, ``max_entries=0``, lower-cased keys: the paper's settings) and
``"conservative"`` (the workbench's earlier memory: ``min_count=2``, ``min_confidence=0.6``,
``max_entries=5000``, case kept). :class:`Residual` pairs a program with its memory.
:func:`hit_counts` reports hits and wrong hits (a hit whose memorised text differs from the truth).

Stdlib only, and serializable as a plain dict, so it can be shipped into sandbox workers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResidualMemory", "Residual", "normalize_text", "normalize_key", "hit_counts", "PRESETS"]

PRESETS: dict[str, dict[str, Any]] = {
    "reference": {"min_count": 1, "min_confidence": 1.0, "max_entries": 0, "lowercase": True},
    "conservative": {"min_count": 2, "min_confidence": 0.6, "max_entries": 5000, "lowercase": False},
}
"""Named memory settings; ``reference`` is the paper's and the default."""


def normalize_text(text: str, lowercase: bool = True) -> str:
    """Collapse whitespace runs to one space, strip the ends and (by default) lower-case, as the reference."""
    out = " ".join(str(text or "").split())
    return out.lower() if lowercase else out


def normalize_key(observation: str, action: str, lowercase: bool = True) -> tuple[str, str]:
    """The memory key of an (observation, action) pair."""
    return normalize_text(observation, lowercase), normalize_text(action, lowercase)


@dataclass
class ResidualMemory:
    """A lookup table ``(observation, action) -> next observation`` with its build options."""

    table: dict[tuple[str, str], str] = field(default_factory=dict)
    min_count: int = 1
    min_confidence: float = 1.0
    max_entries: int = 0
    lowercase: bool = True
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # key -> (top count, total)

    @classmethod
    def build(cls, train: Sequence[Any], min_count: int = 1, min_confidence: float = 1.0, max_entries: int = 0,
              lowercase: bool = True) -> ResidualMemory:
        """Build the memory from training trajectories (reference settings by default); refuses any other split.

        Raises ``ValueError`` naming the first trajectory whose ``split`` is not "train".
        """
        stats: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for traj in train:
            if traj.split != "train":
                raise ValueError(
                    f"ResidualMemory.build takes train trajectories only; {traj.id} has split {traj.split!r}")
            for t in traj.transitions:
                stats[normalize_key(t.observation, t.action, lowercase)][t.next_observation] += 1
        kept: list[tuple[int, float, tuple[str, str], str, int]] = []
        for key, counter in stats.items():
            total = sum(counter.values())
            best_text, best = counter.most_common(1)[0]  # first seen among equals, as the reference
            if best >= max(1, min_count) and best / total >= min_confidence:
                kept.append((best, best / total, key, best_text, total))
        kept.sort(key=lambda item: (-item[0], -item[1], item[2]))
        if max_entries > 0:
            kept = kept[:max_entries]
        return cls(table={key: text for _, _, key, text, _ in kept}, min_count=min_count,
                   min_confidence=min_confidence, max_entries=max_entries, lowercase=lowercase,
                   counts={key: (best, total) for best, _, key, _, total in kept})

    @classmethod
    def preset(cls, train: Sequence[Any], name: str = "reference") -> ResidualMemory:
        """Build with a named preset (:data:`PRESETS`); an unknown name lists the known ones."""
        if name not in PRESETS:
            raise ValueError(f"unknown residual preset {name!r}; choose from {', '.join(PRESETS)}")
        return cls.build(train, **PRESETS[name])

    def lookup(self, observation: str, action: str) -> str | None:
        """The remembered next observation for this pair, or None (an empty observation never hits)."""
        if not observation:
            return None
        return self.table.get(normalize_key(observation, action, self.lowercase))

    def __len__(self) -> int:
        return len(self.table)

    def to_dict(self) -> dict:
        """A JSON- and pickle-friendly dict (round-trips through :meth:`from_dict`)."""
        return {"version": 2, "min_count": self.min_count, "min_confidence": self.min_confidence,
                "max_entries": self.max_entries, "lowercase": self.lowercase,
                "entries": [[obs, act, text, *self.counts.get((obs, act), (0, 0))]
                            for (obs, act), text in self.table.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> ResidualMemory:
        """Rebuild a memory written by :meth:`to_dict` (version 1 dicts: case-keeping keys)."""
        if d.get("version") not in (1, 2):
            raise ValueError(f"unsupported ResidualMemory dict version: {d.get('version')!r}")
        table: dict[tuple[str, str], str] = {}
        counts: dict[tuple[str, str], tuple[int, int]] = {}
        for obs, act, text, best, total in d["entries"]:
            table[(obs, act)] = text
            counts[(obs, act)] = (int(best), int(total))
        return cls(table=table, min_count=int(d["min_count"]), min_confidence=float(d["min_confidence"]),
                   max_entries=int(d["max_entries"]), lowercase=bool(d.get("lowercase", False)), counts=counts)


@dataclass(frozen=True)
class Residual:
    """A finished program wrapped post hoc with a train-only memory (the paper's Residual variant)."""

    program: Any
    memory: ResidualMemory

    @classmethod
    def wrap(cls, program: Any, train: Sequence[Any], preset: str = "reference") -> Residual:
        """``program`` (the Simple run's result, unchanged) with a memory built from ``train``."""
        return cls(program, ResidualMemory.preset(train, preset))


def hit_counts(from_memory: Iterable[bool], predicted: Iterable[str], true: Iterable[str]) -> dict[str, int]:
    """``memory_hits`` (rows answered from memory) and ``memory_wrong_hits`` (those whose text is not the truth)."""
    hits = wrong = 0
    for hit, pred, gold in zip(from_memory, predicted, true, strict=True):
        if hit:
            hits += 1
            wrong += pred != gold
    return {"memory_hits": hits, "memory_wrong_hits": wrong}
