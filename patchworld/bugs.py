"""Planted bugs for the repair benchmark: single-site faults in a working world-model program.

Seven operators, written independently of the mutation proposer's: ``flip_compare`` (a
comparison negated: ``==`` -> ``!=``, ``<`` -> ``>=``, ``in`` -> ``not in``...), ``flip_boolop``
(``and`` <-> ``or``), ``negate_if`` (``if c`` -> ``if not c``, also conditional expressions),
``swap_args`` (a call's first two positional arguments exchanged), ``off_by_one`` (an integer
constant or index ±1), ``drop_word`` (one word removed from a string literal) and
``flip_arith`` (``+`` <-> ``-``). :func:`plant_sites` lists every site of a program (inside its
functions); :func:`combine` plants several at once. Which bugs matter is decided by replay
(benchmarks/repair.py keeps those that lower val fidelity).
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["Bug", "plant_sites", "combine", "OPERATORS"]

OPERATORS = ("flip_compare", "flip_boolop", "negate_if", "swap_args", "off_by_one", "drop_word", "flip_arith")
_NEGATED = {ast.Eq: "!=", ast.NotEq: "==", ast.Lt: ">=", ast.GtE: "<", ast.Gt: "<=", ast.LtE: ">",
            ast.In: "not in", ast.NotIn: "in", ast.Is: "is not", ast.IsNot: "is"}
_OP_TEXT = re.compile(r"not\s+in|is\s+not|<=|>=|==|!=|<|>|\bin\b|\bis\b")


@dataclass(frozen=True)
class Bug:
    """One planted fault: ``source[start:end]`` becomes ``text``."""

    operator: str
    function: str
    line: int
    start: int
    end: int
    text: str
    note: str

    def apply(self, source: str) -> str:
        return source[:self.start] + self.text + source[self.end:]

    @property
    def label(self) -> str:
        return f"{self.operator}@{self.function}:{self.line} ({self.note})"


class _Offsets:
    def __init__(self, source: str):
        self.source = source
        self.starts = list(itertools.accumulate((len(x) for x in source.splitlines(keepends=True)), initial=0))
        self.lines = source.splitlines(keepends=True)

    def at(self, line: int, col: int) -> int:
        return self.starts[line - 1] + len(self.lines[line - 1].encode("utf-8")[:col].decode("utf-8", "ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.at(node.lineno, node.col_offset), self.at(node.end_lineno, node.end_col_offset)


def _sites(func: ast.AST, off: _Offsets) -> Iterator[tuple[str, int, int, int, str, str]]:
    src = off.source
    for node in ast.walk(func):
        line = getattr(node, "lineno", func.lineno)
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for k, op in enumerate(node.ops):
                lo, hi = off.span(operands[k])[1], off.span(operands[k + 1])[0]
                m = _OP_TEXT.search(src[lo:hi])
                if m and type(op) in _NEGATED:
                    new = _NEGATED[type(op)]
                    yield "flip_compare", line, lo + m.start(), lo + m.end(), new, f"{m.group()} -> {new}"
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            lo, hi = off.span(node.values[0])[1], off.span(node.values[1])[0]
            m = re.search(rf"\b{old}\b", src[lo:hi])
            if m:
                yield "flip_boolop", line, lo + m.start(), lo + m.end(), new, f"{old} -> {new}"
        elif isinstance(node, (ast.If, ast.IfExp)):
            a, b = off.span(node.test)
            yield "negate_if", line, a, b, f"not ({src[a:b]})", f"if not ({src[a:b][:30]})"
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(x, ast.Starred)
                                                                             for x in node.args[:2]):
            (a1, b1), (a2, b2) = off.span(node.args[0]), off.span(node.args[1])
            if src[a1:b1] != src[a2:b2]:
                yield ("swap_args", line, a1, b2, src[a2:b2] + src[b1:a2] + src[a1:b1],
                       f"swap {src[a1:b1][:20]} <-> {src[a2:b2][:20]}")
        elif isinstance(node, ast.Constant) and type(node.value) is int and not isinstance(node.value, bool):
            a, b = off.span(node)
            if src[a:b] == str(node.value):
                for d in (1, -1):
                    yield "off_by_one", line, a, b, str(node.value + d), f"{node.value} -> {node.value + d}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            a, b = off.span(node)
            text = src[a:b]
            words = list(re.finditer(r"[A-Za-z]{2,}", text))
            if len(words) >= 2 and text[-1:] in "'\"":
                for w in words:
                    cut_lo, cut_hi = w.start(), w.end()
                    if text[cut_hi:cut_hi + 1] == " ":
                        cut_hi += 1
                    elif text[cut_lo - 1:cut_lo] == " ":
                        cut_lo -= 1
                    yield ("drop_word", line, a, b, text[:cut_lo] + text[cut_hi:], f"drop '{w.group()}'")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            if any(isinstance(x, (ast.Constant, ast.JoinedStr)) and isinstance(getattr(x, "value", 0), str)
                   for x in (node.left, node.right)) or isinstance(node.left, (ast.JoinedStr, ast.List, ast.Tuple)):
                continue
            lo, hi = off.span(node.left)[1], off.span(node.right)[0]
            old, new = ("+", "-") if isinstance(node.op, ast.Add) else ("-", "+")
            at = src[lo:hi].find(old)
            if at >= 0:
                yield "flip_arith", line, lo + at, lo + at + 1, new, f"{old} -> {new}"


def plant_sites(source: str) -> list[Bug]:
    """Every single-site bug the operators can plant in the functions of ``source`` (children that parse)."""
    off = _Offsets(source)
    out: list[Bug] = []
    seen: set[str] = set()
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for op, line, a, b, text, note in _sites(func, off):
            bug = Bug(op, func.name, line, a, b, text, note)
            child = bug.apply(source)
            if child == source or child in seen:
                continue
            try:
                ast.parse(child)
            except SyntaxError:
                continue
            seen.add(child)
            out.append(bug)
    return sorted(out, key=lambda x: (x.start, x.operator, x.text))


def combine(source: str, bugs: Sequence[Bug]) -> str | None:
    """``source`` with all ``bugs`` planted; None if two of them touch overlapping text."""
    ordered = sorted(bugs, key=lambda x: x.start)
    if any(a.end > b.start for a, b in itertools.pairwise(ordered)):
        return None
    for bug in reversed(ordered):
        source = bug.apply(source)
    return source
