"""Put back a word a literal lost when the program compares it whole against a piece of an observation.

``seg[-1:] == ["Buy Now"]`` that lost ``Now`` still occurs in every item page (``Buy`` is a substring
of ``Buy Now``), so :meth:`.LiteralCorpus.restores` (for literals that occur nowhere) passes it by; yet
``Buy`` is no whole piece of any observation. The program says how it cuts observations into pieces:
the separators it splits with (``obs.split(SEP)``, ``.splitlines()``). :class:`PieceIndex` cuts the
training observations the same way, and a literal compared whole (``==``, ``!=``, an element of a
container tested with ``in`` or compared with ``==``) that is no piece while a one-word insertion of it
is gets that piece back (most frequent first).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["PieceIndex", "split_separators", "whole_compared", "piece_restores", "NOT_PLAIN"]

_SPLITS = ("split", "rsplit", "partition", "rpartition")
_MAX_PIECES = 50_000
"""Distinct pieces kept (first seen first): bounds the index's size."""
_MAX_WORDS = 12
"""Pieces of more words are not indexed (a literal compared whole is a label, not a paragraph)."""
NOT_PLAIN = "\\'\"\n\r\t\x00{}"
"""Characters no restored literal may hold (it is spliced into the source as plain text)."""
_MAX_SEPARATORS = 8
"""Separators used at most (the program's most used): each one is a pass over the corpus."""


def split_separators(tree: ast.AST, strings: Mapping[str, str], limit: int = _MAX_SEPARATORS) -> tuple[str, ...]:
    """The separators the program cuts text with: ``"\\n"`` always (``splitlines``), plus the literals or
    module string constants (``strings``) passed to ``split``/``rsplit``/``partition``/``rpartition`` (single
    spaces and empty strings left out: they cut words, not pieces), the ``limit`` most used; sorted."""
    used: Counter[str] = Counter()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SPLITS
                and node.args):
            arg = node.args[0]
            value = arg.value if isinstance(arg, ast.Constant) else strings.get(arg.id) if isinstance(arg, ast.Name) \
                else None
            if isinstance(value, str) and value.strip() and value != "\n":
                used[value] += 1
    return tuple(sorted({"\n", *(sep for sep, _ in sorted(used.items(), key=lambda kv: (-kv[1], kv[0]))[:limit - 1])}))


def _ops_beside(compare: ast.Compare, operand: ast.AST) -> list[ast.cmpop]:
    """The comparison operators on either side of ``operand`` in ``compare`` (``a == b != c``: two for ``b``)."""
    at = [compare.left, *compare.comparators].index(operand)
    return compare.ops[max(0, at - 1):at + 1]


def whole_compared(node: ast.Constant, parents: Mapping[ast.AST, ast.AST]) -> bool:
    """Whether the string literal ``node`` is compared whole: an operand of ``==``/``!=``, or an element of
    a list, tuple or set that is compared with ``==``/``!=`` or is the container of ``in``/``not in``."""
    parent = parents.get(node)
    container = parent if isinstance(parent, (ast.List, ast.Tuple, ast.Set)) else None
    compare = parents.get(parent) if container is not None else parent
    if not isinstance(compare, ast.Compare):
        return False
    operand = container if container is not None else node
    if any(isinstance(op, (ast.Eq, ast.NotEq)) for op in _ops_beside(compare, operand)):
        return True
    return container is not None and operand is not compare.left and \
        isinstance(_ops_beside(compare, operand)[0], (ast.In, ast.NotIn))


class PieceIndex:
    """The pieces of some texts cut at some separators, indexed by each piece with one word taken out."""

    def __init__(self, texts: Iterable[str], separators: Iterable[str]):
        pieces: Counter[str] = Counter()
        for text in texts:
            for sep in separators:
                if sep in text:
                    for piece in text.split(sep):
                        if piece in pieces or len(pieces) < _MAX_PIECES:
                            pieces[piece] += 1
        self.pieces = pieces
        self.cut: dict[str, Counter[str]] = {}
        for piece, count in pieces.items():
            words = piece.split(" ")
            if 2 <= len(words) <= _MAX_WORDS and not any(ch in piece for ch in NOT_PLAIN):
                for i, word in enumerate(words):
                    if re.search(r"[A-Za-z]", word):
                        self.cut.setdefault(" ".join(words[:i] + words[i + 1:]), Counter())[piece] += count

    def restores(self, value: str, limit: int = 3) -> list[tuple[str, int]]:
        """``(piece, times seen)`` for the pieces that are ``value`` with one word put back, when ``value``
        is no piece itself and has some wording (two letters in a row); most frequent first."""
        if value in self.pieces or not re.search(r"[A-Za-z]{2,}", value) or any(ch in value for ch in NOT_PLAIN):
            return []
        found = self.cut.get(value)
        return sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:limit] if found else []


def piece_restores(func: ast.AST, index: PieceIndex) -> Iterator[tuple[ast.Constant, str, int]]:
    """``(literal, restored value, times seen)`` for each literal of ``func`` compared whole that
    :meth:`PieceIndex.restores` finds a piece for."""
    parents = {child: parent for parent in ast.walk(func) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(func):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and whole_compared(node, parents):
            for new, count in index.restores(node.value):
                yield node, new, count
