"""The first round on a program the search did not make gets a wider pool (``population.FIRST_POOL``):
it is the one round on the user's program, and a compensation accepted there is what later rounds
cannot undo."""

from __future__ import annotations

import pytest
from planted import planted_session

import patchworld.population as population
from patchworld.gate import score_key

pytestmark = pytest.mark.slow

# the restyled BabyAI parser with its room-description test negated
BUG = (('if "The room has walls around you." in body:', 'if not ("The room has walls around you." in body):'),)


def test_a_negated_parser_test_is_fixed_in_the_first_round_only_with_the_wider_pool(tmp_path, monkeypatch):
    """The parser runs on every row, so the spectrum blames ``predict_belief``'s lines more, and a
    64-candidate pool never mutates the negated test; round 1 then accepts a swap of two values in
    ``correct_belief`` (val 0.44 -> 0.59), and 40 rounds of string edits fitted to the swap never come
    back (0.876, never the original's 0.906). With the first round's pool doubled, round 1 fixes the test,
    and the next round, on the search's own program, gets the usual pool."""
    pools: list[int] = []
    real_shares = population.shares
    monkeypatch.setattr(population, "shares", lambda n, k: (pools.append(n), real_shares(n, k))[1])

    session, original = planted_session("babyai", BUG, tmp_path / "wide", program="restyled", seed=3)
    try:
        res = session.step()
        assert score_key(session.score) >= original, res.accepted.note if res.accepted else None
        session.step()
    finally:
        session.close()
    assert pools == [128, 64]

    monkeypatch.setattr(population, "FIRST_POOL", 1)
    session, original = planted_session("babyai", BUG, tmp_path / "narrow", program="restyled", seed=3)
    try:
        res = session.step()
    finally:
        session.close()
    assert res.accepted is not None and "parse_observation" not in res.accepted.note
    assert score_key(session.score) < original
