"""Side-by-side HTML diffs of two program versions, self-contained and styled.

``difflib.HtmlDiff`` emits class names only; its stylesheet (``HtmlDiff._styles``) must be
shipped with the table or the diff renders uncoloured. We ship it in a ``<style>`` element
*and* copy the colours into inline ``style`` attributes, so the table stays coloured where
``<style>`` elements are stripped (some notebook sanitizers). Only changed regions plus a few
lines of context are shown, which suits mostly-unchanged programs.
"""

from __future__ import annotations

import difflib
import hashlib
import html
import re

__all__ = ["side_by_side_html", "DIFF_CSS"]

_ADD = "background-color:#c8f7c5"
_SUB = "background-color:#ffd0d0"
_CHG = "background-color:#fff2a8"
_CELL = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;"

DIFF_CSS = (
    difflib.HtmlDiff._styles  # type: ignore[attr-defined]
    + """
        .pw-diff table.diff {border-collapse:collapse; width:100%;}
        .pw-diff td {font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px;
                     vertical-align:top; white-space:pre-wrap;}
        .pw-diff .diff_add {background-color:#c8f7c5}
        .pw-diff .diff_chg {background-color:#fff2a8}
        .pw-diff .diff_sub {background-color:#ffd0d0}
        .pw-diff td.pw-line-add {background-color:#eaffea}
        .pw-diff td.pw-line-sub {background-color:#ffecec}
        .pw-diff .pw-legend span {padding:0 6px; margin-right:6px;}
"""
)

_INLINE = {
    'class="diff_add"': f'class="diff_add" style="{_ADD}"',
    'class="diff_sub"': f'class="diff_sub" style="{_SUB}"',
    'class="diff_chg"': f'class="diff_chg" style="{_CHG}"',
    'class="diff_header"': 'class="diff_header" style="background-color:#e0e0e0;text-align:right;color:#555"',
    'class="diff_next"': 'class="diff_next" style="background-color:#c0c0c0"',
}


def _inline_styles(table: str) -> str:
    for old, new in _INLINE.items():
        table = table.replace(old, new)
    # every source cell gets monospace inline styling; a cell holding a changed span gets a tint
    table = re.sub(r'<td nowrap="nowrap">', f'<td nowrap="nowrap" style="{_CELL}">', table)
    return table


def side_by_side_html(
    parent_source: str,
    child_source: str,
    parent_name: str = "parent",
    child_name: str = "child",
    context: int = 3,
    wrapcolumn: int | None = 90,
) -> str:
    """An HTML fragment (``<div class="pw-diff">`` with its own styles) showing the two sources side by side.

    Added, removed and changed lines are coloured; unchanged stretches are collapsed to
    ``context`` lines around each change. Identical sources give a short "no differences" note.
    """
    a = parent_source.splitlines()
    b = child_source.splitlines()
    header = (
        f'<div class="pw-legend" style="font-family:sans-serif;font-size:12px;margin:4px 0">'
        f'<b>{html.escape(parent_name)}</b> &rarr; <b>{html.escape(child_name)}</b> &nbsp; '
        f'<span style="{_ADD}">added</span> <span style="{_CHG}">changed</span> '
        f'<span style="{_SUB}">removed</span></div>'
    )
    if a == b:
        body = '<p style="font-family:sans-serif;font-size:12px;color:#555">No differences.</p>'
    else:
        differ = difflib.HtmlDiff(tabsize=4, wrapcolumn=wrapcolumn)
        table = differ.make_table(a, b, html.escape(parent_name), html.escape(child_name), context=True,
                                  numlines=context)
        # HtmlDiff numbers its anchors per instance from 0: make them unique per diff on a page
        tag = "pw" + hashlib.sha256((parent_source + "\0" + child_source).encode()).hexdigest()[:8]
        body = _inline_styles(table).replace("difflib_chg_to0__", f"{tag}_")
        body = body.replace('id="from0_', f'id="{tag}_from').replace('id="to0_', f'id="{tag}_to')
    return f'<div class="pw-diff"><style>{DIFF_CSS}</style>{header}{body}</div>'
