"""A child starts localisation afresh: its parent's mutant evidence is not carried over.

Two negated branches of one ``elif`` chain in the hand-written SciWorld program: the first
(``act == "task"``) sends every later action into its branch, so the second (``open door to``) is
never reached and its mutants in the parent change nothing. Round 1 fixes the first. In the child
nearly every failing row now runs the second; carried-over evidence from the parent (lines whose
mutants had changed failing rows there, when the first bug shaped every prediction) ranked those
lines above it, round 2 accepted a string edit instead, and 40 rounds did not repair the pair.
"""

from __future__ import annotations

from planted import planted_session

from patchworld.gate import score_key

BUGS = (('elif act == "task":', 'elif not (act == "task"):'),
        ('elif act.startswith("open door to "):', 'elif not (act.startswith("open door to ")):'))


def test_a_bug_the_first_fix_makes_reachable_is_repaired_in_the_next_round(tmp_path):
    session, original = planted_session("sciworld", BUGS, tmp_path / "run")
    try:
        assert score_key(session.score) < original
        first = session.step()
        assert first.accepted is not None and 'elif not (act == "task")' not in session.current.source
        current = session.beam.members[0]
        assert current.program.hash == session.current.hash and current.evidence == {}   # nothing carried over
        session.step()
        assert score_key(session.score) >= original      # the second bug, reachable now, is fixed in round 2
        assert 'elif not (act.startswith("open door to "))' not in session.current.source
    finally:
        session.close()
