"""Side-by-side HTML diffs of two program versions, syntax coloured and self-contained.

The table is built from ``difflib.SequenceMatcher`` opcodes (not by post-processing ``HtmlDiff``)
so colouring and change marks compose: each side's whole source is tokenized once (multi-line
strings colour on every line), each character gets a token class, and each shown line is rendered
from runs of (change mark, token class). Every colour is an inline ``style`` *and* a rule in one
scoped ``<style>``, so the table stays coloured where ``<style>`` is stripped (some notebook
sanitizers). Sources are untrusted LLM output: all text is escaped, and a source that does not
tokenize renders uncoloured where it fails.
"""

from __future__ import annotations

import builtins
import difflib
import html
import io
import itertools
import keyword
import tokenize
from collections.abc import Mapping

__all__ = ["side_by_side_html", "suspicion_html", "DIFF_CSS"]

_ADD = "background-color:#acf2bd"
_SUB = "background-color:#fdb8c0"
_CHG = "background-color:#fff2a8"

#: token class -> inline style; the classes are ``pw-<name>`` in the markup and stylesheet
_TOKEN_STYLE = {
    "kw": "color:#0033b3;font-weight:bold",  # keywords
    "bi": "color:#871094",  # builtins, True/False/None, self/cls
    "str": "color:#067d17",  # strings, f-strings, docstrings
    "com": "color:#6a737d;font-style:italic",  # comments
    "num": "color:#1750eb",  # numbers
    "def": "color:#00627a;font-weight:bold",  # names bound by def/class
    "dec": "color:#9e6a03",  # decorators
}
#: element class -> inline style for the table's own parts
_PART_STYLE = {
    "diff_add": _ADD,
    "diff_sub": _SUB,
    "diff_chg": _CHG,
    "pw-line-add": "background-color:#e6ffec",
    "pw-line-sub": "background-color:#ffebe9",
    "pw-line-none": "background-color:#f6f8fa",
    "diff_header": "color:#6e7781;background-color:#f6f8fa;text-align:right;vertical-align:top;padding:0 6px;"
                   "width:1%;user-select:none;border-right:1px solid #d0d7de",
    "pw-code": "vertical-align:top;padding:0 6px;width:50%",
    "pw-skip": "color:#57606a;background-color:#ddf4ff;text-align:center;padding:1px 6px",
    "pw-name": "font-family:sans-serif;text-align:left;padding:3px 6px;background-color:#eaeef2;"
               "border-bottom:1px solid #d0d7de",
    "pw-susp": "color:#1f2328;text-align:right;vertical-align:top;padding:0 4px;width:1%;user-select:none;"
               "border-right:1px solid #d0d7de",
}
_DIV_STYLE = "overflow-x:auto"  # long unwrapped lines scroll inside the diff, not the page
# cells inherit the font, colours and nowrap from the table (white background: readable in dark themes too)
_TABLE_STYLE = ("border-collapse:collapse;width:100%;background-color:#ffffff;color:#1f2328;border:1px solid #d0d7de;"
                "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:12px;"
                "white-space:nowrap")

DIFF_CSS = (
    f".pw-diff table.diff {{{_TABLE_STYLE}}}\n"
    + "".join(f".pw-diff .{cls} {{{style}}}\n" for cls, style in _PART_STYLE.items())
    + "".join(f".pw-diff .pw-{cls} {{{style}}}\n" for cls, style in _TOKEN_STYLE.items())
)

_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) | {"self", "cls"}
_STRING_TOKENS = frozenset(  # FSTRING_*/TSTRING_* exist from Python 3.12/3.14
    getattr(tokenize, n) for n in ("STRING", "FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END",
                                   "TSTRING_START", "TSTRING_MIDDLE", "TSTRING_END") if hasattr(tokenize, n))
_LINE_START = frozenset({tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT})
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
_MAX_RESTARTS = 20  # tokenizer restarts after errors, per source
_MAX_CHAR_DIFF = 2000  # longer lines are marked as wholly changed (char diffs are quadratic)
_MAX_PAIRING = 1000  # replaced blocks with more line pairs than this are not aligned by similarity
_INVISIBLE = {c: "\ufffd" for c in [*range(32), *range(127, 160), 0x200E, 0x200F, *range(0x202A, 0x202F),
                                    *range(0x2066, 0x206A)]}  # controls and bidi overrides shown as U+FFFD


def _attr(cls: str) -> str:
    """``class`` plus the same colours inline, for renderers that drop ``<style>``."""
    return f'class="{cls}" style="{_PART_STYLE[cls]}"'


def _paint(classes: list[list[str]], start: tuple[int, int], end: tuple[int, int], cls: str) -> None:
    """Give every character from ``start`` to ``end`` (0-based rows, possibly spanning lines) class ``cls``."""
    for row in range(max(start[0], 0), min(end[0], len(classes) - 1) + 1):
        line = classes[row]
        lo = max(start[1] if row == start[0] else 0, 0)
        hi = max(end[1] if row == end[0] else len(line), lo)
        line[lo:hi] = [cls] * len(line[lo:hi])


def _classify(lines: list[str]) -> list[list[str]]:
    """A token class ("" for none) per character of each line, tokenizing the whole source once.

    Lines are tokenized with their indentation stripped (it only decides INDENT/DEDENT tokens, which
    are not coloured), so a candidate's bad indentation cannot stop the colouring. On any other
    tokenizer error the tokens before it keep their colours and tokenizing restarts on the line after
    the failure (not after an unclosed triple-quoted string: the rest of the file is inside it, not
    code); lines the tokenizer never reached stay uncoloured.
    """
    classes = [[""] * len(line) for line in lines]
    indent = [len(line) - len(line.lstrip(" ")) for line in lines]
    first = 0
    for _ in range(_MAX_RESTARTS):
        reached = first
        try:
            prev: tokenize.TokenInfo | None = None
            depth, in_decorator = 0, False
            readline = io.StringIO("".join(line.lstrip(" ") + "\n" for line in lines[first:])).readline
            for tok in tokenize.generate_tokens(readline):
                sr, er = tok.start[0] - 1 + first, tok.end[0] - 1 + first
                reached = max(reached, sr)
                cls = ""
                if tok.type == tokenize.OP:
                    depth = max(0, depth + (tok.string in _OPEN) - (tok.string in _CLOSE))
                    if tok.string == "@" and depth == 0 and (prev is None or prev.type in _LINE_START):
                        cls, in_decorator = "dec", True
                    elif tok.string == "." and in_decorator:
                        cls = "dec"
                    else:
                        in_decorator = False
                elif tok.type == tokenize.NAME:
                    after_dot = prev is not None and prev.string == "."  # an attribute: obj.type is not type
                    if in_decorator:
                        cls = "dec"
                    elif prev is not None and prev.type == tokenize.NAME and prev.string in ("def", "class"):
                        cls = "def"
                    elif tok.string in ("True", "False", "None") or (tok.string in _BUILTINS and not after_dot):
                        cls = "bi"
                    elif keyword.iskeyword(tok.string):
                        cls = "kw"
                else:
                    in_decorator = False
                    if tok.type in _STRING_TOKENS:
                        cls = "str"
                    elif tok.type == tokenize.COMMENT:
                        cls = "com"
                    elif tok.type == tokenize.NUMBER:
                        cls = "num"
                if cls and sr < len(lines):
                    end_shift = indent[er] if er < len(lines) else 0
                    _paint(classes, (sr, tok.start[1] + indent[sr]), (er, tok.end[1] + end_shift), cls)
                if tok.type not in (tokenize.NL, tokenize.COMMENT):
                    prev = tok
            return classes
        except Exception as exc:  # TokenError, SyntaxError, ...: never escape
            if "multi-line string" in str(exc) or "triple-quoted" in str(exc):
                break
            where = getattr(exc, "lineno", None)
            if where is None and isinstance(exc, tokenize.TokenError) and len(exc.args) > 1:
                where = exc.args[1][0]
            row = first + int(where) - 1 if isinstance(where, int) and where > 0 else reached
            first = max(row + 1, first + 1)
            if first >= len(lines):
                break
    return classes


def _char_marks(a: str, b: str) -> tuple[list[str], list[str]]:
    """Intra-line change marks ("chg", "sub", "add" or "") for each character of a replaced line pair."""
    if len(a) > _MAX_CHAR_DIFF or len(b) > _MAX_CHAR_DIFF:
        return ["chg"] * len(a), ["chg"] * len(b)
    ma, mb = [""] * len(a), [""] * len(b)
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            ma[i1:i2] = ["chg" if tag == "replace" else "sub"] * (i2 - i1)
            mb[j1:j2] = ["chg" if tag == "replace" else "add"] * (j2 - j1)
    return ma, mb


def _whole(text: str, mark: str) -> list[str]:
    """Marks for a wholly removed/added line, leaving its indentation unmarked."""
    indent = len(text) - len(text.lstrip(" "))
    return [""] * indent + [mark] * (len(text) - indent)


def _align(a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int) -> list[tuple[int | None, int | None, bool]]:
    """Rows ``(left, right, similar)`` for a replaced block: similar lines side by side, like ``ndiff``.

    The most similar pair (ratio > 0.6) is aligned and both sides recursed into; what is left is
    shown as wholly removed / added lines, zipped into shared rows.
    """
    best, bi, bj = 0.6, -1, -1
    if 0 < (i2 - i1) * (j2 - j1) <= _MAX_PAIRING:
        sm = difflib.SequenceMatcher(None, autojunk=False)
        for j in range(j1, j2):
            sm.set_seq2(b[j])
            for i in range(i1, i2):
                sm.set_seq1(a[i])
                if max(len(a[i]), len(b[j])) <= _MAX_CHAR_DIFF and sm.real_quick_ratio() > best \
                        and sm.quick_ratio() > best and sm.ratio() > best:
                    best, bi, bj = sm.ratio(), i, j
    if bi < 0:
        return [(i, j, False) for i, j in itertools.zip_longest(range(i1, i2), range(j1, j2))]
    return _align(a, b, i1, bi, j1, bj) + [(bi, bj, True)] + _align(a, b, bi + 1, i2, bj + 1, j2)


def _render(text: str, classes: list[str], marks: list[str]) -> str:
    """HTML for one (wrapped) line: change-mark spans around token-coloured, escaped runs."""
    out: list[str] = []
    pos = 0
    for mark, run in itertools.groupby(range(len(text)), key=lambda k: marks[k]):
        inner: list[str] = []
        for cls, chars in itertools.groupby(run, key=lambda k: classes[k]):
            n = sum(1 for _ in chars)
            piece = html.escape(text[pos:pos + n].translate(_INVISIBLE)).replace(" ", "&nbsp;")
            pos += n
            inner.append(f'<span class="pw-{cls}" style="{_TOKEN_STYLE[cls]}">{piece}</span>' if cls else piece)
        out.append(f'<span {_attr("diff_" + mark)}>{"".join(inner)}</span>' if mark else "".join(inner))
    return "".join(out)


def _cells(number: str, code: str, tint: str) -> str:
    """A line-number cell and a code cell, the latter tinted by class ``tint`` ("" for none)."""
    style = _PART_STYLE["pw-code"] + (f";{_PART_STYLE[tint]}" if tint else "")
    return f'<td {_attr("diff_header")}>{number}</td><td class="{f"pw-code {tint}".strip()}" style="{style}">{code}</td>'


def _susp_cell(value: float | None) -> str:
    """A suspicion cell: the score to two decimals on a red tint as strong as the score, full from 1 up
    (empty: no score)."""
    if value is None:
        return f'<td {_attr("pw-susp")}></td>'
    alpha = 0.06 + 0.6 * max(0.0, min(1.0, float(value)))
    return (f'<td class="pw-susp" style="{_PART_STYLE["pw-susp"]};background-color:rgba(207,34,46,{alpha:.2f})" '
            f'title="suspicion {float(value):.3f}">{float(value):.2f}</td>')


class _Side:
    """One source as display lines (tabs expanded), per-character token classes, and diff lines."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()  # compared as written: a tab-for-spaces change still shows
        self.shown = [line.expandtabs(4) for line in self.lines]
        self.classes = _classify(self.shown)

    def cells(self, i: int | None, marks: list[str] | None, wrap: int) -> list[tuple[str, str]]:
        """``(line number, html)`` for line ``i`` (None: an empty side), split into ``wrap``-wide pieces."""
        if i is None:
            return [("", "")]
        text, classes = self.shown[i], self.classes[i]
        marks = marks if marks is not None else [""] * len(text)
        step = wrap if wrap > 0 else max(len(text), 1)
        pieces = [_render(text[k:k + step], classes[k:k + step], marks[k:k + step])
                  for k in range(0, max(len(text), 1), step)]
        return [(str(i + 1) if k == 0 else "&gt;", p) for k, p in enumerate(pieces)]


def _table(left: _Side, right: _Side, parent_name: str, child_name: str, context: int, wrap: int,
           suspicion: Mapping[int, float] | None = None) -> str:
    """The diff ``<table>``: one row per shown line pair, hunks of ``context`` lines, skip rows between;
    with ``suspicion`` (parent line number -> score), a column of it beside the parent's line numbers."""
    susp = suspicion is not None
    rows = [f'<thead><tr><th colspan="{3 if susp else 2}" {_attr("pw-name")}>{html.escape(parent_name)}</th>'
            f'<th colspan="2" {_attr("pw-name")}>{html.escape(child_name)}</th></tr></thead><tbody>']

    def skip(n: int) -> None:
        if n > 0:
            rows.append(f'<tr class="pw-row-skip"><td colspan="{5 if susp else 4}" {_attr("pw-skip")}>'
                        f'&#8943; {n} unchanged line{"s" if n != 1 else ""} &#8943;</td></tr>')

    def score(i: int | None, first: bool) -> str:
        if not susp:
            return ""
        return _susp_cell(suspicion.get(i + 1) if i is not None and first else None)

    def row(kind: str, i: int | None, j: int | None, similar: bool) -> None:
        ma = mb = None
        if similar and i is not None and j is not None:
            ma, mb = _char_marks(left.shown[i], right.shown[j])
        elif kind != "equal":  # a wholly removed / added line
            ma = _whole(left.shown[i], "sub") if i is not None else None
            mb = _whole(right.shown[j], "add") if j is not None else None
        lcls = "pw-line-none" if i is None else "pw-line-sub" if kind != "equal" else ""
        rcls = "pw-line-none" if j is None else "pw-line-add" if kind != "equal" else ""
        pairs = itertools.zip_longest(left.cells(i, ma, wrap), right.cells(j, mb, wrap), fillvalue=("", ""))
        rows.extend(f'<tr class="pw-row-{kind}">{score(i, k == 0)}{_cells(*lc, lcls)}{_cells(*rc, rcls)}</tr>'
                    for k, (lc, rc) in enumerate(pairs))

    shown_to = 0
    matcher = difflib.SequenceMatcher(None, left.lines, right.lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(max(context, 0)):
        skip(group[0][1] - shown_to)
        for tag, i1, i2, j1, j2 in group:
            if tag == "replace":
                for i, j, similar in _align(left.shown, right.shown, i1, i2, j1, j2):
                    row("replace" if i is not None and j is not None else "delete" if j is None else "insert",
                        i, j, similar)
            else:
                for i, j in itertools.zip_longest(range(i1, i2), range(j1, j2)):
                    row(tag, i, j, False)
        shown_to = group[-1][2]
    skip(len(left.lines) - shown_to)
    return f'<table class="diff" style="{_TABLE_STYLE}">{"".join(rows)}</tbody></table>'


def side_by_side_html(
    parent_source: str,
    child_source: str,
    parent_name: str = "parent",
    child_name: str = "child",
    context: int = 3,
    wrapcolumn: int | None = 72,
    suspicion: Mapping[int, float] | None = None,
) -> str:
    """An HTML fragment (``<div class="pw-diff">`` with its own styles) showing the two sources side by side.

    Python syntax is coloured; removed/added lines are tinted and their changed characters marked
    (``diff_sub``/``diff_add``/``diff_chg``); unchanged stretches are collapsed to ``context`` lines
    around each change; lines longer than ``wrapcolumn`` wrap onto ``>`` rows. Identical sources give a
    short "no differences" note. ``suspicion`` (parent line number -> fault-localisation score,
    :mod:`patchworld.localise`) adds a column of it before the parent's line numbers, tinted by score.
    """
    left, right = _Side(parent_source), _Side(child_source)
    header = (
        f'<div class="pw-legend" style="font-family:sans-serif;font-size:12px;margin:4px 0">'
        f'<b>{html.escape(parent_name)}</b> &rarr; <b>{html.escape(child_name)}</b> &nbsp; '
        + " ".join(f'<span style="{style};color:#1f2328;padding:0 6px">{name}</span>'
                   for name, style in (("added", _ADD), ("changed", _CHG), ("removed", _SUB)))
        + "</div>"
    )
    if left.lines == right.lines:
        body = '<p style="font-family:sans-serif;font-size:12px;color:#555">No differences.</p>'
    else:
        body = _table(left, right, parent_name, child_name, context, wrapcolumn or 0, suspicion)
    return f'<div class="pw-diff" style="{_DIV_STYLE}"><style>{DIFF_CSS}</style>{header}{body}</div>'


def suspicion_html(source: str, suspicion: Mapping[int, float], title: str = "", top: int = 8,
                   wrapcolumn: int | None = 72) -> str:
    """The whole of ``source`` with its suspicion beside every line (``suspicion``: line number -> score,
    :mod:`patchworld.localise`; lines without one, outside functions, get an empty cell), in a ``<details>`` block closed by
    default whose summary is ``title`` and the ``top`` most suspicious lines: where the search looked."""
    side = _Side(source)
    ranked = sorted(suspicion.items(), key=lambda kv: (-kv[1], kv[0]))[:max(top, 0)]
    best = ", ".join(f"line {n} ({v:.2f})" for n, v in ranked)
    rows: list[str] = []
    for i in range(len(side.lines)):
        for k, (number, code) in enumerate(side.cells(i, None, wrapcolumn or 0)):
            rows.append(f'<tr class="pw-row-equal">{_susp_cell(suspicion.get(i + 1) if k == 0 else None)}'
                        f'{_cells(number, code, "")}</tr>')
    head = (f'<thead><tr><th {_attr("pw-name")}>suspicion</th><th colspan="2" {_attr("pw-name")}>line</th></tr>'
            "</thead>")
    summary = html.escape(title) + (f" &mdash; most suspicious: {html.escape(best)}" if best else "")
    return (f'<details class="pw-suspicion"><summary style="font-family:sans-serif;font-size:12px;cursor:pointer">'
            f'{summary}</summary><div class="pw-diff" style="{_DIV_STYLE}"><style>{DIFF_CSS}</style>'
            f'<table class="diff" style="{_TABLE_STYLE}">{head}<tbody>{"".join(rows)}</tbody></table></div></details>')
