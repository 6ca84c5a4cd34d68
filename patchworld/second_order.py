"""Second-order candidates of the wide search and the evidence they are picked from.

:func:`gather_evidence` records what each evaluated child says about its parent member
(:class:`patchworld.beam.Member`); :func:`combine` makes the one patch that applies two
children's edits to their parent; :func:`second_order` picks which pairs a member gets once its
single mutations are used up.
"""

from __future__ import annotations

import itertools
from typing import Any

from patchworld.dataflow import key_effects, linked

__all__ = ["combine", "second_order", "unmasked", "gather_evidence", "pairs_to_combine", "changed_rows", "SILENT"]

SILENT = 0.25
"""Mutant evidence of a line whose mutant changed no prediction (a line never mutated counts 0.5)."""


def pairs_to_combine(cands: list, replays: dict, fixers: int = 6, improvers: int = 4) -> list[tuple[Any, Any, Any]]:
    """``(proposal, proposal, member)`` pairs of two children of one parent member worth one patch:
    two of the ``fixers`` children that made the most of its transitions exact, each different ones;
    then two of the ``improvers`` best children strictly better than it on val whose changed
    predictions fall on different rows (two edits that each help elsewhere, neither making a row
    exact: a dropped word restored in one page and a field fixed in another). ``cands``: (slot,
    proposal, verdict, child, member); ``replays``: child hash -> its replay (full val replays only count)."""
    from patchworld.gate import score, score_key
    from patchworld.screening import Screened, columns

    fixing, improving = [], []
    for _, p, _v, child, member in cands:
        rep = replays.get(child.hash) if child is not None else None
        if rep is None or isinstance(rep, (Screened, BaseException)):
            continue
        fixed, _broken = member.compare(rep)
        if fixed:
            fixing.append((len(fixed), set(fixed), p, member))
        key = score_key(score(rep))
        if key > member.key:
            improving.append((key, changed_rows(member.rows(), *columns(rep, "id", "predicted")), p, member))
    fixing.sort(key=lambda f: -f[0])
    improving.sort(key=lambda f: f[0], reverse=True)
    out, seen = [], set()
    for group in (fixing[:fixers], improving[:improvers]):
        for a, b in itertools.combinations(group, 2):
            pair = frozenset((id(a[2]), id(b[2])))
            if a[3] is b[3] and not (a[1] & b[1]) and pair not in seen:
                seen.add(pair)
                out.append((a[2], b[2], a[3]))
    return out


def changed_rows(parent_rows: dict, ids: list, preds: list) -> set[str]:
    """Ids of the rows whose prediction differs from the parent's (``parent_rows``: id -> (exact, prediction))."""
    return {i for i, pred in zip(ids, preds, strict=True) if parent_rows.get(i, (None, pred))[1] != pred}


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


def unmasked(current: Any, replaced: Any, accepted: Any, silent: list, suspicion: Any, k: int = 6) -> list[Any]:
    """Up to ``k`` proposals current -> (``replaced`` with the ``accepted`` edit and one of its silent
    mutants): one mutant a line, on the lines ``suspicion`` (the current program's) blames most first,
    then the lines' next ones.

    A mutant that changed no prediction of ``replaced`` may have been masked by the bug the accepted
    edit just fixed (a feedback that was never right cannot show that its parse was skipped too); in
    the accepted program it can show. ``silent``: (line, proposal) of ``replaced``'s single mutants,
    each a patch against it, as :func:`gather_evidence` records them."""
    from patchworld.patches import PatchError, apply_patch, patch_from_sources
    from patchworld.proposers.base import Proposal

    edited = (accepted.extra or {}).get("line")
    seen: dict[int, int] = {}
    order = []   # (mutants of its line before it, -blame of its line, line, mutant)
    for line, mutant in silent:
        if line != edited:
            order.append((seen.get(line, 0), -suspicion.at(line), line, mutant))
            seen[line] = seen.get(line, 0) + 1
    ranked = [(line, mutant) for _, _, line, mutant in sorted(order, key=lambda o: o[:2])]
    out: list[Any] = []
    for line, mutant in ranked:
        if len(out) >= k:
            break
        try:   # current is replaced with the accepted edit: the mutant's edit applies on top of it
            both = apply_patch(current.source, mutant.patch).source
            patch = patch_from_sources(current, both, origin="unmasked", note=f"{mutant.patch.note} (unmasked)")
        except (PatchError, ValueError):
            continue
        out.append(Proposal(patch, "ast_mutation", response=patch.note,   # "function": redo may try the line again
                            extra={"line": line, "function": (mutant.extra or {}).get("function"), "unmasked": True}))
    return out


def second_order(member: Any, n: int, suspicion: Any = None, top: int = 12,
                 turns: tuple[str, ...] = ("loud", "quiet", "mixed"), linked_only: bool = False) -> list[Any]:
    """Up to ``n`` proposals applying two of the member's single mutations at once, each pair once, taking
    turns: a pair of its most promising ones (highest mutant scores first), a pair of silent ones
    (mutants that changed no prediction) on two of the most suspicious lines, a promising one with a
    silent one. Two bugs on one chain mask each other: fixing the first alone changes nothing or
    exposes the second (a crash further on), so only both at once shows. ``turns``: which of the three
    kinds take turns ("loud", "quiet", "mixed"); ``linked_only``: quiet and mixed pairs only on lines a key
    links."""
    best = sorted(member.promising, key=lambda sp: -sp[0])[:top]
    blame = suspicion.at if suspicion is not None else (lambda line: 0.0)
    silent = _silent_on_top_lines(member.silent, blame, top)   # (proposal, its place among its line's)
    place = {id(p): i for p, i in silent}
    loud = list(itertools.combinations([p for _, p in best], 2))

    effects = key_effects(member.program.source)

    def ranked(pairs: Any) -> list[tuple[Any, Any]]:
        """Pairs on two lines: those whose lines a belief key links first (one writes what the other
        reads: how one bug can mask another, :func:`patchworld.dataflow.key_effects`); then of the lines'
        first silent mutants first, then those reaching a second one, and so on (a line's mutants are
        alternatives, the first only the likeliest); then by the two lines' blame."""
        keyed = []
        for a, b in pairs:
            la, lb = a.extra.get("line", 0), b.extra.get("line", 0)
            link = linked(effects, la, lb)
            if la != lb and (link or not linked_only):
                keyed.append(((not link, max(place.get(id(a), 0), place.get(id(b), 0)), -(blame(la) + blame(lb))), a, b))
        return [(a, b) for _, a, b in sorted(keyed, key=lambda kab: kab[0])]

    quiet = ranked(itertools.combinations([p for p, _ in silent], 2))
    mixed = ranked(itertools.product([p for _, p in best], [p for p, _ in silent]))
    kinds = {"loud": loud, "quiet": quiet, "mixed": mixed}
    pairs = [ab for turn in itertools.zip_longest(*(kinds[t] for t in turns)) for ab in turn if ab is not None]
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


def _silent_on_top_lines(silent: list, blame: Any, lines: int, per_line: int = 8) -> list[tuple[Any, int]]:
    """(proposal, its place among its line's silent mutants) for the first ``per_line`` distinct silent
    mutants of each of the ``lines`` most blamed lines, in the order they were evaluated (the proposer's
    rank) within a line (the cap bounds the pairs a long-lived member sorts)."""
    by_line: dict[int, list[Any]] = {}
    seen: set[str] = set()
    for line, p in silent:
        if p.patch.id not in seen:   # the same edit proposed again in a later round
            seen.add(p.patch.id)
            by_line.setdefault(line, []).append(p)
    top = sorted(by_line, key=lambda line: -blame(line))[:lines]
    return [(p, i) for line in top for i, p in enumerate(by_line[line][:per_line])]


def gather_evidence(cands: list, replays: dict) -> None:
    """What this round's evaluated children tell about their parent member: per line the best mutant
    score (see :func:`patchworld.localise.mutant_score`), which single mutants were promising or
    silent (inputs of :func:`second_order`), which exposed a crash (see :mod:`patchworld.exposed`).
    ``cands``: (slot, proposal, verdict, child, member); ``replays``: child hash -> its replay."""
    from patchworld.exposed import exposed_line
    from patchworld.localise import mutant_score
    from patchworld.screening import Screened, columns

    rows: dict[int, dict] = {}
    for _, p, _v, child, member in cands:
        line = (p.extra or {}).get("line") if p is not None else None
        rep = replays.get(child.hash) if child is not None else None
        rep = rep.replay if isinstance(rep, Screened) else rep
        if not line or rep is None or isinstance(rep, BaseException):
            continue
        parent_rows = rows.setdefault(id(member), member.rows())
        ids, preds, exacts, kinds, errors = columns(rep, "id", "predicted", "exact", "error_kind", "error")
        value = mutant_score(parent_rows, ids, preds, exacts)
        silent = value <= 0 and not changed_rows(parent_rows, ids, preds)
        # a mutant that changed no prediction says its code did not matter here (a branch not taken),
        # not that the line is innocent: it halves the line's unknown prior instead of zeroing it
        member.evidence[line] = max(member.evidence.get(line, 0.0), SILENT if silent else round(value, 6))
        if p.patch is None or (p.extra or {}).get("combined"):
            continue
        same_lines = child.source.count("\n") == member.program.source.count("\n")
        sites = member.crash_sites()   # by line only while the child's lines are where the parent's were
        crash = exposed_line(child.source, [ids, kinds, errors], sites if same_lines else set(sites),
                             member.spans() if same_lines else None)
        if crash is not None and crash[0] != line:  # not the edit's own line breaking
            member.exposed.append((*crash, p, child))
        if value > 0:
            member.promising.append((value, p))
        elif silent:
            member.silent.append((line, p))
