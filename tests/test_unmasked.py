"""A mutant that changed nothing may have been masked by the bug the accepted edit fixed: after an
acceptance, the replaced program's silent mutants are tried again on the accepted program.

In the hand-written Wordle program, a negated test in ``_feedback`` makes every feedback wrong, and
a negated ``_FEEDBACK.match`` test in ``parse_observation`` skips parsing the feedback. While the
first bug stands, un-negating the parse test changes no prediction (a silent mutant: the feedback
it would parse is wrong anyway). Round 1 fixes ``_feedback``; without a second look at its silent
mutants, the search then accepted other edits of ``_feedback`` that fit val with the parse still
broken, and 40 rounds ended at val 0.703 (the original: 0.827).
"""

from __future__ import annotations

from planted import no_probes, planted_session, run_until_repaired, usual_first_pool

from patchworld.gate import score_key
from patchworld.localise import Suspicion
from patchworld.patches import apply_patch, patch_from_sources
from patchworld.program import Program
from patchworld.proposers.base import Proposal
from patchworld.second_order import unmasked

TOY = '''\
def a(x):
    return x + 1


def b(x):
    return x * 2


def c(x):
    return x - 3
'''


def _proposal(parent: Program, old: str, new: str, line: int) -> Proposal:
    patch = patch_from_sources(parent, parent.source.replace(old, new), origin="mutation:test", note=f"{old} -> {new}")
    return Proposal(patch, "ast_mutation", extra={"line": line})


def test_silent_mutants_are_applied_on_top_of_the_accepted_edit_one_a_line_most_blamed_first():
    replaced = Program(TOY)
    accepted = _proposal(replaced, "x + 1", "x + 2", 2)
    current = Program(apply_patch(replaced.source, accepted.patch).source)
    silent = [(2, _proposal(replaced, "x + 1", "x - 1", 2)),        # the accepted edit's own line: left out
              (6, _proposal(replaced, "x * 2", "x * 3", 6)),
              (6, _proposal(replaced, "x * 2", "x + 2", 6)),
              (10, _proposal(replaced, "x - 3", "x - 4", 10))]
    blame = Suspicion({2: 0.9, 6: 0.2, 10: 0.7}, {}, "coverage")
    out = unmasked(current, replaced, accepted, silent, blame, k=3)
    results = [apply_patch(current.source, p.patch).source for p in out]
    assert all("x + 2\n" in r.split("def b")[0] for r in results)        # the accepted edit is kept in each
    assert ["x - 4" in results[0], "x * 3" in results[1], "x + 2" in results[2].split("def b")[1]] == [True] * 3
    assert all(p.patch.origin == "unmasked" and p.extra["unmasked"] for p in out)
    assert unmasked(current, replaced, accepted, silent, blame, k=1) == out[:1]


MASKED_PARSE = (('"g" if g == t else', '"g" if not (g == t) else'),
                ("if _FEEDBACK.match(text):", "if not (_FEEDBACK.match(text)):"))
"""Wordle: a negated feedback rule masks a negated parse test (its fix alone changes nothing)."""


def test_a_bug_masked_by_the_one_just_fixed_is_repaired_in_the_next_round(tmp_path, monkeypatch):
    """(With the first round's wider pool, ``population.FIRST_POOL``, round 1's silent mutants are spread
    over more lines and the parse fix is ranked after the 6 that take places of the pool: the next test;
    this one tests the unmasking itself, so the first round gets the usual pool.)"""
    usual_first_pool(monkeypatch)
    session, original = planted_session("wordle", MASKED_PARSE, tmp_path / "run")
    try:
        first = session.step()
        assert first.accepted is not None and "if not (_FEEDBACK.match(text))" in session.current.source
        session.step()
        assert score_key(session.score) >= original      # the parse fix, silent in round 1, is accepted now
        assert "if not (_FEEDBACK.match(text))" not in session.current.source
        assert any(r.get("origin") == "unmasked" and r.get("accepted") for r in session.store.candidates())
    finally:
        session.close()


def test_after_a_widened_first_round_the_masked_fix_is_among_the_unmasked_mutants_beside_the_pool(tmp_path,
                                                                                                 monkeypatch):
    """The same two bugs with the first round widened (the default): round 1's silent mutants spread over
    twice the lines, and the parse fix is ranked after the 6 that take places of round 2's pool
    (``UNMASKED_IN_POOL``); the next 6, tried beside the pool (``UNMASKED_ON_TOP``), hold it. Without
    them it took until round 7. (Round 2's probes of the accepted program would mark the parse test: off here.)"""
    no_probes(monkeypatch)
    session, original = planted_session("wordle", MASKED_PARSE, tmp_path / "run")
    try:
        session.step()
        assert "if not (_FEEDBACK.match(text))" in session.current.source
        session.step()
        assert score_key(session.score) >= original
        assert "if not (_FEEDBACK.match(text))" not in session.current.source
        unmasked_r2 = [r for r in session.store.candidates() if r.get("round") == 2 and r.get("origin") == "unmasked"]
        fix = next(r for r in unmasked_r2 if r["accepted"])
        siblings = [r["candidate_id"] for r in unmasked_r2 if r["parent"] == fix["parent"]]
        assert len(siblings) == 12 and siblings.index(fix["candidate_id"]) >= 6   # one of those beside the pool
    finally:
        session.close()


def test_a_beam_member_gets_its_parents_mutants_again(tmp_path):
    """Hand-written TextCraft program: a flipped ``recipe["out"] != out_name`` skips the recipe asked for,
    and a negated ``match is None`` test breaks the ingredient match and makes ``pool.remove`` raise. Fixing
    the second makes the program stop raising but changes few rows, so that child only joins the beam (an
    edit elsewhere that also stops the crash scores more); the flip of the first, tried on the buggy
    parent, was masked there. The child gets its parent's mutants again, and the pair is repaired."""
    bugs = (('if recipe["out"] != out_name or', 'if recipe["out"] == out_name or'),
            ("if match is None:", "if not (match is None):"))
    session, original = planted_session("textcraft", bugs, tmp_path / "run")
    accepted = run_until_repaired(session, original)
    assert score_key(session.score) >= original
    currents = {r["child"] for r in accepted}   # programs that were current at some point
    assert any(r.get("origin") == "unmasked" and r["parent"] not in currents for r in accepted), \
        [(r.get("origin"), r.get("note")) for r in accepted]
