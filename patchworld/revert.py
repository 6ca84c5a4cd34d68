"""Undo one hunk of an earlier accepted edit: a compensation the later fix made wrong.

With two bugs, the first edit the gate accepts is sometimes not a fix but a compensation: deleting
the statement that turned the first bug's wrong value into wrong predictions scores better than
leaving it. Once a later round fixes the bug itself, the compensation is a bug of its own, and no
mutation restores a deleted statement. So, for a program it just accepted, the wide search
(:mod:`patchworld.population`) proposes next round the current program with one hunk of one earlier
accepted edit put back as it was (:func:`reverts`), newest edits first; a combined patch's two hunks
are undone one at a time. A revert that would give back a program the session already had is
skipped (the gate rejected or replaced it). The gate judges them as usual: only one strictly better
on val than the current program replaces it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

__all__ = ["hunks", "reverts"]


def hunks(before: str, after: str) -> list[tuple[list[str], list[str], int]]:
    """The changed blocks of ``before`` -> ``after`` as ``(pattern, replacement, lead)``: lines of
    ``after`` with one unchanged line of context each side where there is one, the same context
    around ``before``'s lines, and how many context lines lead the pattern (0 or 1)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        lo, hi = (1 if j1 > 0 and i1 > 0 else 0), (1 if j2 < len(b) and i2 < len(a) else 0)
        out.append((b[j1 - lo:j2 + hi], a[i1 - lo:i2 + hi], lo))
    return out


def _function_at(spans: dict[str, list[tuple[int, int]]], line: int) -> str:
    """Name of the innermost function holding ``line`` ("" when none); ``spans``:
    :func:`patchworld.localise.function_spans` of the program."""
    holding = [(first, name) for name, ranges in spans.items() for first, last in ranges if first <= line <= last]
    return max(holding)[1] if holding else ""


def reverts(current: Any, history: Sequence[tuple[str, str, str]], k: int = 6) -> list[Any]:
    """Up to ``k`` proposals current -> current with one hunk of an accepted edit undone, newest edit
    first. ``history``: (source before, source after, label) of the accepted edits, oldest first; a
    revert giving back one of those sources (a program the session already had) is skipped, and so
    is a hunk whose text is no longer in the current program exactly once."""
    from patchworld.localise import function_spans
    from patchworld.patches import PatchError, patch_from_sources
    from patchworld.proposers.base import Proposal

    lines = current.source.splitlines(keepends=True)
    known = {source for before, after, _ in history for source in (before, after)}
    spans: dict[str, list[tuple[int, int]]] | None = None
    out: list[Any] = []
    for before, after, label in reversed(history):
        for pattern, replacement, lead in hunks(before, after):
            if len(out) >= k:
                return out
            starts = [i for i in range(len(lines) - len(pattern) + 1) if lines[i:i + len(pattern)] == pattern]
            if len(starts) != 1 or not pattern:
                continue
            i = starts[0]
            child = "".join(lines[:i] + replacement + lines[i + len(pattern):])
            if child == current.source or child in known:
                continue
            known.add(child)
            line = i + 1 + lead
            spans = spans if spans is not None else function_spans(current.source)
            function = _function_at(spans, line)
            note = f"{function}:{line} revert: undo {label}'s edit here"
            try:
                patch = patch_from_sources(current, child, origin="revert", note=note)
            except (PatchError, ValueError):
                continue
            out.append(Proposal(patch, "ast_mutation", response=note,
                                extra={"revert": label, "line": line, "function": function}))
    return out
