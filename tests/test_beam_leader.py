"""The beam keeps a place for the child that gets the most transitions right even when it raises on more than
the current program: a fix of a crash line that leaves a second bug raising further on (the gate ranks fewer
exceptions first, so an edit that silences both crashes wrongly is what gets accepted)."""

from __future__ import annotations

from patchworld.beam import Beam, Member
from patchworld.program import Program


def _member(n: int, exact: set[str], exceptions: int, f1: float, family: tuple = ()) -> Member:
    return Member(Program(f"def f():\n    return {n}\n"), replay=None, exact=frozenset(exact),
                  key=(0, -exceptions, f1, 0), family=family)


def test_the_child_right_on_the_most_rows_keeps_a_place_while_it_is_ahead_on_f1():
    parent = _member(0, set(), 318, 0.16)
    current = _member(1, {"a"}, 0, 0.57)                                   # silenced both crashes, wrongly
    quiet = [_member(2 + k, {"a", f"q{k}"}, 0, 0.40 - k / 100, ("p", 80 + k, "mutation:delete_stmt")) for k in range(3)]
    the_fix = _member(9, {"a", "b", "c"}, 40, 0.81, ("p", 96, "mutation:flip_arith"))   # still raises on 40 rows
    beam = Beam(width=3)
    beam.members = [parent]
    beam.update(current, [(m, parent) for m in (*quiet, the_fix)])
    kept = [m.program.hash for m in beam.members]
    assert kept == [current.program.hash, the_fix.program.hash, quiet[0].program.hash]
    narrow = Beam(width=2)                                                 # a narrow beam keeps its key order
    narrow.members = [parent]
    narrow.update(current, [(m, parent) for m in (*quiet, the_fix)])
    assert [m.program.hash for m in narrow.members] == [current.program.hash, quiet[0].program.hash]
    better = _member(20, {"a", "b", "c", "d"}, 0, 0.86)                  # the current passes it on F1: no place
    beam.update(better, [(m, current) for m in quiet[1:]])
    assert the_fix.program.hash not in [m.program.hash for m in beam.members]
