"""The first round on a program the search did not make gets a wider pool (``population.FIRST_POOL``):
it is the one round on the user's program, and a compensation accepted there is what later rounds
cannot undo."""

from __future__ import annotations

from pathlib import Path

import pytest

import patchworld.population as population
from patchworld.bugs import plant_sites
from patchworld.program import Program
from patchworld.proposers.mutation import MutationProposer

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _session(tmp_path: Path, name: str):
    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    source = (ROOT / "data/programs/restyled/babyai.py").read_text(encoding="utf-8")
    bug = next(b for b in plant_sites(source) if b.operator == "negate_if" and b.function == "parse_observation"
               and "walls around" in source.splitlines()[b.line - 1])
    folder = ROOT / "data/trajectories/babyai"
    train, val = (load_trajectories(folder / f"babyai_traj_{s}.jsonl") for s in ("train", "val"))
    original = score_key(score(replay(Program(source), val)))
    session = Session("babyai", train, val, program=Program(bug.apply(source)), proposer=MutationProposer(seed=3),
                      run_dir=tmp_path / name, n_candidates=64, seed=3, search="beam")
    return session, original, score_key


def test_a_negated_parser_test_is_fixed_in_the_first_round_only_with_the_wider_pool(tmp_path, monkeypatch):
    """A negated ``if "The room has walls around you." in body`` in the restyled BabyAI parser: the parser
    runs on every row, so the spectrum blames ``predict_belief``'s lines more, and a 64-candidate pool
    never mutates the test; round 1 then accepts a swap of two values in ``correct_belief`` (val
    0.44 -> 0.59), and 40 rounds of string edits fitted to the swap never come back (0.876, never the
    original's 0.906). With the first round's pool doubled, round 1 fixes the test."""
    pools: list[int] = []
    real_shares = population.shares
    monkeypatch.setattr(population, "shares", lambda n, k: (pools.append(n), real_shares(n, k))[1])

    session, original, score_key = _session(tmp_path, "wide")
    res = session.step()
    assert score_key(session.score) >= original, res.accepted.note if res.accepted else None
    session.step()   # a round on the search's own program: the usual pool
    session.close()
    assert pools == [128, 64]

    monkeypatch.setattr(population, "FIRST_POOL", 1)
    session, original, score_key = _session(tmp_path, "narrow")
    res = session.step()
    session.close()
    assert res.accepted is not None and "parse_observation" not in res.accepted.note
    assert score_key(session.score) < original
