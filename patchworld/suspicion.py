"""Suspicion per line as a run recorded it and as the candidate view shows it.

A beam round records, for each program it expanded, how :func:`patchworld.localise.localise` scored its
lines (``rounds.jsonl``: ``suspicion`` -> parent hash -> ``method``, ``lines``, ``functions``). These
helpers read it back (no program code runs), and :func:`line_suspicion` computes it afresh for any program
and its val replay. Kept apart from :mod:`patchworld.localise` so the views need none of its machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["line_suspicion", "recorded_localisation", "recorded_suspicion", "scored_lines"]


def line_suspicion(source: str, replay: Any, formula: str = "ochiai") -> dict[int, float]:
    """Line number -> suspicion in [0, 1] of ``source`` given its val ``replay`` (a
    :class:`patchworld.replay.Replay`); lines outside functions are left out. For the
    notebooks' candidate view: the column beside the source."""
    from patchworld.localise import localise

    lines_run = getattr(replay, "lines", None) or (getattr(replay, "extra", None) or {}).get("lines")
    return localise(source, replay.steps, lines_run, formula).lines


def recorded_localisation(rounds: Sequence[Mapping[str, Any]], round_no: int,
                          parent: str) -> Mapping[str, Any] | None:
    """What the wide search recorded of its localisation of program ``parent`` in round ``round_no``
    (``method``, ``lines``, ``functions``), from a run's round records (``RunStore.rounds()`` or
    ``rounds.jsonl``); None when that round recorded none (greedy rounds, hand edits)."""
    for record in rounds:
        if int(record.get("round", -1)) == int(round_no):
            entry = (record.get("suspicion") or {}).get(parent)
            if entry:
                return entry
    return None


def recorded_suspicion(rounds: Sequence[Mapping[str, Any]], round_no: int, parent: str) -> dict[int, float] | None:
    """Line -> suspicion the wide search used in round ``round_no`` for program ``parent`` (the
    parent of that round's candidates): :func:`recorded_localisation`'s lines, or None."""
    entry = recorded_localisation(rounds, round_no, parent)
    return scored_lines(entry) if entry else None


def scored_lines(entry: Mapping[str, Any]) -> dict[int, float]:
    """Line number -> score of one recorded localisation (JSON keeps the line numbers as strings)."""
    return {int(k): float(v) for k, v in entry.get("lines", {}).items()}

