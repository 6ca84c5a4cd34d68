"""The beam keeps one child of a family: siblings that edited the same line of one parent the same way."""

from __future__ import annotations

from patchworld.beam import Beam, Member
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


def test_of_two_programs_right_on_the_same_rows_a_logic_edit_is_kept_over_a_string_edit():
    """A string spliced from the observations into a readout's default makes the same rows exact as the
    negation that puts the branch right, and scores a little more F1 on the other rows; the beam keeps the
    negation (the second bug is one step from it), and still one string edit whose rows differ."""
    parent = _member(0, set(), 0.0)
    current = _member(1, set(), 0.715)                                  # an F1-only string edit was accepted
    string_twin = _member(2, {"a", "b"}, 0.573, ("p", 80, "mutation:replace_string"))
    other_string = _member(3, {"a", "b", "c"}, 0.570, ("p", 84, "mutation:insert_word"))
    negation = _member(4, {"a", "b"}, 0.571, ("p", 86, "mutation:negate_cond"))
    beam = Beam(width=3)
    beam.members = [parent]
    beam.update(current, [(m, parent) for m in (string_twin, other_string, negation)])
    kept = [m.program.hash for m in beam.members]
    assert kept == [current.program.hash, negation.program.hash, other_string.program.hash]
    logic_twin = _member(5, {"a", "b"}, 0.573, ("p", 81, "mutation:flip_compare"))   # two logic edits: the key decides
    beam.members = [parent]
    beam.update(current, [(m, parent) for m in (logic_twin, negation)])
    assert [m.program.hash for m in beam.members] == [current.program.hash, logic_twin.program.hash]
    same_as_current = _member(6, set(), 0.6, ("q", 86, "mutation:negate_cond"))   # never replaces the current
    other_parent = _member(7, {"z"}, 0.0)
    beam.members = [other_parent]
    beam.update(current, [(same_as_current, other_parent)])
    assert [m.program.hash for m in beam.members] == [current.program.hash, other_parent.program.hash]
