"""The beam keeps one child of a family: siblings that edited the same line of one parent the same way."""

from __future__ import annotations

from patchworld.population import Beam, Member
from patchworld.program import Program


def _member(n: int, exact: set[str], f1: float, family: tuple = ()) -> Member:
    return Member(Program(f"def f():\n    return {n}\n"), replay=None, exact=frozenset(exact),
                  key=(0, 0, f1, 0), family=family)


def test_siblings_with_one_line_edited_the_same_way_count_once():
    parent = _member(0, set(), 0.0)
    current = _member(1, {"a"}, 0.32)      # the accepted child (the current program carries no family)
    strings = [_member(2 + k, {"a", f"b{k}"}, 0.31 - k / 100, ("p", 118, "mutation:replace_string")) for k in range(3)]
    the_fix = _member(9, {"c"}, 0.15, ("p", 118, "mutation:swap_args"))    # the other kind of edit of the line
    beam = Beam(width=3)
    beam.members = [parent]
    beam.update(current, [(m, parent) for m in (*strings, the_fix)])
    kept = [m.program.hash for m in beam.members]
    assert kept[0] == current.program.hash
    assert the_fix.program.hash in kept                   # not crowded out by the better-scoring string edits
    assert [m.program.hash in kept for m in strings] == [True, False, False]    # the best of the family only
    plain = Beam(width=3)                                  # children without a family (hand edits): exact sets decide
    plain.members = [parent]
    loose = [_member(20 + k, {f"x{k}"}, 0.3) for k in range(3)]
    plain.update(current, [(m, parent) for m in loose])
    assert len(plain.members) == 3
