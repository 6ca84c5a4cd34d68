"""Patches: SEARCH/REPLACE edits against a named parent program, applied strictly.

A :class:`Patch` is a sequence of :class:`Edit` s applied in order. Application is tiered so
that a proposer's small formatting slips do not waste a candidate, while anything vaguer
fails loudly:

1. ``exact``: the SEARCH text occurs exactly once in the current text (twice or more is an
   error: the edit would be ambiguous);
2. ``whitespace``: the SEARCH lines match a unique window of source lines once trailing
   whitespace is ignored and a uniform indentation shift is allowed; the REPLACE lines are
   re-indented by the same shift;
3. otherwise :class:`PatchError`, whose message quotes the nearest block of the source.

An empty SEARCH is only allowed against an empty (or blank) source: it is how an initial
program is expressed as a patch against the empty program ``""``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Edit",
    "Patch",
    "PatchError",
    "Applied",
    "apply_patch",
    "patch_from_sources",
    "unified_diff",
    "side_by_side_html",
    "source_hash",
]


def source_hash(source: str) -> str:
    """The program hash used everywhere: sha256 of the source text, first 12 hex chars."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Edit:
    """Replace the unique occurrence of ``search`` by ``replace``."""

    search: str
    replace: str


@dataclass(frozen=True)
class Patch:
    """Edits against the parent program (by hash), with the counterexamples that motivated it."""

    parent: str
    edits: tuple[Edit, ...]
    counterexample_ids: tuple[str, ...] = ()
    origin: str = ""
    note: str = ""

    @property
    def id(self) -> str:
        """Stable id from parent and edits only (same change, same id, whoever proposed it)."""
        payload = json.dumps([self.parent, [[e.search, e.replace] for e in self.edits]], ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "edits": [{"search": e.search, "replace": e.replace} for e in self.edits],
            "counterexample_ids": list(self.counterexample_ids),
            "origin": self.origin,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Patch:
        try:
            edits = tuple(Edit(str(e["search"]), str(e["replace"])) for e in d["edits"])
            return cls(
                parent=str(d["parent"]),
                edits=edits,
                counterexample_ids=tuple(d.get("counterexample_ids", ())),
                origin=str(d.get("origin", "")),
                note=str(d.get("note", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed patch record: missing or bad field {exc}") from None

    def render(self) -> str:
        """The edits in the SEARCH/REPLACE text format proposers use."""
        blocks = [f"<<<<<<< SEARCH\n{_nl(e.search)}=======\n{_nl(e.replace)}>>>>>>> REPLACE\n" for e in self.edits]
        return "\n".join(blocks)


class PatchError(ValueError):
    """A patch does not apply; the message names the edit and quotes the nearest block."""

    def __init__(self, message: str, edit_index: int = -1, nearest: str = ""):
        super().__init__(message)
        self.edit_index = edit_index
        self.nearest = nearest


@dataclass(frozen=True)
class Applied:
    """The patched source and, per edit, how it matched: ``"exact"`` or ``"whitespace"``."""

    source: str
    tiers: tuple[str, ...]

    @property
    def tier(self) -> str:
        """The loosest tier used by any edit (what a verdict records)."""
        return "whitespace" if "whitespace" in self.tiers else "exact"


def _nl(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def _occurrences(text: str, needle: str) -> list[int]:
    """Start offsets of ``needle`` in ``text``, overlapping ones included."""
    out, start = [], text.find(needle)
    while start != -1:
        out.append(start)
        start = text.find(needle, start + 1)
    return out


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _common_indent(lines: Sequence[str]) -> str:
    indents = [_indent(ln) for ln in lines if ln.strip()]
    if not indents:
        return ""
    common = indents[0]
    for ind in indents[1:]:
        while not ind.startswith(common):
            common = common[:-1]
    return common


leading_indent = _indent


def _normalized(lines: Sequence[str], indent: str) -> list[str]:
    return [ln.rstrip()[len(indent):] if ln.strip() else "" for ln in lines]


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


trim_blank = _trim_blank
"""``lines`` without leading and trailing blank lines (also used by the LLM reply matcher)."""


def _whitespace_matches(src_lines: list[str], search_lines: list[str]) -> list[tuple[int, str]]:
    """Windows (start line, window indent) matching the search up to trailing ws and an indent shift."""
    want = _normalized(search_lines, _common_indent(search_lines))
    n, found = len(search_lines), []
    for start in range(len(src_lines) - n + 1):
        window = src_lines[start : start + n]
        if window[0].strip() != search_lines[0].strip():
            continue
        indent = _common_indent(window)
        if _normalized(window, indent) == want:
            found.append((start, indent))
    return found


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    out = []
    for ln in lines:
        if not ln.strip():
            out.append(ln.lstrip(" \t") if ln.endswith("\n") else "")
        elif ln.startswith(old):
            out.append(new + ln[len(old):])
        else:
            out.append(ln)
    return out


NEAREST_SHORTLIST = 8
"""How many line-level candidates get a character-level comparison in :func:`nearest_block`."""
NEAREST_SECONDS = 0.5
"""Time cap for the character-level stage of :func:`nearest_block` (the line-level stage is linear)."""


def nearest_block(source: str, search: str) -> tuple[int, int, float, str]:
    """The block of ``source`` most similar to ``search``: (first line, last line, ratio, text).

    Bounded in time for long sources: windows are first ranked by how many of their stripped
    lines occur in ``search`` (line level, linear), then only the best few are compared
    character by character, under a time cap.
    """
    src_lines = source.splitlines(keepends=True)
    n = max(1, len(_trim_blank(search.splitlines(keepends=True))))
    if not src_lines:
        return 0, 0, 0.0, ""
    target = search.strip()
    wanted: dict[str, int] = {}
    for line in search.splitlines():
        wanted[line.strip()] = wanted.get(line.strip(), 0) + 1
    stripped = [line.strip() for line in src_lines]
    starts = range(0, max(1, len(src_lines) - n + 1))
    line_scores = []
    for start in starts:
        window = stripped[start:start + n]
        exact = sum(1 for line in window if line in wanted)
        shared = len(set(" ".join(window).split()) & set(target.split()))
        line_scores.append((exact, shared, -start))
    shortlist = sorted(starts, key=lambda st: line_scores[st], reverse=True)[:NEAREST_SHORTLIST]
    deadline = time.monotonic() + NEAREST_SECONDS
    best = (shortlist[0], min(shortlist[0] + n, len(src_lines)), -1.0)
    for start in shortlist:  # best line-level candidates first
        if time.monotonic() > deadline and best[2] >= 0:
            break
        block = "".join(src_lines[start : start + n]).strip()
        sm = difflib.SequenceMatcher(None, target, block, autojunk=False)
        if sm.real_quick_ratio() <= best[2] or sm.quick_ratio() <= best[2]:
            continue
        ratio = sm.ratio()
        if ratio > best[2]:
            best = (start, min(start + n, len(src_lines)), ratio)
    start, end, ratio = best
    return start + 1, end, max(ratio, 0.0), "".join(src_lines[start:end])


def _fail(source: str, edit: Edit, index: int, total: int, parent: str) -> PatchError:
    first, last, ratio, block = nearest_block(source, edit.search)
    quoted = "\n".join("    | " + ln for ln in edit.search.rstrip("\n").splitlines()[:12])
    near = "\n".join("    | " + ln for ln in block.rstrip("\n").splitlines())
    diff = "".join(
        difflib.unified_diff(
            _nl(textwrap.dedent(block)).splitlines(keepends=True),
            _nl(textwrap.dedent(edit.search)).splitlines(keepends=True),
            "nearest", "search", n=1,
        )
    )
    msg = (
        f"edit {index + 1} of {total}: SEARCH block not found in parent {parent}:\n{quoted}\n"
        f"nearest block (lines {first}-{last}, similarity {ratio:.2f}):\n{near}\n"
        f"difference (nearest -> search):\n{diff}"
    )
    return PatchError(msg, edit_index=index, nearest=block)


def _apply_edit(text: str, edit: Edit, index: int, total: int, parent: str) -> tuple[str, str]:
    if not edit.search.strip():
        if text.strip():
            raise PatchError(
                f"edit {index + 1} of {total}: empty SEARCH block, allowed only against an empty program", index
            )
        return edit.replace, "exact"
    hits = _occurrences(text, edit.search)
    if len(hits) == 1:
        at = hits[0]
        return text[:at] + edit.replace + text[at + len(edit.search):], "exact"
    if len(hits) > 1:
        lines = [text.count("\n", 0, h) + 1 for h in hits]
        raise PatchError(
            f"edit {index + 1} of {total}: SEARCH block is ambiguous: it occurs {len(hits)} times in parent "
            f"{parent} (at lines {', '.join(map(str, lines[:10]))}); add context lines to make it unique",
            index,
        )
    src_lines = text.splitlines(keepends=True)
    search_lines = _trim_blank(edit.search.splitlines(keepends=True))
    windows = _whitespace_matches(src_lines, search_lines)
    if len(windows) > 1:
        raise PatchError(
            f"edit {index + 1} of {total}: SEARCH block is ambiguous (ignoring whitespace): it matches at lines "
            f"{', '.join(str(s + 1) for s, _ in windows[:10])} of parent {parent}; add context lines",
            index,
        )
    if not windows:
        raise _fail(text, edit, index, total, parent)
    start, indent = windows[0]
    end = start + len(search_lines)
    repl = _trim_blank(edit.replace.splitlines(keepends=True))
    repl = _reindent(repl, _common_indent(search_lines), indent)
    if repl and src_lines[end - 1].endswith("\n"):
        repl[-1] = _nl(repl[-1])
    elif repl and not src_lines[end - 1].endswith("\n"):
        repl[-1] = repl[-1].rstrip("\n")
    return "".join(src_lines[:start] + repl + src_lines[end:]), "whitespace"


def apply_patch(source: str, patch: Patch) -> Applied:
    """Apply ``patch`` to ``source`` edit by edit; raise :class:`PatchError` if any edit fails.

    The parent hash is not enforced here (a caller may deliberately re-apply a patch to a
    sibling); the error messages name it to help diagnose a patch applied to the wrong parent.
    """
    if not patch.edits:
        raise PatchError("patch has no edits")
    text, tiers = source, []
    for i, edit in enumerate(patch.edits):
        text, tier = _apply_edit(text, edit, i, len(patch.edits), patch.parent)
        tiers.append(tier)
    return Applied(text, tuple(tiers))


def _parent_parts(parent: Any) -> tuple[str, str]:
    if isinstance(parent, str):
        return parent, source_hash(parent)
    return parent.source, parent.hash


def patch_from_sources(
    parent: Any, child_source: str, origin: str, note: str = "", counterexample_ids: Sequence[str] = ()
) -> Patch:
    """Minimal SEARCH/REPLACE edits turning ``parent`` (a Program, or source text) into ``child_source``.

    Each change hunk gets one line of context on each side, widened until its SEARCH is
    unique in the text it is applied to; overlapping hunks merge. Applying the result to the
    parent gives the child exactly. Identical sources raise ``ValueError`` (nothing to patch).
    """
    src, phash = _parent_parts(parent)
    ids = tuple(counterexample_ids)
    if src == child_source:
        raise ValueError("child source is identical to the parent: no patch")
    if not src.strip():
        return Patch(phash, (Edit(src, child_source),), ids, origin, note)
    a = src.splitlines(keepends=True)
    b = child_source.splitlines(keepends=True)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    hunks = [[i1, i2, j1, j2] for tag, i1, i2, j1, j2 in ops if tag != "equal"]
    ctx = [1] * len(hunks)
    for _ in range(len(a) * len(hunks) + 8):
        groups: list[tuple[int, int, list[int]]] = []  # parent line range [lo, hi) and member hunks
        for h, (i1, i2, _j1, _j2) in enumerate(hunks):
            lo, hi, members = max(0, i1 - ctx[h]), min(len(a), i2 + ctx[h]), [h]
            while groups and lo <= groups[-1][1]:
                glo, ghi, gmem = groups.pop()
                lo, hi, members = min(lo, glo), max(hi, ghi), gmem + members
            groups.append((lo, hi, members))
        edits = []
        for lo, hi, members in groups:
            first, last = hunks[members[0]], hunks[members[-1]]
            jlo, jhi = first[2] - (first[0] - lo), last[3] + (hi - last[1])
            edits.append(Edit("".join(a[lo:hi]), "".join(b[jlo:jhi])))
        text, bad = src, None
        for n, edit in enumerate(edits):
            if not edit.search.strip() or len(_occurrences(text, edit.search)) != 1:
                bad = n
                break
            at = text.find(edit.search)
            text = text[:at] + edit.replace + text[at + len(edit.search):]
        if bad is None and text == child_source:
            return Patch(phash, tuple(edits), ids, origin, note)
        if bad is None or (groups[bad][0] == 0 and groups[bad][1] == len(a)):
            break  # cannot widen further: fall back to a whole-source edit
        for m in groups[bad][2]:
            ctx[m] += 1
    edit = Edit(src, child_source)  # fallback: replace everything (always unique)
    return Patch(phash, (edit,), ids, origin, note)


def unified_diff(parent_source: str, child_source: str, parent_name: str = "parent", child_name: str = "child") -> str:
    """A unified diff (3 lines of context) as one string; empty when the sources are equal."""
    return "".join(
        difflib.unified_diff(
            _nl(parent_source).splitlines(keepends=True) if parent_source else [],
            _nl(child_source).splitlines(keepends=True) if child_source else [],
            parent_name,
            child_name,
        )
    )


def side_by_side_html(
    parent_source: str, child_source: str, parent_name: str = "parent", child_name: str = "child", context: int = 3,
    suspicion: Mapping[int, float] | None = None,
) -> str:
    """Self-contained side-by-side HTML diff (see :mod:`patchworld.diffview`); ``suspicion``: parent line ->
    score, shown as a column beside the parent's lines."""
    from patchworld.diffview import side_by_side_html as _html

    return _html(parent_source, child_source, parent_name, child_name, context=context, suspicion=suspicion)
