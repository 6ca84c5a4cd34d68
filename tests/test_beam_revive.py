"""A starved beam (a round that proposed nothing) goes on from the first programs that left it."""

from __future__ import annotations

from pathlib import Path

from planted import planted_session

from patchworld.beam import RETIRED_KEPT, Beam, Member
from patchworld.gate import score_key
from patchworld.program import Program


def _member(n: int, f1: float, exact: set[str] | None = None) -> Member:
    return Member(Program(f"def f():\n    return {n}\n"), replay=None, exact=frozenset(exact or {f"r{n}"}),
                  key=(0, 0, f1, 0))


def test_programs_leaving_the_beam_are_kept_in_order_and_revived_beside_the_current() -> None:
    start = _member(0, 0.58)
    beam = Beam(width=3, max_age=1)
    beam.reset(start)
    hack = _member(1, 0.64)                            # an edit fitted to the symptoms, accepted in round 1
    beam.update(hack, [])
    assert [m.program.hash for m in beam.members] == [hack.program.hash, start.program.hash]
    better = _member(2, 0.70)
    beam.update(better, [])
    beam.update(better, [])                            # the start program ages out, then the first step
    assert start.program.hash not in {m.program.hash for m in beam.members}
    assert [m.program.hash for m in beam.retired][:2] == [start.program.hash, hack.program.hash]
    back = beam.revive()
    assert [m.program.hash for m in back] == [start.program.hash, hack.program.hash]   # first to leave first
    assert [m.program.hash for m in beam.members] == [better.program.hash, start.program.hash, hack.program.hash]
    assert all(m.age == 0 for m in beam.members[1:]) and beam.members[0] is better   # the current stays first
    assert beam.retired == [] and beam.revive() == []   # nothing left to revive: only the current stays
    assert [m.program.hash for m in beam.members] == [better.program.hash]


def test_the_retired_list_is_bounded() -> None:
    beam = Beam(width=2, max_age=0)
    beam.reset(_member(0, 0.1))
    for n in range(1, 3 * RETIRED_KEPT):
        beam.update(_member(n, 0.1 + n / 1000), [])
    assert len(beam.retired) == RETIRED_KEPT
    assert beam.retired[0].program.source.endswith("return 0\n")   # the start program is never pushed out


def test_a_search_that_ran_dry_repairs_from_the_start_program(tmp_path: Path) -> None:
    """Wordle with two bugs that mask each other (line 49's fix changes nothing while line 21 is wrong):
    with proposer seed 9001 the search accepts edits fitted to line 21's symptoms and uses up every
    mutation and pair of its beam by round 26; the start program, revived, gives the pair that repairs
    both (val back to the original's)."""
    bugs = (('"y" if g in target else "b"', '"y" if not (g in target) else "b"'),
            ('elif parsed["kind"] == "feedback" and', 'elif parsed["kind"] != "feedback" and'))
    session, original = planted_session("wordle", bugs, tmp_path / "run", seed=9001)
    empty_rounds = 0
    try:
        for _ in range(34):
            result = session.step()
            empty_rounds += result.candidates == 0
            if score_key(session.score) >= original:
                break
    finally:
        session.close()
    assert empty_rounds >= 1                         # it did run dry: the case this mechanism is for
    assert score_key(session.score) >= original
    assert 'elif parsed["kind"] == "feedback" and' in session.current.source
