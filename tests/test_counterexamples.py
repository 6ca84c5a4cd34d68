"""Counterexample selection: severity tiers, diversity, determinism."""

from __future__ import annotations

from patchworld.counterexamples import Counterexample, select_counterexamples


def _ce(traj: str, step: int, action: str, kind: str, error: str = "") -> Counterexample:
    return Counterexample(traj, step, "obs", action, "{}", "pred", "true", kind, error)


def _pool() -> list[Counterexample]:
    items = [_ce("t/0/0", s, "move up", "mismatch") for s in range(10)]
    items += [_ce("t/1/0", s, "craft plank", "mismatch") for s in range(3)]
    items += [_ce("t/2/0", 0, "look", "empty"), _ce("t/2/0", 1, "move up", "exception", "ValueError")]
    items += [_ce("t/3/0", 0, "take key", "step_timeout")]
    return items


def test_exceptions_come_before_mismatches_and_action_types_are_spread() -> None:
    chosen = select_counterexamples(_pool(), k=5, seed=0)
    assert [c.error_kind for c in chosen[:2]] in (["exception", "step_timeout"], ["step_timeout", "exception"])
    rest = chosen[2:]
    assert {c.action_type for c in rest} == {"move", "craft", "look"}  # one per (action type, kind) group first
    assert chosen[0].id in {"t/2/0#1", "t/3/0#0"}


def test_load_errors_first_and_deduplicated() -> None:
    items = _pool() + [_ce("t/9/0", s, "move up", "load_error", "SyntaxError at line 3") for s in range(4)]
    chosen = select_counterexamples(items, k=3, seed=1)
    assert chosen[0].error_kind == "load_error"
    assert sum(c.error_kind == "load_error" for c in chosen) == 1


def test_deterministic_for_a_seed_and_independent_of_input_order() -> None:
    pool = _pool()
    a = select_counterexamples(pool, k=6, seed=3)
    assert a == select_counterexamples(list(reversed(pool)), k=6, seed=3)
    seeds = {tuple(c.id for c in select_counterexamples(pool, k=6, seed=s)) for s in range(6)}
    assert len(seeds) > 1  # the seed matters
    assert len(select_counterexamples(pool, k=100)) == len(pool)
    assert select_counterexamples([], k=4) == []
