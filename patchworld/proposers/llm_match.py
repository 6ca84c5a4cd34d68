"""Applying a model's edits to the program it was shown, flexibly but never ambiguously.

:func:`resolve` applies edits in order and returns the child source plus how each matched:
``exact``; ``whitespace`` (trailing spaces, blank lines at the ends, a uniform indent shift);
``indent`` (every line's indentation differs but the stripped lines match; the replacement is
re-indented by the first line's shift); ``elided`` (the SEARCH skips lines with ``...`` or
``# ... existing code ...``; the REPLACE either elides at the same places, keeping those lines,
or replaces the whole span). A block that matches nowhere, or more than once, is an
:class:`EditFailed` whose message quotes the closest lines (line-level, bounded), which is what
the re-ask shows the model. The result becomes an exact patch (``patch_from_sources``), so the
gate applies exactly what was resolved here.

:func:`module_problems` checks a whole-module reply without running it (syntax, a class,
names used but never defined or imported), so an incomplete module costs no replay.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Sequence

from patchworld.patches import Edit
from patchworld.patches import leading_indent as _indent
from patchworld.patches import trim_blank as _trim

__all__ = ["EditFailed", "resolve", "module_problems", "closest_lines"]

_ELISION = re.compile(r"^\s*(?:#\s*)?(?:\.{3}|…)(?:.*(?:existing|unchanged|rest|same|code|omitted|\.\.\.).*)?\s*$",
                      re.IGNORECASE)
MAX_NEAREST_LINES = 4000  # the nearest-block search looks at this many source lines at most


class EditFailed(ValueError):
    """An edit that does not apply; the message is written for the model (the re-ask shows it)."""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _windows(src: list[str], want: list[str], key) -> list[int]:
    """Start lines where ``want`` matches ``src`` under ``key`` (a per-line normaliser)."""
    n = len(want)
    if not n:
        return []
    target = [key(w) for w in want]
    first = target[0]
    return [i for i in range(len(src) - n + 1)
            if key(src[i]) == first and all(key(src[i + k]) == target[k] for k in range(1, n))]


def _shift(lines: list[str], old: str, new: str) -> list[str]:
    out = []
    for ln in lines:
        if not ln.strip():
            out.append("\n" if ln.endswith("\n") else "")
        elif ln.startswith(old):
            out.append(new + ln[len(old):])
        else:
            out.append(new + ln.lstrip(" \t"))
    return out


def _dedent(lines: list[str]) -> list[str]:
    """Lines without their common indent and trailing whitespace (blank lines as "")."""
    indents = [_indent(ln) for ln in lines if ln.strip()]
    common = min(indents, key=len) if indents else ""
    while common and not all(i.startswith(common) for i in indents):
        common = common[:-1]
    return [ln.rstrip()[len(common):] if ln.strip() else "" for ln in lines]


def _reindent(lines: list[str], search: list[str], src: list[str], start: int) -> list[str]:
    """Re-indent replacement lines the way the matched search lines map onto the source's indents."""
    want = _trim(search)
    mapping = {_indent(s): _indent(src[start + k]) for k, s in enumerate(want) if s.strip()}
    first_old, first_new = _indent(want[0]), _indent(src[start])
    out = []
    for ln in lines:
        if not ln.strip():
            out.append("\n" if ln.endswith("\n") else "")
            continue
        ind = _indent(ln)
        if ind in mapping:
            out.append(mapping[ind] + ln[len(ind):])
        elif ind.startswith(first_old):
            out.append(first_new + ln[len(first_old):])
        else:
            out.append(first_new + ln.lstrip(" \t"))
    return out


def _find(src: list[str], search: list[str], after: int) -> tuple[int, int, str, str, str]:
    """The one place ``search`` matches in ``src[after:]``: (start, end, tier, search indent, source indent)."""
    want = _trim(search)
    if not want:
        raise EditFailed("an empty SEARCH part")
    tail = src[after:]
    for tier in ("exact", "whitespace", "indent"):
        if tier == "exact":
            hits = _windows(tail, want, lambda s: s.rstrip("\r\n"))
        elif tier == "whitespace":   # trailing spaces and one uniform indent shift
            target = _dedent(want)
            hits = [i for i in _windows(tail, want, lambda s: s.strip()) if _dedent(tail[i : i + len(want)]) == target]
        else:
            hits = _windows(tail, want, lambda s: s.strip())
        if len(hits) > 1:
            where = ", ".join(str(after + h + 1) for h in hits[:8])
            raise EditFailed(f"the SEARCH part matches {len(hits)} places (lines {where}); copy more lines around "
                             "the change so it matches one place only")
        if hits:
            start = after + hits[0]
            return start, start + len(want), tier, _indent(want[0]), _indent(src[start])
    raise EditFailed("not found")


def _segments(lines: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for ln in lines:
        if _ELISION.match(ln):
            out.append([])
        else:
            out[-1].append(ln)
    return out


def closest_lines(source: str, search: str, context: int = 0) -> tuple[int, int, str]:
    """The source lines most like ``search`` (line-level overlap, bounded): (first, last, text)."""
    src = _lines(source)[:MAX_NEAREST_LINES]
    want = [ln.strip() for ln in _trim(_lines(search)) if ln.strip()]
    if not src or not want:
        return 0, 0, ""
    wanted = set(want)
    n = len(want)
    best, best_at = -1, 0
    stripped = [ln.strip() for ln in src]
    for i in range(max(1, len(src) - n + 1)):
        score = sum(1 for s in stripped[i : i + n] if s in wanted)
        if score > best:
            best, best_at = score, i
    if best <= 0:  # no line in common: fall back to shared words
        words = set(re.findall(r"\w+", search))
        scores = [len(words & set(re.findall(r"\w+", ln))) for ln in stripped]
        best_at = max(range(len(scores)), key=scores.__getitem__)
    first = max(0, best_at - context)
    last = min(len(src), best_at + n + context)
    return first + 1, last, "".join(src[first:last])


def _explain(source: str, edit: Edit, index: int, total: int) -> EditFailed:
    first, last, block = closest_lines(source, edit.search, context=1)
    quoted = "".join(block) if block.endswith("\n") else block + "\n"
    return EditFailed(f"edit {index + 1} of {total}: the SEARCH part is not in the program; the closest lines "
                      f"(lines {first}-{last}) are:\n{quoted}Copy SEARCH lines exactly from the program.")


def _apply_one(text: str, edit: Edit, index: int, total: int) -> tuple[str, str]:
    src = _lines(text)
    if text and not text.endswith("\n"):
        src[-1] += "\n"
    segs = _segments(_lines(edit.search))
    reps = _segments(_lines(edit.replace))
    segs_nonempty = [s for s in segs if _trim(s)]
    if not segs_nonempty:
        raise EditFailed(f"edit {index + 1} of {total}: the SEARCH part is empty")
    places = []
    after = 0
    try:
        for seg in segs_nonempty:
            start, end, tier, s_ind, p_ind = _find(src, seg, after)
            places.append((start, end, tier, s_ind, p_ind))
            after = end
    except EditFailed as exc:
        if str(exc) == "not found":
            raise _explain(text, edit, index, total) from None
        raise EditFailed(f"edit {index + 1} of {total}: {exc}") from None
    tiers = {p[2] for p in places}
    tier = "elided" if len(places) > 1 else ("indent" if "indent" in tiers else
                                             "whitespace" if "whitespace" in tiers else "exact")
    if len(places) == 1 or len(reps) == 1:   # replace the whole span
        start, end = places[0][0], places[-1][1]
        new = _reindent(_trim(_lines(edit.replace)), segs_nonempty[0], src, start) if tier != "exact" \
            else _lines(edit.replace)
        if new and not new[-1].endswith("\n"):
            new[-1] += "\n"
        return "".join(src[:start] + new + src[end:]), tier
    if len(reps) != len(segs) or len([r for r in reps if _trim(r)]) > len(places):
        raise EditFailed(f"edit {index + 1} of {total}: the REPLACE part elides lines at other places than the "
                         "SEARCH part; repeat the elided lines or elide at the same places")
    out, cursor = [], 0
    rep_parts = [r for r, s in zip(reps, segs, strict=True) if _trim(s)]
    for (start, end, _t, _s, _p), seg, rep in zip(places, segs_nonempty, rep_parts, strict=True):
        out += src[cursor:start] + _reindent(_trim(rep), seg, src, start)
        cursor = end
    return "".join(out + src[cursor:]), tier


def resolve(source: str, edits: Sequence[Edit]) -> tuple[str, list[str]]:
    """Apply ``edits`` in order to ``source``; (child source, match tier per edit) or :class:`EditFailed`."""
    text, tiers = source, []
    for i, edit in enumerate(edits):
        if edit.search and edit.search in text and text.count(edit.search) == 1 and "\n" not in edit.search.strip():
            at = text.index(edit.search)   # an inline (sub-line) edit, e.g. from a prose pair
            text, tier = text[:at] + edit.replace + text[at + len(edit.search):], "exact"
        else:
            text, tier = _apply_one(text, edit, i, len(edits))
        tiers.append(tier)
    if text == source:
        raise EditFailed("the edits change nothing")
    return text, tiers


class _Names(ast.NodeVisitor):
    """Names bound anywhere in a module and names loaded anywhere (a coarse, scope-blind check)."""

    def __init__(self) -> None:
        self.bound: set[str] = set(dir(builtins)) | {"__name__", "__file__", "__doc__"}
        self.loaded: dict[str, int] = {}

    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802
        if isinstance(node.ctx, ast.Load):
            self.loaded.setdefault(node.id, node.lineno)
        else:
            self.bound.add(node.id)

    def visit_alias(self, node: ast.alias) -> None:
        self.bound.add((node.asname or node.name).split(".")[0])

    def visit_arg(self, node: ast.arg) -> None:
        self.bound.add(node.arg)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.bound.update(node.names)
        elif isinstance(node, ast.MatchAs) and node.name:
            self.bound.add(node.name)
        super().generic_visit(node)


def module_problems(source: str) -> str:
    """Why a whole module cannot work, found without running it ("" when none is found)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return f"SyntaxError at line {exc.lineno}: {exc.msg}"
    if not any(isinstance(node, ast.ClassDef) for node in tree.body):
        return "the module defines no class"
    names = _Names()
    names.visit(tree)
    missing = sorted((line, name) for name, line in names.loaded.items() if name not in names.bound)
    if missing:
        shown = ", ".join(f"{name} (line {line})" for line, name in missing[:6])
        return f"names used but never defined or imported: {shown}; add the imports or definitions"
    return ""
