"""Another edit on the line of the last accepted one: the line was right, the edit may not be.

When every transition fails (a parse that spoils every belief), coverage cannot tell lines apart and
the first edit accepted on the faulty line is often a partial fix (swapping which variable a test reads
instead of un-flipping the test). The real fix is then two edits away from the new program (undo the
partial fix, make the right one) and no single mutation of it reaches it. The wide search
(:mod:`patchworld.population`) remembers, for a program it just accepted, the program it replaced and
the line of the edit; the next round proposes that replaced program's other mutations of the line
and of the lines around it (a fix in an ``if`` 's body is often one in its test), each as one patch
against the accepted program (:func:`alternatives`). They skip the screening sample (each gets a
full val replay: the accepted edit and another one on its line differ on few rows, which a sample
of a few trajectories misses) and the gate judges them as usual: only one strictly better than the
accepted program replaces it. A program that only joined the beam gets the same for the edit that
made it (:func:`redo_of`), fewer and screened like any candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["alternatives", "redo_of"]


def redo_of(replaced: Any, extra: dict | None) -> tuple | None:
    """``(replaced, line, function)`` for :func:`alternatives` next round, from the ``extra`` of the
    proposal that made a program out of ``replaced``; None when it names no line (a combined or LLM
    edit) or was itself a redo (its line was just tried every way)."""
    extra = extra or {}
    line, function = extra.get("line"), extra.get("function")
    return (replaced, line, function) if line and function and not extra.get("redo") else None


def alternatives(proposer: Any, current: Any, replaced: Any, line: int, function: str, shown: Sequence[Any],
                 env: str, k: int = 12) -> list[Any]:
    """Up to ``k`` proposals current -> (``replaced`` with another of its mutations at ``line`` of
    ``function``, or the line above or below it): the best of each operator on each line first
    (the edited line's first), then the next best. Needs a proposer that ranks mutations of any
    program (:meth:`patchworld.proposers.mutation.MutationProposer.candidates`)."""
    from patchworld.localise import Suspicion
    from patchworld.patches import PatchError, patch_from_sources
    from patchworld.proposers.base import Proposal, ProposalRequest

    rank = getattr(proposer, "candidates", None)
    if rank is None or not line:
        return []
    near = (line, line - 1, line + 1)   # the edited line first, then its neighbours (an ``if`` above its body)
    focus = Suspicion({n: 1.0 - 0.1 * i for i, n in enumerate(near)}, {function: 1.0}, "last accepted edit")
    try:
        ranked = rank(ProposalRequest(env=env, program=replaced, counterexamples=list(shown), n=k, suspicion=focus),
                      functions={function})
    except SyntaxError:
        return []
    here = [c for c in ranked if int(getattr(c.mutation.node, "lineno", 0)) in near
            and c.child not in (current.source, replaced.source)]
    here.sort(key=lambda c: near.index(int(getattr(c.mutation.node, "lineno", 0))))   # stable: best first per line
    firsts, seen = [], set()
    for cand in here:
        key = (int(getattr(cand.mutation.node, "lineno", 0)), cand.mutation.operator)
        if key not in seen:
            seen.add(key)
            firsts.append(cand)
    first_ids = {id(c) for c in firsts}
    out: list[Any] = []
    for cand in firsts + [c for c in here if id(c) not in first_ids]:
        if len(out) >= k:
            break
        if not cand.parses():
            continue
        at = int(getattr(cand.mutation.node, "lineno", 0))
        note = f"{cand.function}:{at} {cand.mutation.operator}: {cand.mutation.note} (instead of the last edit)"
        try:
            patch = patch_from_sources(current, cand.child, origin="redo", note=note)
        except (PatchError, ValueError):
            continue
        out.append(Proposal(patch, "ast_mutation", response=note, extra={"redo": True, "line": at,
                                                                         "function": function}))
    return out
