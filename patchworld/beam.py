"""The beam of the wide search: its programs (:class:`Member`, with what each gathered across rounds)
and the rule deciding which programs stay (:class:`Beam`).

:mod:`patchworld.population` runs the rounds; this module holds only the state a round reads and the
update it ends with (the diversity rule: distinct sets of exactly predicted transitions, one child of
a family, a logic edit kept over a string edit right on the same rows, neutral steps for
``max_age`` rounds, and a place for the child with the most token F1 while it is ahead of the current
program on F1 though it raises more: the gate ranks fewer exceptions first, so a fix of one crash that
leaves a second bug raising ranks below an edit that silences both wrongly).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from patchworld.gate import score, score_key
from patchworld.screening import columns

__all__ = ["Member", "Beam", "TEXT_EDITS", "text_edit", "shares"]


@dataclass
class Member:
    """A program in the beam with its val replay."""

    program: Any
    replay: Any
    age: int = 0
    exact: frozenset = field(default_factory=frozenset)
    key: tuple = ()
    evidence: dict = field(default_factory=dict)   # line -> best mutant score seen (patchworld.localise)
    lines: list | None = None                      # per val row, the program lines it ran (traced once)
    promising: list = field(default_factory=list)  # (mutant score, proposal) of its evaluated single mutants
    pairs_tried: set = field(default_factory=set)
    silent: list = field(default_factory=list)     # (line, proposal) of single mutants that changed no prediction
    exposed: list = field(default_factory=list)    # (crash line, function, error, proposal, child): fixes that exposed a crash
    family: tuple = ()                            # (parent hash, line, origin) of the edit that made it (a child)
    redo: tuple | None = None                      # (program it replaced, line, function) of the edit that made it: next round only
    unmask: tuple | None = None                    # (program it replaced, the edit that made it, mutants of that program): next round only
    revert: bool = False                           # just accepted: next round, undo hunks of earlier accepted edits
    probed: bool = False                           # its conditions were switched once (patchworld.probes)
    critical: dict = field(default_factory=dict)   # line -> score of the probes that marked it (patchworld.probes)

    def spans(self) -> dict:
        """:func:`patchworld.localise.function_spans` of this member's program (built once)."""
        if "_spans" not in self.__dict__:
            from patchworld.localise import function_spans

            self.__dict__["_spans"] = function_spans(self.program.source)
        return self.__dict__["_spans"]

    def crash_sites(self) -> dict[str, tuple[int, str] | None]:
        """Id -> (line, function) where this member's program raised on that val row (innermost frame of
        its own; None when the error names none), for the rows it raised on (built once)."""
        cached = self.__dict__.get("_sites")
        if cached is None:
            from patchworld.localise import program_frames

            steps, spans = self.replay.steps, self.spans()
            cached = {}
            for rid, kind, error in zip(*(steps.get_column(c).to_list() for c in ("id", "error_kind", "error")),
                                        strict=True):
                if kind == "exception":
                    frames = program_frames(error, spans)
                    cached[rid] = (frames[-1][1], frames[-1][0]) if frames else None
            self.__dict__["_sites"] = cached
        return cached

    def rows(self) -> dict[str, tuple[bool, str]]:
        """id -> (exact, prediction) of this member's val replay (built once)."""
        cached = self.__dict__.get("_rows")
        if cached is None:
            steps = self.replay.steps
            cached = dict(zip(steps.get_column("id").to_list(), zip(steps.get_column("exact").to_list(),
                                                                     steps.get_column("predicted").to_list(),
                                                                     strict=True), strict=True))
            self.__dict__["_rows"] = cached
        return cached

    def compare(self, child_replay: Any) -> tuple[list[str], list[str]]:
        """(fixed, broken) ids of a child replay (on all of val or a sample) against this member."""
        rows = self.rows()
        fixed, broken = [], []
        for tid, ok in zip(*columns(child_replay, "id", "exact"), strict=True):
            row = rows.get(tid)
            if row is not None and row[0] != ok:
                (fixed if ok else broken).append(tid)
        return sorted(fixed), sorted(broken)

    @classmethod
    def of(cls, program: Any, replay: Any, age: int = 0) -> Member:
        steps = replay.steps
        exact = frozenset(i for i, ok in zip(steps.get_column("id").to_list(), steps.get_column("exact").to_list(),
                                             strict=True) if ok)
        return cls(program, replay, age, exact, score_key(score(replay)))


class Beam:
    """The current program plus up to ``width - 1`` diverse others (see the module docstring)."""

    def __init__(self, width: int = 3, max_age: int = 2):
        self.width, self.max_age = max(1, width), max_age
        self.members: list[Member] = []
        self.accepted: list[tuple[str, str, str]] = []   # (source before, source after, candidate id), oldest first
        self.retired: list[Member] = []   # programs that left the beam, first to leave first (:meth:`revive`)

    def reset(self, current: Member) -> None:
        self.members = [current]

    def update(self, current: Member, children: list[tuple[Member, Member]]) -> None:
        """Keep ``current`` first, then the best of the old members (one round older) and of the
        ``(child, parent)`` pairs that are at least as good as their parent and behave differently; with a
        width of 3 or more, the one with the most token F1 first when it has more than ``current``."""
        pool = [dataclasses.replace(m, age=m.age + 1) for m in self.members if m.program.hash != current.program.hash]
        for child, parent in children:
            if child.key >= parent.key and child.exact != parent.exact:
                child.age = 0 if child.key > parent.key else parent.age + 1   # a neutral step ages like its parent
                pool.append(child)
        pool = [m for m in pool if m.age <= self.max_age]
        pool.sort(key=lambda m: (m.key, -m.age), reverse=True)
        kept = [current]
        leader = max(pool, key=lambda m: (m.key[2], m.key), default=None)
        if self.width >= 3 and leader is not None and leader.key[2] > current.key[2]:
            pool.remove(leader)
            pool.insert(0, leader)   # more right than the current though it raises more: keep it a place
        for m in pool:
            if any(m.program.hash == k.program.hash or (m.family and m.family == k.family) for k in kept):
                continue
            twin = next((i for i, k in enumerate(kept) if k.exact == m.exact), None)
            if twin is None and len(kept) < self.width:
                kept.append(m)
            elif twin is not None and text_edit(kept[twin]) and not text_edit(m):   # never the current (no family)
                kept[twin] = m   # the same rows exactly right: a change of logic over a string fitted to them
        here = {k.program.hash for k in kept}
        for m in self.members:
            if m.program.hash not in here:
                self._retire(m)
        self.members = kept

    def _retire(self, member: Member) -> None:
        """Keep ``member``, which leaves the beam, if fewer than :data:`RETIRED_KEPT` left it before."""
        if all(m.program.hash != member.program.hash for m in self.retired) and len(self.retired) < RETIRED_KEPT:
            self.retired.append(member)

    def revive(self) -> list[Member]:
        """After a round that proposed nothing (every member's mutations and pairs used up, so every later
        round would too): the first programs to leave the beam (the one the search started from, the
        earliest steps) replace the members beside the current one, each to be expanded with what it has
        not tried yet (an edit accepted early, fitted to a bug's symptoms, can leave the fix reachable only
        from a program before it). One that leaves again joins the end of the list. Returns the revived ones."""
        here = {m.program.hash for m in self.members}
        back = [m for m in self.retired if m.program.hash not in here][: self.width - 1]
        gone = {m.program.hash for m in back}
        self.retired = [m for m in self.retired if m.program.hash not in gone]
        self.members = self.members[:1] + [dataclasses.replace(m, age=0) for m in back]
        return back


RETIRED_KEPT = 12
"""How many programs that left the beam :meth:`Beam.revive` can bring back."""


TEXT_EDITS = frozenset({"replace_string", "insert_word", "swap_strings"})
"""Mutation operators that splice text of the observations into a string literal."""


def text_edit(member: Member) -> bool:
    """Whether ``member`` was made by an edit of :data:`TEXT_EDITS` (its family's origin)."""
    return bool(member.family) and str(member.family[2]).rpartition(":")[2] in TEXT_EDITS


def shares(n: int, k: int) -> list[int]:
    """Split ``n`` candidates over ``k`` members: half to the first, the rest evenly (at least 1 each)."""
    if k <= 1:
        return [max(1, n)]
    first = max(1, n // 2)
    rest = max(1, (n - first) // (k - 1))
    return [first] + [rest] * (k - 1)
