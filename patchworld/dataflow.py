"""Where the values a crashing line read were written: belief keys from their readers to their writers.

A program often crashes far from its fault: ``desc + "..."`` raises in ``predict_belief`` because
``correct_belief`` stored ``None`` under ``"description"`` (its test was inverted). The traceback
names the crash line only; the spectrum blames every line that runs on each step alike. This module
follows the data one step back, by syntax alone: the string keys the crash line reads
(``belief["k"]``, ``belief.get("k")``), directly or through a local name assigned in the same
function, and the lines anywhere in the program that write those keys (``x["k"] = ...``, a dict
literal's ``"k": ...``) with the test of the ``if`` that guards each write. Stdlib only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

__all__ = ["KeyFlow", "crash_writers"]


def _keys_read(node: ast.AST) -> set[str]:
    """String keys read in ``node``: ``x["k"]`` (loads) and ``x.get("k", ...)``."""
    keys = set()
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Load) and isinstance(sub.slice, ast.Constant)
                and isinstance(sub.slice.value, str)):
            keys.add(sub.slice.value)
        elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "get"
              and sub.args and isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, str)):
            keys.add(sub.args[0].value)
    return keys


def _names(node: ast.AST, ctx: type) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


class KeyFlow:
    """One program's readers and writers of string keys (built once, asked per crash line)."""

    def __init__(self, source: str):
        tree = ast.parse(source)
        self._stmt: dict[int, tuple[ast.stmt, ast.AST]] = {}     # line -> (first statement there, its function)
        self._writes: dict[str, set[int]] = {}                    # key -> lines that write it (and their guards)
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for stmt in ast.walk(func):
                    if isinstance(stmt, ast.stmt) and stmt is not func:
                        self._stmt.setdefault(stmt.lineno, (stmt, func))
        self._visit(tree, None)

    def _visit(self, node: ast.AST, guard: int | None) -> None:
        """Record every key write under ``node`` with the line of the innermost ``if`` test around it."""
        if isinstance(node, ast.If):
            self._visit(node.test, guard)
            for part in node.body + node.orelse:
                self._visit(part, node.lineno)
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for sub in ast.walk(target):
                if (isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant)
                        and isinstance(sub.slice.value, str)):
                    self._add(sub.slice.value, node.lineno, guard)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    self._add(key.value, value.lineno, guard)
        for child in ast.iter_child_nodes(node):
            self._visit(child, guard)

    def _add(self, key: str, line: int, guard: int | None) -> None:
        lines = self._writes.setdefault(key, set())
        lines.add(line)
        if guard is not None:
            lines.add(guard)

    def keys_at(self, line: int) -> set[str]:
        """Keys the statement on ``line`` reads, directly or through names assigned in its function."""
        found = self._stmt.get(line)
        if found is None:
            return set()
        stmt, func = found
        head = stmt.test if isinstance(stmt, (ast.If, ast.While)) else stmt
        keys = _keys_read(head)
        used = _names(head, ast.Load)
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and used & {n for t in node.targets for n in _names(t, ast.Store)}:
                keys |= _keys_read(node.value)
        return keys

    def writers(self, line: int) -> set[int]:
        """Lines writing (or guarding a write of) a key the statement on ``line`` reads; not ``line`` itself."""
        return {w for key in self.keys_at(line) for w in self._writes.get(key, ())} - {line}


def crash_writers(source: str, lines: Iterable[int]) -> dict[int, set[int]]:
    """:meth:`KeyFlow.writers` for each crash line (empty where the source does not parse)."""
    try:
        flow = KeyFlow(source)
    except SyntaxError:
        return {}
    return {line: flow.writers(line) for line in lines}
