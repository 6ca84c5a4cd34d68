"""Where the values a crashing line read were written: belief keys from their readers to their writers.

A program often crashes far from its fault: ``desc + "..."`` raises in ``predict_belief`` because
``correct_belief`` stored ``None`` under ``"description"`` (its test was inverted). The traceback
names the crash line only; the spectrum blames every line that runs on each step alike. This module
follows the data one step back, by syntax alone: the string keys the crash line reads
(``belief["k"]``, ``belief.get("k")``), directly or through a local name assigned in the same
function, and the lines anywhere in the program that write those keys (``x["k"] = ...``, a dict
literal's ``"k": ...``) with the test of the ``if`` that guards each write. Stdlib only.

:func:`key_effects` and :func:`linked` answer the wider question of which two statements a key links
(one writes what the other reads, through the functions it calls too): where two bugs can mask each other.
:func:`carried_writers` follows keys across the steps of a replay: which earlier step's lines wrote what a
step read (a value stored on the first step and shown on every later one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["KeyFlow", "crash_writers", "KeyEffects", "key_effects", "linked", "carried_reads", "carried_writers",
           "producers"]


def _key(node: ast.AST) -> str | None:
    """The string a key literal holds (None for anything else)."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keys_read(node: ast.AST) -> set[str]:
    """String keys read in ``node``: ``x["k"]`` (loads) and ``x.get("k", ...)``."""
    keys = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and isinstance(sub.ctx, ast.Load) and (k := _key(sub.slice)) is not None:
            keys.add(k)
        elif (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "get"
              and sub.args and (k := _key(sub.args[0])) is not None):
            keys.add(k)
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
                if isinstance(sub, ast.Subscript) and (k := _key(sub.slice)) is not None:
                    self._add(k, node.lineno, guard)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and (k := _key(key)) is not None:
                    self._add(k, value.lineno, guard)
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


KeyEffects = dict[int, tuple[frozenset[str], frozenset[str]]]
"""Statement line -> (keys it writes, keys it reads)."""

MAX_FUNCTIONS = 500
"""A program with more functions gets no links (the closure over calls is quadratic in them)."""

_MUTATORS = frozenset({"append", "extend", "update", "add", "insert", "pop", "remove", "clear", "setdefault",
                       "discard", "popitem", "sort", "reverse"})
"""Methods that change the container they are called on (``belief["history"].append(...)`` writes ``history``)."""


def _effects(node: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """(keys written, keys read (:func:`_keys_read`), names called) anywhere under ``node``."""
    written: set[str] = set()
    called: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)) and (k := _key(n.slice)):
            written.add(k)
        elif isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name):
                called.add(f.id)
            elif isinstance(f, ast.Attribute):
                called.add(f.attr)
                if f.attr in ("pop", "setdefault") and n.args and (k := _key(n.args[0])) is not None:
                    written.add(k)
                if f.attr in _MUTATORS and isinstance(f.value, ast.Subscript) and (k := _key(f.value.slice)):
                    written.add(k)
    return written, _keys_read(node), called


def key_effects(source: str) -> KeyEffects:
    """Per statement line, the keys it writes (the whole statement, a compound statement's body included:
    a negated ``elif`` test changes what its body writes) and the keys its own line reads (its expression,
    a compound statement's test or iterable, and the program functions it calls, transitively); {} for a
    syntax error. Two bugs on lines :func:`linked` this way can mask each other (the wide search's pairs
    of silent mutants, :func:`patchworld.second_order.second_order`)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):   # ValueError: a null byte; RecursionError: nesting
        return {}
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if len(functions) > MAX_FUNCTIONS:
        return {}
    own: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for name, f in functions.items():
        _, own[name], called = _effects(f)
        calls[name] = called & functions.keys()
    reads: dict[str, set[str]] = {}
    for name in functions:   # what it reads and what every function it reaches by calls reads
        seen, todo = {name}, [name]
        reads[name] = set()
        while todo:
            here = todo.pop()
            reads[name] |= own[here]
            for callee in calls[here] - seen:
                seen.add(callee)
                todo.append(callee)
    out: KeyEffects = {}
    for n in ast.walk(tree):
        if not isinstance(n, ast.stmt) or isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        head = n.test if isinstance(n, (ast.If, ast.While)) else n.iter if isinstance(n, ast.For) else n
        written, read, called = _effects(n)
        if head is not n:   # a compound statement writes what its body writes, reads what its own line reads
            _, read, called = _effects(head)
        for callee in called & functions.keys():
            read |= reads[callee]
        out[n.lineno] = (frozenset(written), frozenset(read))
    return out


def linked(effects: KeyEffects, a: int, b: int) -> bool:
    """Whether one of lines ``a`` and ``b`` writes a key the other reads."""
    none: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    (wa, ra), (wb, rb) = effects.get(a, none), effects.get(b, none)
    return bool(wa & rb or wb & ra)


_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match,
             ast.TryStar, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@lru_cache(maxsize=16)
def _step_flow(source: str) -> tuple[dict[int, frozenset[str]], dict[int, frozenset[str]]]:
    """(line -> keys a simple statement there writes, line -> keys a statement's own line reads) of
    :func:`key_effects`; a compound statement's line writes nothing here (its body's lines do, when they run)."""
    effects = key_effects(source)
    if not effects:
        return {}, {}
    compound = {n.lineno for n in ast.walk(ast.parse(source)) if isinstance(n, _COMPOUND)}
    writes = {line: w for line, (w, _) in effects.items() if w and line not in compound}
    reads = {line: r for line, (_, r) in effects.items() if r}
    return writes, reads


def carried_reads(source: str, traj_ids: Sequence[object], lines_run: Sequence[Iterable[int] | None]
                  ) -> list[dict[int, set[int]] | None]:
    """Per replay row, writer line -> the row's own lines that read a key that writer last wrote on an earlier
    row of the same trajectory (None where the row has no line record; rows in replay order, a trajectory's
    rows together).

    A value stored once and read on every later step (an instruction parsed from the first observation) is
    written on a row that may well pass, and read on rows that fail: the spectrum of lines run never puts the
    writer on the failing rows, so it cannot blame it. Keys by syntax (:func:`key_effects`); only the latest
    row that wrote a key counts."""
    writes, reads = _step_flow(source)
    readers, writers = frozenset(reads), frozenset(writes)
    either = readers | writers
    out: list[dict[int, set[int]] | None] = []
    last: dict[str, set[int]] = {}
    previous: object = object()
    for tid, ran in zip(traj_ids, lines_run, strict=True):
        if tid != previous:
            last, previous = {}, tid
        if ran is None:
            out.append(None)
            continue
        ran = either.intersection(ran)
        row: dict[int, set[int]] = {}
        for reader in readers & ran:
            for k in reads[reader] & last.keys():
                for w in last[k]:
                    row.setdefault(w, set()).add(reader)
        out.append(row)
        mine: dict[str, set[int]] = {}
        for line in writers & ran:
            for k in writes[line]:
                mine.setdefault(k, set()).add(line)
        last.update(mine)
    return out


def carried_writers(source: str, traj_ids: Sequence[object], lines_run: Sequence[Iterable[int] | None]
                    ) -> list[set[int] | None]:
    """Per replay row, the lines that last wrote, on an earlier row of the same trajectory, a key the row's own
    lines read (:func:`carried_reads` without the readers)."""
    return [None if row is None else set(row) for row in carried_reads(source, traj_ids, lines_run)]


@lru_cache(maxsize=16)
def producers(source: str) -> dict[int, frozenset[str]]:
    """Writer line -> the program functions that computed what it stores: those its statement calls, and those
    called where the local names it loads were assigned in its function, with every function they call in
    turn ({} for a syntax error). ``belief["recipes"] = parsed["recipes"]`` after ``parsed =
    self.parse_observation(obs)`` is produced by ``parse_observation``: a fault there that only shows once the
    stored value is read on a later step is blamed through this writer."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if len(functions) > MAX_FUNCTIONS:
        return {}
    calls = {name: _effects(f)[2] & functions.keys() for name, f in functions.items()}
    reach: dict[str, frozenset[str]] = {}   # each function with every function it reaches by calls
    for name in functions:
        seen, todo = {name}, [name]
        while todo:
            for callee in calls[todo.pop()] - seen:
                seen.add(callee)
                todo.append(callee)
        reach[name] = frozenset(seen)
    writes, _ = _step_flow(source)
    out: dict[int, frozenset[str]] = {}
    for func in functions.values():
        assigned: dict[str, set[str]] = {}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign):
                called = _effects(node.value)[2] & functions.keys()
                for target in node.targets:
                    for name in _names(target, ast.Store):
                        assigned.setdefault(name, set()).update(called)
        for stmt in ast.walk(func):
            if not isinstance(stmt, ast.stmt) or stmt.lineno not in writes or stmt is func:
                continue
            direct = _effects(stmt)[2] & functions.keys()
            for name in _names(stmt, ast.Load):
                direct |= assigned.get(name, set())
            if direct:
                out[stmt.lineno] = frozenset().union(*(reach[f] for f in direct))
    return out
