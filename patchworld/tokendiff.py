"""Token-level differences between a predicted observation and the true one, as escaped HTML.

Both texts are shown in full (the caller wraps them); the prediction's tokens that the truth
lacks are marked ``pw-tok-wrong`` and the truth's tokens the prediction lacks are marked
``pw-tok-missing``, so a reader sees at once where a three-line paragraph goes wrong. Tokens
are words, punctuation marks and runs of whitespace (whitespace is kept, so the text reads as
written). Work is bounded: beyond ``MAX_TOKENS`` tokens per side the rest is shown unmarked.
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher

__all__ = ["tokens", "token_ops", "diff_html", "TOKEN_STYLE", "LEGEND_HTML", "MAX_TOKENS"]

MAX_TOKENS = 4000
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)

TOKEN_STYLE = (
    "<style>.pw-tok-wrong{background:#ffc8c8;color:#7a0000;border-radius:2px;text-decoration:none}"
    ".pw-tok-missing{background:#c8f0c8;color:#004d00;border-radius:2px;text-decoration:underline dotted}"
    ".pw-tokdiff{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,monospace;font-size:11px;"
    "margin:0}</style>"
)
LEGEND_HTML = ('<small>In each prediction: <span class="pw-tok-wrong">red</span> = predicted but not in the truth, '
               '<span class="pw-tok-missing">green</span> = in the truth but missing from the prediction.</small>')


def tokens(text: str) -> list[str]:
    """Words, punctuation marks and whitespace runs of ``text`` (joined, they give ``text`` back)."""
    return _TOKEN.findall(text)


def token_ops(truth: str, predicted: str) -> list[tuple[str, str]]:
    """The merged token sequence: ``("equal", t)``, ``("wrong", t)`` (only in the prediction) and
    ``("missing", t)`` (only in the truth), in reading order."""
    a, b = tokens(truth), tokens(predicted)
    tail_a, tail_b = "".join(a[MAX_TOKENS:]), "".join(b[MAX_TOKENS:])
    a, b = a[:MAX_TOKENS], b[:MAX_TOKENS]
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("missing", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("wrong", "".join(b[j1:j2])))
    if tail_b:
        out.append(("equal", tail_b))
    elif tail_a:
        out.append(("missing", tail_a))
    return out


def diff_html(truth: str | None, predicted: str | None) -> str:
    """``predicted`` with its differences from ``truth`` marked (escaped, wrapped ``<pre>``). ``None`` for
    a prediction (not replayed) shows a dash; an exact prediction shows plain text."""
    if predicted is None:
        return '<pre class="pw-tokdiff">\u2014</pre>'
    truth = truth or ""
    if predicted == truth:
        return f'<pre class="pw-tokdiff">{html.escape(predicted)}</pre>'
    parts = []
    for kind, text in token_ops(truth, predicted):
        body = html.escape(text)
        if kind == "equal":
            parts.append(body)
        elif kind == "wrong":
            parts.append(f'<ins class="pw-tok-wrong">{body}</ins>')
        elif text.strip():
            parts.append(f'<del class="pw-tok-missing">{body}</del>')
        else:   # a missing whitespace run: mark it visibly
            shown = body.replace(" ", "&middot;").replace("\n", "&para;\n").replace("\t", "&rarr;")
            parts.append(f'<del class="pw-tok-missing">{shown}</del>')
    return f'<pre class="pw-tokdiff">{"".join(parts)}</pre>'
