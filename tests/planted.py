"""A wide-search session on a hand-written (or restyled) program with bugs planted by text replacement (a test helper).

Use in a test module (the tests folder is on ``sys.path`` under pytest's default import mode)::

    from planted import planted_session
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import patchworld.population
from patchworld.data import load_trajectories
from patchworld.gate import score, score_key
from patchworld.program import Program
from patchworld.proposers.mutation import MutationProposer
from patchworld.replay import replay
from patchworld.synthesis import Session

ROOT = Path(__file__).resolve().parents[1]


def planted_session(env: str, bugs: tuple[tuple[str, str], ...], run_dir: Path, program: str = "handwritten",
                    seed: int = 0) -> tuple[Session, tuple]:
    """(beam session on ``env``'s program in ``data/programs/<program>/`` with each ``(old, new)`` of ``bugs``
    replaced, the unmutated program's val score key). Each ``old`` must occur exactly once."""
    folder = ROOT / "data" / "trajectories" / env
    train, val = (load_trajectories(folder / f"{env}_traj_{s}.jsonl") for s in ("train", "val"))
    source = (ROOT / "data" / "programs" / program / f"{env}.py").read_text(encoding="utf-8")
    buggy = source
    for old, new in bugs:
        assert buggy.count(old) == 1, old
        buggy = buggy.replace(old, new)
    original = score_key(score(replay(Program(source=source), val)))
    session = Session(env, train, val, program=Program(source=buggy), proposer=MutationProposer(seed=seed),
                      run_dir=run_dir, n_candidates=64, workers=2, search="beam", seed=seed)
    return session, original


def run_until_repaired(session: Session, original: tuple, rounds: int = 6) -> list[dict]:
    """Step ``session`` until its val score key reaches ``original`` (at most ``rounds`` rounds), close it,
    and return the accepted candidates' records (the caller asserts on the score and on these)."""
    try:
        for _ in range(rounds):
            session.step()
            if score_key(session.score) >= original:
                break
    finally:
        session.close()
    return [r for r in session.store.candidates() if r.get("accepted")]


def usual_first_pool(monkeypatch: Any) -> None:
    """Give the first round the usual pool (``population.FIRST_POOL = 1``) for this test: a test of a
    later-round mechanism (redo, completion, unmasking) whose case the wider first round reaches another way."""
    monkeypatch.setattr(patchworld.population, "FIRST_POOL", 1)


def no_probes(monkeypatch: Any) -> None:
    """Switch off the predicate-switch probes of each new program (``patchworld.probes``) for this test: a test
    of another mechanism whose faulty line a probe would mark first."""
    monkeypatch.setattr(patchworld.population, "run_probes", lambda *args, **kwargs: {})


def repaired_only_with(monkeypatch: Any, target: Any, name: str, off: Any, env: str,
                       bugs: tuple[tuple[str, str], ...], run_dir: Path, seed: int = 0, rounds: int = 1) -> None:
    """Assert that ``bugs`` planted in ``env``'s hand-written program are repaired within ``rounds`` rounds, and
    are not once ``target.name`` is set to ``off`` (the mechanism that attribute switches is what repairs them)."""
    session, original = planted_session(env, bugs, run_dir / "with", seed=seed)
    accepted = run_until_repaired(session, original, rounds=rounds)
    assert score_key(session.score) >= original, [r.get("note") for r in accepted]
    monkeypatch.setattr(target, name, off)
    session, original = planted_session(env, bugs, run_dir / "without", seed=seed)
    run_until_repaired(session, original, rounds=rounds)
    assert score_key(session.score) < original, f"repaired without {name}"
