"""Reading the edits real models write: SEARCH/REPLACE blocks, unified diffs, whole files.

Formats (after aider's edit formats): fenced or bare ``<<<<<<< SEARCH`` / ``=======`` /
``>>>>>>> REPLACE`` blocks; a unified diff (``@@`` hunks, line numbers ignored); a whole module
in a fenced block. Shapes measured from small models and accepted when unambiguous:
markers under Markdown list bullets, headings, bold or backticks; markers on a fence line;
a missing opening marker when the block opens a fence; ``### SEARCH`` / ``### REPLACE`` headings
over two fenced blocks; prose pairs (``**Search:** `old` ... Replace: `new```). Whether an edit
really applies is decided by :mod:`.llm_match` against the program, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from patchworld.patches import Edit

__all__ = ["Parsed", "parse_reply", "parse_search_replace", "parse_unified_diff", "extract_module", "marker"]

_DECOR = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|#{1,6}\s*|>\s+)?(?:\*\*|__)?`*(?:python3?|py)?\s*")
_OPEN = re.compile(r"^<{5,}\s*SEARCH\b", re.IGNORECASE)
_MID = re.compile(r"^={5,}\s*$")
_CLOSE = re.compile(r"^>{5,}\s*REPLACE\b", re.IGNORECASE)
_FENCE_LINE = re.compile(r"^\s*```[\w+-]*\s*$")
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_HEADING = re.compile(r"^\s*(?:#{1,6}\s*|[-*]\s+)?(?:\*\*)?(search|replace)(?: block)?:?(?:\*\*)?:?\s*$", re.IGNORECASE)
_PROSE = re.compile(r"search\W{0,6}`([^`\n]+)`.{0,80}?replace\W{0,6}`([^`\n]*)`", re.IGNORECASE | re.DOTALL)


def marker(line: str) -> str | None:
    """``"open"``, ``"mid"`` or ``"close"`` for a SEARCH/REPLACE marker line (decorations stripped)."""
    bare = _DECOR.sub("", line.strip(), count=1).strip().strip("`*").strip()
    if _OPEN.match(bare):
        return "open"
    if _MID.match(bare):
        return "mid"
    if _CLOSE.match(bare):
        return "close"
    return None


@dataclass
class Parsed:
    """What a reply held: edits, or a whole module, or neither (``error`` says why)."""

    edits: list[Edit]
    module: str | None
    note: str
    error: str = ""
    format: str = ""                      # search_replace, udiff, headings, prose, whole_module
    repairs: list[str] = field(default_factory=list)   # tolerated deviations from the asked format


def _body(lines: list[str]) -> str:
    """Block text without fence lines (code never holds a line that is only a fence)."""
    return "".join(ln for ln in lines if not _FENCE_LINE.match(ln))


def parse_search_replace(text: str, repairs: list[str] | None = None) -> list[Edit]:
    """All complete SEARCH/REPLACE blocks, tolerating decorated markers and a missing opening marker."""
    repairs = repairs if repairs is not None else []
    edits: list[Edit] = []
    state, search, replace = "out", [], []
    in_fence = False
    since_fence: list[str] | None = None   # lines after the last fence opening, while outside a block
    for line in text.splitlines(keepends=True):
        kind = marker(line)
        if kind and line.strip()[:5] not in ("<<<<<", "=====", ">>>>>"):
            repairs.append("decorated marker")
        fence = bool(_FENCE_LINE.match(line)) or (kind is not None and "```" in line)
        if fence:
            in_fence = not in_fence
        if state == "out":
            if kind == "open":
                state, search, replace = "search", [], []
            elif kind == "mid" and since_fence:
                state, search, replace = "replace", since_fence, []
                repairs.append("missing SEARCH marker (block taken from the fence opening)")
            elif fence:
                since_fence = [] if in_fence else None
            elif since_fence is not None:
                since_fence.append(line)
        elif state == "search":
            if kind == "mid":
                state = "replace"
            elif kind == "open":
                search = []
            else:
                search.append(line)
        elif state == "replace":
            if kind == "close":
                edits.append(Edit(_body(search), _body(replace)))
                state, since_fence = "out", None
            else:
                replace.append(line)
    return edits


def _fenced_after(lines: list[str], start: int) -> tuple[str, int] | None:
    """The fenced block starting at the first fence line at or after ``start`` (blank lines skipped)."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not _FENCE_LINE.match(lines[i]):
        return None
    j = i + 1
    while j < len(lines) and not lines[j].strip().startswith("```"):
        j += 1
    return "".join(lines[i + 1 : j]), j + 1


def _until_heading(lines: list[str], start: int) -> tuple[str, int]:
    """Unfenced lines from ``start`` up to the next SEARCH/REPLACE heading (blank lines at the ends dropped)."""
    j = start
    while j < len(lines) and not _HEADING.match(lines[j]):
        j += 1
    return "".join(lines[start:j]).strip("\n") + "\n", j


def parse_headings(text: str) -> list[Edit]:
    """``### SEARCH`` + fenced block, then ``### REPLACE`` + fenced block, repeated (unfenced code too)."""
    lines = text.splitlines(keepends=True)
    edits, i = [], 0
    while i < len(lines):
        m = _HEADING.match(lines[i])
        if m and m.group(1).lower() == "search":
            got = _fenced_after(lines, i + 1) or _until_heading(lines, i + 1)
            if got and got[0].strip():
                search, j = got
                while j < len(lines) and not lines[j].strip():
                    j += 1
                m2 = _HEADING.match(lines[j]) if j < len(lines) else None
                if m2 and m2.group(1).lower() == "replace":
                    got2 = _fenced_after(lines, j + 1) or _until_heading(lines, j + 1)
                    if got2:
                        edits.append(Edit(search, got2[0]))
                        i = got2[1]
                        continue
        i += 1
    return edits


def parse_unified_diff(text: str) -> list[Edit]:
    """Hunks of a unified diff as edits (context and ``-`` lines search, context and ``+`` lines replace)."""
    lines = [ln for ln in text.splitlines(keepends=True) if not _FENCE_LINE.match(ln)]
    if not any(ln.startswith("@@") for ln in lines):
        return []
    edits: list[Edit] = []
    search: list[str] | None = None
    replace: list[str] = []

    def close() -> None:
        if search is not None and (search or replace) and search != replace:
            edits.append(Edit("".join(search), "".join(replace)))

    for ln in lines:
        if ln.startswith("@@"):
            close()
            search, replace = [], []
        elif search is None or ln.startswith(("--- ", "+++ ", "diff ", "index ")):
            continue
        elif ln.startswith("-"):
            search.append(ln[1:])
        elif ln.startswith("+"):
            replace.append(ln[1:])
        else:  # context; models often drop the leading space of a blank or context line
            body = ln[1:] if ln.startswith(" ") else ln
            search.append(body)
            replace.append(body)
    close()
    return edits


def parse_prose(text: str) -> list[Edit]:
    """Inline pairs such as ``**Search:** `a[1]` >>> Replace: `a[0]``` (one edit each)."""
    return [Edit(m.group(1), m.group(2)) for m in _PROSE.finditer(text) if m.group(1) != m.group(2)]


def extract_module(text: str) -> str | None:
    """The largest fenced Python block that defines a class (a whole-module reply), else None."""
    blocks = [b for b in _FENCE.findall(text) if re.search(r"^class\s+\w+", b, re.MULTILINE)]
    if not blocks:
        return None
    return max(blocks, key=len).rstrip() + "\n"


def _note(text: str) -> str:
    for ln in text.splitlines():
        s = ln.strip()
        if s and not marker(ln) and not s.startswith(("```", "@@", "---", "+++")):
            return s[:160]
    return ""


def parse_reply(text: str) -> Parsed:
    """Parse one reply; the first format that yields edits wins, a whole module is the fallback."""
    note = _note(text)
    repairs: list[str] = []
    for fmt, edits in (("search_replace", parse_search_replace(text, repairs)), ("headings", parse_headings(text)),
                       ("udiff", parse_unified_diff(text)), ("prose", parse_prose(text))):
        if edits:
            empty = [i + 1 for i, e in enumerate(edits) if not e.search.strip()]
            if empty:
                return Parsed([], None, note, f"SEARCH block {empty[0]} is empty", fmt, sorted(set(repairs)))
            return Parsed(edits, None, note, "", fmt, sorted(set(repairs)))
    module = extract_module(text)
    if module is not None:
        return Parsed([], module, note, "", "whole_module")
    if not text.strip():
        return Parsed([], None, note, "empty reply")
    if any(marker(ln) for ln in text.splitlines()):
        return Parsed([], None, note, "SEARCH/REPLACE markers without a complete block (each block needs "
                      "<<<<<<< SEARCH, =======, >>>>>>> REPLACE on lines of their own)")
    return Parsed([], None, note, "no SEARCH/REPLACE block, diff or fenced Python module with a class")
