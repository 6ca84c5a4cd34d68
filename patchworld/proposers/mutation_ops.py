"""AST mutation operators for :mod:`patchworld.proposers.mutation`.

Each operator looks at one function of a program and yields :class:`Mutation` s: a set of
exact source splices (character offsets cut from AST node positions), so the child keeps
the parent's formatting everywhere else and the patch reads like a hand edit.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Mutation", "SourceIndex", "OPERATORS", "EXTRA_OPERATORS", "function_mutations", "insert_mutations"]


@dataclass
class Mutation:
    """Replace ``source[start:end]`` by ``text`` for each splice; ``node`` locates the site."""

    operator: str
    splices: tuple[tuple[int, int, str], ...]
    node: ast.AST
    note: str
    prior: float = 1.0
    extra: dict = field(default_factory=dict)

    def apply(self, source: str) -> str:
        out = source
        for start, end, text in sorted(self.splices, key=lambda s: s[0], reverse=True):
            out = out[:start] + text + out[end:]
        return out


class SourceIndex:
    """Maps AST (line, UTF-8 byte column) positions to character offsets of the source."""

    def __init__(self, source: str):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.starts = list(itertools.accumulate((len(ln) for ln in self.lines), initial=0))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end]


_CMP_FLIPS = {
    ast.Lt: [(">", ast.Gt), ("<=", ast.LtE)], ast.Gt: [("<", ast.Lt), (">=", ast.GtE)],
    ast.LtE: [(">=", ast.GtE), ("<", ast.Lt)], ast.GtE: [("<=", ast.LtE), (">", ast.Gt)],
    ast.Eq: [("!=", ast.NotEq)], ast.NotEq: [("==", ast.Eq)],
    ast.In: [("not in", ast.NotIn)], ast.NotIn: [("in", ast.In)],
    ast.Is: [("is not", ast.IsNot)], ast.IsNot: [("is", ast.Is)],
}
_CMP_RE = re.compile(r"not\s+in|is\s+not|<=|>=|==|!=|<|>|\bin\b|\bis\b")
_SIMPLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


def _statements(func: ast.AST) -> Iterator[ast.stmt]:
    for node in ast.walk(func):
        if isinstance(node, ast.stmt) and node is not func:
            yield node


def _header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement owns itself (not those of nested blocks)."""
    if isinstance(stmt, _SIMPLE):
        return [stmt]
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, ast.For):
        return [stmt.target, stmt.iter]
    return []


def _owned(stmt: ast.stmt) -> Iterator[ast.AST]:
    for root in _header_nodes(stmt):
        yield from ast.walk(root)


def _sibling_pairs(func: ast.AST) -> set[tuple[str, str]]:
    """Pairs of names that appear together in a tuple (``x, y = pos``; ``(r, c)``)."""
    pairs: set[tuple[str, str]] = set()
    mixed = set()  # loop targets over enumerate()/items()/zip(): index and item have different types
    for node in ast.walk(func):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.iter, ast.Call):
            call = node.iter.func
            name = call.id if isinstance(call, ast.Name) else call.attr if isinstance(call, ast.Attribute) else ""
            if name in ("enumerate", "items", "zip"):
                mixed.add(id(node.target))
    for node in ast.walk(func):
        if isinstance(node, (ast.Tuple, ast.List)) and id(node) not in mixed:
            names = sorted({e.id for e in node.elts if isinstance(e, ast.Name)})
            pairs.update(itertools.combinations(names, 2))
    return pairs


def op_swap_vars(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """In one statement, swap every occurrence of two sibling variables (``x += 1`` -> ``y += 1``)."""
    pairs = _sibling_pairs(func)
    for stmt in _statements(func):
        names = [n for n in _owned(stmt) if isinstance(n, ast.Name)]
        for a, b in sorted(pairs):
            hits = [n for n in names if n.id in (a, b)]
            if not hits or any(idx.text(n) != n.id for n in hits):
                continue
            splices = tuple((*idx.span(n), b if n.id == a else a) for n in hits)
            yield Mutation("swap_vars", splices, stmt, f"swap {a} <-> {b}", 3.0)


def op_swap_subscripts(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """In one statement, swap two constant subscripts of the same base (``pos[0]`` <-> ``pos[1]``)."""
    keys: dict[str, set] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.setdefault(idx.text(node.value), set()).add(repr(node.slice.value))
    for stmt in _statements(func):
        subs = [n for n in _owned(stmt) if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant)]
        for base, values in sorted(keys.items()):
            for a, b in itertools.combinations(sorted(values), 2):
                hits = [n for n in subs if idx.text(n.value) == base and repr(n.slice.value) in (a, b)]
                if not hits:
                    continue
                splices = tuple((*idx.span(n.slice), b if repr(n.slice.value) == a else a) for n in hits)
                # positional indices (pos[0] <-> pos[1]) are the classic swap; dict keys are rarely exchanged
                prior = 3.0 if a[:1].isdigit() and b[:1].isdigit() else 1.2
                yield Mutation("swap_subscripts", splices, stmt, f"swap {base}[{a}] <-> {base}[{b}]", prior)


def op_swap_tuple(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Swap two elements of a short tuple, or move a ``± k`` offset to the other element."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Tuple) or not 2 <= len(node.elts) <= 3:
            continue
        if all(isinstance(e, ast.Name) for e in node.elts):
            continue  # covered by swap_vars
        for i, j in itertools.combinations(range(len(node.elts)), 2):
            ei, ej = node.elts[i], node.elts[j]
            ti, tj = idx.text(ei), idx.text(ej)
            yield Mutation("swap_tuple", ((*idx.span(ei), tj), (*idx.span(ej), ti)), node, f"swap {ti} <-> {tj}", 2.5)
            for src, dst in ((ei, ej), (ej, ei)):
                if isinstance(src, ast.BinOp) and isinstance(src.op, (ast.Add, ast.Sub)) and isinstance(
                    src.right, ast.Constant
                ) and isinstance(dst, (ast.Name, ast.Subscript, ast.Attribute)):
                    sign = "+" if isinstance(src.op, ast.Add) else "-"
                    k = idx.text(src.right)
                    splices = ((*idx.span(src), idx.text(src.left)), (*idx.span(dst), f"{idx.text(dst)} {sign} {k}"))
                    yield Mutation("swap_tuple", splices, node, f"move '{sign} {k}' to {idx.text(dst)}", 3.0)


def _between(idx: SourceIndex, left: ast.AST, right: ast.AST) -> tuple[int, int]:
    return idx.span(left)[1], idx.span(right)[0]


def op_flip_arith(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Flip ``+`` and ``-`` in a binary operation or an augmented assignment."""
    for node in ast.walk(func):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            if any(isinstance(x, (ast.JoinedStr, ast.Constant)) and isinstance(getattr(x, "value", ""), str)
                   for x in (node.left, node.right)):
                continue  # string concatenation: '-' would only crash
            lo, hi = _between(idx, node.left, node.right)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, (ast.Add, ast.Sub)):
            lo, hi = _between(idx, node.target, node.value)
        else:
            continue
        old, new = ("+", "-") if isinstance(node.op, ast.Add) else ("-", "+")
        middle = idx.source[lo:hi]
        at = middle.find(old)
        if at < 0:
            continue
        yield Mutation("flip_arith", ((lo + at, lo + at + 1, new),), node, f"'{old}' -> '{new}'", 2.0)


def op_flip_compare(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Flip a comparison operator (``<`` -> ``>``/``<=``, ``==`` -> ``!=``, ``in`` -> ``not in``...)."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for k, op in enumerate(node.ops):
            lo, hi = _between(idx, operands[k], operands[k + 1])
            m = _CMP_RE.search(idx.source[lo:hi])
            if not m:
                continue
            for text, _ in _CMP_FLIPS.get(type(op), []):
                splice = (lo + m.start(), lo + m.end(), text)
                yield Mutation("flip_compare", (splice,), node, f"'{m.group()}' -> '{text}'", 2.0)


def op_int_const(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Change an integer constant by +1 or -1."""
    for node in ast.walk(func):
        if isinstance(node, ast.Constant) and type(node.value) is int and idx.text(node) == str(node.value):
            for delta in (1, -1):
                value = node.value + delta
                yield Mutation("int_const", ((*idx.span(node), str(value)),), node, f"{node.value} -> {value}", 1.5)


def op_negate_cond(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Negate the condition of an ``if``/``while``/conditional expression."""
    for node in ast.walk(func):
        if not isinstance(node, (ast.If, ast.While, ast.IfExp)):
            continue
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            new = f"({idx.text(test.operand)})"
        else:
            new = f"not ({idx.text(test)})"
        yield Mutation("negate_cond", ((*idx.span(test), new),), node, f"negate '{idx.text(test)[:40]}'", 1.0)


def op_delete_stmt(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Delete a statement that sits on whole lines (a lone statement becomes ``pass``)."""
    for parent in ast.walk(func):
        for name in ("body", "orelse"):
            block = getattr(parent, name, None)
            if not isinstance(block, list) or not block or not isinstance(block[0], ast.stmt):
                continue
            for k, stmt in enumerate(block):
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and k == 0:
                    continue  # docstring
                start, end = idx.span(stmt)
                line_start = idx.starts[stmt.lineno - 1]
                line_end = idx.starts[stmt.end_lineno]
                head, tail = idx.source[line_start:start], idx.source[end:line_end]
                if head.strip() or tail.strip() and not tail.strip().startswith("#"):
                    continue
                text = f"{head}pass\n" if len(block) == 1 else ""
                prior = 0.5 if isinstance(stmt, _SIMPLE) else 0.3
                label = idx.text(stmt).splitlines()[0][:50]
                yield Mutation("delete_stmt", ((line_start, line_end, text),), stmt, f"delete '{label}'", prior)


OPERATORS = {
    "swap_vars": op_swap_vars,
    "swap_subscripts": op_swap_subscripts,
    "swap_tuple": op_swap_tuple,
    "flip_arith": op_flip_arith,
    "flip_compare": op_flip_compare,
    "int_const": op_int_const,
    "negate_cond": op_negate_cond,
    "delete_stmt": op_delete_stmt,
}


_ORDER_FLIPS = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">="}


def op_flip_compare_more(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """The order comparisons :func:`op_flip_compare` leaves out (``<`` -> ``>=``...), so every planted
    flip between ``<``, ``>``, ``<=`` and ``>=`` has its inverse."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for k, op in enumerate(node.ops):
            if type(op) not in _ORDER_FLIPS:
                continue
            lo, hi = _between(idx, operands[k], operands[k + 1])
            m = _CMP_RE.search(idx.source[lo:hi])
            if not m:
                continue
            usual = {text for text, _ in _CMP_FLIPS[type(op)]}
            for text in _ORDER_FLIPS.values():
                if text != m.group() and text not in usual:
                    yield Mutation("flip_compare", ((lo + m.start(), lo + m.end(), text),), node,
                                   f"'{m.group()}' -> '{text}'", 1.2)


def op_flip_boolop(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Flip ``and`` <-> ``or`` between two operands of a boolean expression."""
    for node in ast.walk(func):
        if not isinstance(node, ast.BoolOp):
            continue
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        for left, right in itertools.pairwise(node.values):
            lo, hi = _between(idx, left, right)
            m = re.search(rf"\b{old}\b", idx.source[lo:hi])
            if m:
                yield Mutation("flip_boolop", ((lo + m.start(), lo + m.end(), new),), node, f"'{old}' -> '{new}'", 2.0)


def op_swap_args(func: ast.AST, idx: SourceIndex) -> Iterator[Mutation]:
    """Swap two positional arguments of a call (``f(a, b)`` -> ``f(b, a)``)."""
    for node in ast.walk(func):
        if not isinstance(node, ast.Call):
            continue
        args = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(args) != len(node.args) or not 2 <= len(args) <= 4:
            continue
        for a, b in itertools.combinations(args, 2):
            ta, tb = idx.text(a), idx.text(b)
            if ta != tb:
                yield Mutation("swap_args", ((*idx.span(a), tb), (*idx.span(b), ta)), node,
                               f"swap arguments {ta[:20]} <-> {tb[:20]}", 1.5)


EXTRA_OPERATORS = {"flip_compare_more": op_flip_compare_more, "flip_boolop": op_flip_boolop, "swap_args": op_swap_args}
"""Operators used only by the wide search (``extended=True``): the greedy default keeps its ranking."""


def _string_nodes(func: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(func):
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            yield node


def string_mutations(func: ast.AST, idx: SourceIndex, pairs: dict[tuple[str, str], int]) -> Iterator[Mutation]:
    """Replace a string literal's phrase by a phrase mined from true observations; swap mined literal pairs.

    ``pairs`` maps (predicted phrase, true phrase) to how many counterexamples showed it.
    """
    nodes = [n for n in _string_nodes(func) if not isinstance(n, ast.Constant) or idx.text(n)[-1:] in "'\""]
    seen_joined = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
    nodes = [n for n in nodes if id(n) not in seen_joined]
    for (old, new), count in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if any(ch in old + new for ch in "\\'\"{}\n"):
            continue
        for node in nodes:
            text = idx.text(node)
            if len(old.strip()) < 3:
                if isinstance(node, ast.Constant) and node.value.strip() == old.strip() and node.value:
                    new_text = text.replace(node.value, node.value.replace(old.strip(), new.strip()), 1)
                else:
                    continue
            elif text.count(old) == 1:
                new_text = text.replace(old, new)
            else:
                continue
            yield Mutation("replace_string", ((*idx.span(node), new_text),), node, f"'{old}' -> '{new}'",
                           2.5, {"count": count, "replace": (old, new)})
    # swap two literals that a counterexample shows exchanged (e.g. 'y'/'b' feedback letters, above/below)
    consts = [n for n in nodes if isinstance(n, ast.Constant) and idx.text(n) in (f"'{n.value}'", f'"{n.value}"')]
    done: set[frozenset] = set()
    for (a, b), count in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        key = frozenset((a, b))
        if key in done or len(key) < 2 or any(ch in a + b for ch in "\\'\"{}\n"):
            continue
        done.add(key)

        def holds(value: str, word: str) -> bool:
            if len(word.strip()) < 3:
                return value.strip() == word.strip()
            return re.search(rf"\b{re.escape(word)}\b", value) is not None and value.count(word) == 1

        hits = [n for n in consts if holds(n.value, a) != holds(n.value, b)]
        if not any(holds(n.value, a) for n in hits) or not any(holds(n.value, b) for n in hits):
            continue
        splices = tuple(
            (*idx.span(n), idx.text(n).replace(a, b) if holds(n.value, a) else idx.text(n).replace(b, a)) for n in hits
        )
        yield Mutation("swap_strings", splices, func, f"swap '{a}' <-> '{b}'", 3.0, {"count": count, "swap": (a, b)})

def insert_mutations(func: ast.AST, idx: SourceIndex, inserts: dict[tuple[str, str, str], int]) -> Iterator[Mutation]:
    """Put back a word the predictions lack: ``inserts`` maps (word before, missing words, word after),
    mined from counterexamples, to a count. A literal holding "before after" gets "before missing
    after"; else one holding the word before (or after) once, at the end (start) of a literal part."""
    nodes = [n for n in _string_nodes(func) if not isinstance(n, ast.Constant) or idx.text(n)[-1:] in "'\""]
    seen_joined = {id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in n.values}
    nodes = [n for n in nodes if id(n) not in seen_joined]
    for (left, words, right), count in sorted(inserts.items(), key=lambda kv: (-kv[1], kv[0])):
        if any(ch in left + words + right for ch in "\\'\"{}\n"):
            continue
        for node in nodes:
            text = idx.text(node)
            options = []
            if left and right and text.count(f"{left} {right}") == 1:
                options.append(text.replace(f"{left} {right}", f"{left} {words} {right}"))
            if left and len(re.findall(rf"\b{re.escape(left)}\b", text)) == 1:
                options.append(re.sub(rf"\b{re.escape(left)}\b", f"{left} {words}".replace("\\", "\\\\"), text))
            if right and len(re.findall(rf"\b{re.escape(right)}\b", text)) == 1:
                options.append(re.sub(rf"\b{re.escape(right)}\b", f"{words} {right}".replace("\\", "\\\\"), text))
            for new_text in dict.fromkeys(options):
                yield Mutation("insert_word", ((*idx.span(node), new_text),), node, f"insert '{words}'", 2.5,
                               {"count": count})


def function_mutations(func: ast.AST, idx: SourceIndex, pairs: dict[tuple[str, str], int],
                       extended: bool = False, inserts: dict[tuple[str, str, str], int] | None = None
                       ) -> Iterator[Mutation]:
    """Every mutation of one function: the AST operators, then the mined string edits (with
    ``extended``, also :data:`EXTRA_OPERATORS` and the mined word insertions)."""
    for op in OPERATORS.values():
        yield from op(func, idx)
    yield from string_mutations(func, idx, pairs)
    if extended:
        for op in EXTRA_OPERATORS.values():
            yield from op(func, idx)
        yield from insert_mutations(func, idx, inserts or {})
