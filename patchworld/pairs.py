"""Second-order candidates of the wide search: two single mutations of one program applied at once.

:func:`combine` makes the one patch that applies two children's edits to their parent;
:func:`second_order` picks which pairs a beam member (:class:`patchworld.population.Member`) gets once
its single mutations are used up.
"""

from __future__ import annotations

import itertools
from typing import Any

__all__ = ["combine", "second_order"]


def combine(parent: Any, a: Any, b: Any) -> Any | None:
    """The proposal applying both children's edits to their parent (None when they collide)."""
    from patchworld.patches import PatchError, apply_patch, patch_from_sources
    from patchworld.proposers.base import Proposal

    try:
        both = apply_patch(apply_patch(parent.source, a.patch).source, b.patch).source
        patch = patch_from_sources(parent, both, origin="combine", note=f"{a.patch.note} + {b.patch.note}")
    except (PatchError, ValueError):
        return None
    return Proposal(patch, "ast_mutation", response=patch.note, extra={"combined": [a.patch.id, b.patch.id]})


def second_order(member: Any, n: int, suspicion: Any = None, top: int = 12) -> list[Any]:
    """Up to ``n`` proposals applying two of the member's single mutations at once, each pair once, taking
    turns: a pair of its most promising ones (highest mutant scores first), a pair of silent ones
    (mutants that changed no prediction) on two of the most suspicious lines, a promising one with a
    silent one. Two bugs on one chain mask each other: fixing the first alone changes nothing or
    exposes the second (a crash further on), so only both at once shows."""
    best = sorted(member.promising, key=lambda sp: -sp[0])[:top]
    blame = suspicion.at if suspicion is not None else (lambda line: 0.0)
    silent = sorted(member.silent, key=lambda lp: -blame(lp[0]))[: 2 * top]
    loud = list(itertools.combinations([p for _, p in best], 2))

    def by_blame(pairs: Any) -> list[tuple[Any, Any]]:
        return sorted(((a, b) for a, b in pairs if a.extra.get("line") != b.extra.get("line")),
                      key=lambda ab: -(blame(ab[0].extra.get("line", 0)) + blame(ab[1].extra.get("line", 0))))

    quiet = by_blame(itertools.combinations([p for _, p in silent], 2))
    mixed = by_blame(itertools.product([p for _, p in best], [p for _, p in silent]))
    pairs = [ab for turn in itertools.zip_longest(loud, quiet, mixed) for ab in turn if ab is not None]  # taking turns
    out = []
    for a, b in pairs:
        if len(out) >= n:
            break
        pair = (a.patch.id, b.patch.id)
        if pair in member.pairs_tried:
            continue
        member.pairs_tried.add(pair)
        combo = combine(member.program, a, b)
        if combo is not None:
            out.append(combo)
    return out
