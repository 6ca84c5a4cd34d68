"""A ranked mutation of the mutation proposer, and its syntax check done only when it is needed.

Ranking every mutation of a program is cheap; reparsing every child to check it still parses is
not (an ALFWorld round ranks ~1,100 mutations and proposes 64), so a :class:`Candidate` checks its
own syntax on demand (:meth:`Candidate.parses`) and :class:`ValidQueue` walks one line's candidates,
checking them only as far as someone asks.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field

from patchworld.patches import Patch
from patchworld.proposers.mutation_ops import Mutation, SourceIndex

__all__ = ["Candidate", "ValidQueue", "child_parses"]


def child_parses(source: str, child: str, func: ast.AST, idx: SourceIndex, mut: Mutation) -> bool:
    """Whether the mutated program still parses; only the mutated function is reparsed when possible."""
    lo, hi = idx.starts[func.lineno - 1], idx.starts[func.end_lineno]
    if all(lo <= start and end <= hi for start, end, _ in mut.splices):
        text = source[lo:hi]
        for start, end, new in sorted(mut.splices, key=lambda sp: sp[0], reverse=True):
            text = text[: start - lo] + new + text[end - lo:]
        try:
            ast.parse(textwrap.dedent(text))
            return True
        except SyntaxError:
            pass  # dedent can fail on odd multi-line strings: decide on the whole program
    try:
        ast.parse(child)
    except SyntaxError:
        return False
    return True


@dataclass
class Candidate:
    """A ranked mutation: the child source, its patch, and why it scored as it did."""

    score: float
    function: str
    mutation: Mutation
    child: str
    counterexample_ids: tuple[str, ...]
    patch: Patch | None = None
    where: tuple | None = field(default=None, repr=False)   # (parent source, function node, index) to check syntax

    def parses(self) -> bool:
        """Whether the child still parses (checked once, on demand: most ranked candidates are never
        proposed, and reparsing each cost more than ranking it)."""
        ok = self.__dict__.get("_parses")
        if ok is None:
            ok = self.where is None or child_parses(self.where[0], self.child, self.where[1], self.where[2], self.mutation)
            self.__dict__["_parses"] = ok
        return ok


class ValidQueue:
    """The candidates of one line that parse, checked only as far as someone asks."""

    def __init__(self, queue: list[Candidate]):
        self.queue, self.pos, self.ok = queue, 0, []

    def at(self, depth: int) -> Candidate | None:
        while len(self.ok) <= depth and self.pos < len(self.queue):
            cand = self.queue[self.pos]
            self.pos += 1
            if cand.parses():
                self.ok.append(cand)
        return self.ok[depth] if depth < len(self.ok) else None
