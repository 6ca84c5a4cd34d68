"""A second step after an edit that exposed a crash: repair the crash site in that child, keep both edits.

Two bugs on one path often hide each other: the first sends every transition away from the code the
second sits in. Fixing the first then makes the second run, and the child raises there; the gate ranks
a program with new exceptions below its parent, so the child is rejected and its fix is lost. The wide
search (:mod:`patchworld.population`) records such children (:func:`exposed_line`: the crash site of
rows the child raises on where its parent did not raise, or raised elsewhere) and, in a later round,
proposes the child's own mutations at that line, at the test of the ``if`` that let the rows reach
it and, when the error says a value had the wrong type, at the calls that led to the crash, each as one
patch against the parent that carries both edits (:func:`second_steps`); :func:`pop_by_site` picks which
recorded crashes a round completes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["exposed_line", "failed_operator", "failed_call", "wrong_argument", "calling_lines", "guard_line",
           "pop_by_site", "second_steps"]


def exposed_line(child_source: str, child_cols: Sequence[list], parent_crashed: set[str] | Mapping[str, Any],
                 spans: dict | None = None) -> tuple[int, str, str] | None:
    """(line, function, error) most of the child's new crashes end at (innermost program frame), or None;
    ``error`` is the text of the first of those crashes (what :func:`second_steps` reads the failed
    operation from).

    ``child_cols``: the child's ``id``, ``error_kind`` and ``error`` columns (a screening sample or
    a full replay); ``parent_crashed``: the rows the parent raised on, as a set of ids (a crash on
    such a row is not new) or as a mapping id -> the parent's crash site ``(line, function)`` (a
    crash on such a row is new when it ends elsewhere: a parent whose first bug raised on every
    row must not hide the second bug its fix runs into); ``spans``: the child's
    :func:`patchworld.localise.function_spans` if known (its parent's, when the edit kept every line
    where it was), else computed when a new crash needs them."""
    from collections import Counter

    from patchworld.localise import function_spans, program_frames

    ids, kinds, errors = child_cols
    sites: Counter[tuple[int, str]] = Counter()
    first: dict[tuple[int, str], str] = {}
    parent_sites = parent_crashed if isinstance(parent_crashed, Mapping) else dict.fromkeys(parent_crashed)
    for rid, kind, error in zip(ids, kinds, errors, strict=True):
        if kind != "exception" or not error or (rid in parent_sites and parent_sites[rid] is None):
            continue
        spans = spans if spans is not None else function_spans(child_source)
        frames = program_frames(error, spans)
        if frames:
            site = (frames[-1][1], frames[-1][0])
            if parent_sites.get(rid) == site:
                continue   # the parent raised here too
            sites[site] += 1
            first.setdefault(site, error)
    if not sites:
        return None
    site = sites.most_common(1)[0][0]
    return (*site, first[site])


_OPERATION = (
    re.compile(r"unsupported operand type\(s\) for ([-+*/%&|^<>@]+?)=?:"),   # a binary operator or its augmented form
    re.compile(r"can only concatenate \w+ \(not"),                           # str + int, list + str: '+'
    re.compile(r"'([<>]=?)' not supported between instances"),               # an order comparison
)


def failed_operator(error: str) -> str | None:
    """The operator an error says failed (``unsupported operand type(s) for -: ...`` -> ``-``), or None.
    The interpreter's own TypeError messages name the failed operation; a crash line offers several
    edits (swaps, constants, other operators), and this says which to try first."""
    for k, pattern in enumerate(_OPERATION):
        m = pattern.search(error or "")
        if m:
            return "+" if k == 1 else m.group(1)
    return None


def failed_call(error: str) -> bool:
    """Whether an error is a TypeError that names no failed operator (:func:`failed_operator`): a call
    that got an argument of the wrong type (``'NoneType' object is not an iterator`` from
    ``next(None, items)``, ``first argument must be string or compiled pattern``), most often two
    arguments in the wrong order, so swapping a call's arguments at the crash line is tried first."""
    return "TypeError" in (error or "") and failed_operator(error) is None


def wrong_argument(error: str) -> bool:
    """Whether an error says a value had the wrong type (a ``TypeError`` or ``AttributeError``): raised in a
    helper, the value often came from a call that passed its arguments in the wrong order."""
    return any(kind in (error or "") for kind in ("TypeError", "AttributeError"))


def calling_lines(source: str, error: str, line: int) -> list[tuple[str, int]]:
    """(function, line) of the program frames an ``error`` names around its crash site at ``line``, nearest
    caller first (the crash line itself left out; none when ``source`` does not parse)."""
    from patchworld.localise import function_spans, program_frames

    try:
        frames = program_frames(error, function_spans(source))
    except SyntaxError:
        return []
    return [(f, n) for f, n in reversed(frames[:-1]) if n != line][:2]


def guard_line(source: str, line: int) -> int | None:
    """The line of the test of the innermost ``if`` / ``elif`` / ``while`` whose body holds ``line`` (the
    test that let a row reach it), or None (no such statement, or the source does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    best: ast.AST | None = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.While)) and node.body:
            first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
            if first <= line <= last and node.test.lineno < first and (best is None or node.lineno > best.lineno):
                best = node
    return best.test.lineno if best is not None else None


def pop_by_site(entries: list, heads: int, extras: int, first_line: Callable[[Any], Any],
                prefer: Callable[[Any], bool] = lambda entry: False) -> tuple[list, list]:
    """(the first ``heads`` of ``entries``, up to ``extras`` later entries that crashed at one of those heads'
    sites with a first edit on a line no taken entry of that site edited), all of them removed from ``entries``.

    ``entries``: exposed crashes in priority order, ``(line, function, ...)`` tuples; ``first_line(entry)``:
    the line of the entry's first edit. Many first edits let the rows reach one second bug (un-negating
    the early return in front of it, or changing upstream what the belief holds); which of them is the
    real fix the crash cannot tell, and the first ones in priority order are often variants of one edit, so
    the extras try other first edits with the repair of the same crash, the entries ``prefer`` picks first
    (then in priority order)."""
    taken, sites = list(range(min(heads, len(entries)))), {}
    for i in taken:
        sites.setdefault((entries[i][0], entries[i][1]), set()).add(first_line(entries[i]))
    more: list[int] = []
    for i in sorted(range(len(taken), len(entries)), key=lambda i: not prefer(entries[i])):
        lines = sites.get((entries[i][0], entries[i][1]))
        if len(more) < extras and lines is not None and first_line(entries[i]) not in lines:
            lines.add(first_line(entries[i]))
            more.append(i)
    out = [entries[i] for i in taken], [entries[i] for i in more]
    for i in sorted(taken + more, reverse=True):
        del entries[i]
    return out


def second_steps(proposer: Any, parent: Any, child: Any, first: Any, line: int, function: str,
                 shown: Sequence[Any], env: str, k: int = 3, error: str = "") -> list[Any]:
    """Up to ``k`` proposals, each the parent -> (``child`` with one of its best mutations at ``line``
    of ``function``, the crash site :func:`exposed_line` found): the ``first`` edit and a repair of the
    crash it exposed, as one patch. When the crash's ``error`` names the operator that failed
    (:func:`failed_operator`), edits of that operator come first; when it is another TypeError (a call
    given the wrong type: :func:`failed_call`), swapped call arguments. Then up to ``k`` more at the test of
    the ``if`` that let the rows reach the crash (:func:`guard_line`; negations first): the second bug
    is often not where the program raised but in the test that sent the rows there. When the error says a
    value had the wrong type (:func:`wrong_argument`), up to ``k`` more at each of the two nearest calls
    that led to the crash (:func:`calling_lines`; swapped arguments first): a helper raising on its argument
    was often called with its arguments swapped. Needs a proposer
    that ranks mutations of any program
    (:meth:`patchworld.proposers.mutation.MutationProposer.candidates`)."""
    from patchworld.localise import Suspicion
    from patchworld.patches import PatchError, patch_from_sources
    from patchworld.proposers.base import Proposal, ProposalRequest

    rank = getattr(proposer, "candidates", None)
    if rank is None:
        return []
    guard = guard_line(child.source, line)
    callers = calling_lines(child.source, error, line) if wrong_argument(error) else []
    functions = {function, *(f for f, _ in callers)}
    focus = Suspicion({line: 1.0, **({guard: 1.0} if guard else {}), **dict.fromkeys((n for _, n in callers), 1.0)},
                      dict.fromkeys(functions, 1.0), "exposed crash")
    try:
        ranked = rank(ProposalRequest(env=env, program=child, counterexamples=list(shown), n=k, suspicion=focus),
                      functions=functions)
    except SyntaxError:
        return []
    at_line = [c for c in ranked if int(getattr(c.mutation.node, "lineno", 0)) == line]
    operator = failed_operator(error)
    if operator is not None:   # stable: the proposer's order within each group
        at_line.sort(key=lambda c: not (c.mutation.operator.startswith("flip_")
                                        and c.mutation.note.startswith(f"'{operator}' ->")))
    elif failed_call(error):
        at_line.sort(key=lambda c: c.mutation.operator != "swap_args")
    at_guard = sorted((c for c in ranked if guard and int(getattr(c.mutation.node, "lineno", 0)) == guard),
                      key=lambda c: c.mutation.operator != "negate_cond")
    at_calls = [(sorted((c for c in ranked if int(getattr(c.mutation.node, "lineno", 0)) == n),
                        key=lambda c: c.mutation.operator != "swap_args"), n) for _, n in callers]
    out: list[Any] = []
    for group, where in ((at_line, line), (at_guard, guard), *at_calls):
        taken = 0
        for cand in group:
            if taken >= k:
                break
            if cand.child == parent.source or not cand.parses():
                continue
            note = f"{first.patch.note} + {cand.function}:{where} {cand.mutation.operator}: {cand.mutation.note}"
            try:
                patch = patch_from_sources(parent, cand.child, origin="exposed", note=note)
            except (PatchError, ValueError):
                continue
            out.append(Proposal(patch, "ast_mutation", response=note,
                                extra={"combined": [first.patch.id], "line": where}))
            taken += 1
    return out
