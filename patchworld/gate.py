"""The acceptance gate: how two programs' validation replays are scored, ordered and compared.

A candidate replaces the current program only if it is strictly better under a
lexicographic ordering (fewer load errors, then fewer exceptions and timeouts, then a
higher mean token F1, then fewer mismatches). Equal scores keep the current program, so a
patch that changes nothing measurable never churns the run. The gate only ever sees
replays of the validation split; it never reads test data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

__all__ = ["Verdict", "RoundResult", "F1_DECIMALS", "score", "score_key", "beats", "compare", "describe", "before_after", "replay_summary"]

F1_DECIMALS = 9
"""Token F1 is rounded to this many decimals before ordering, so float noise is a tie."""

_SCORE_FIELDS = ("token_f1", "exact_match", "n_transitions", "n_load_errors", "n_exceptions",
                 "n_timeouts", "n_job_failures", "n_mismatches", "n_from_memory")


def score(replay: Any) -> dict[str, Any]:
    """A small JSON-able score dict from a :class:`patchworld.replay.Replay` (its metrics + outcome)."""
    metrics: Mapping[str, Any] = replay.metrics
    out: dict[str, Any] = {}
    for name in _SCORE_FIELDS:
        value = metrics.get(name, 0)
        out[name] = float(value) if name in ("token_f1", "exact_match") else int(value or 0)
    out["outcome"] = str(getattr(replay, "outcome", "ok"))
    return out


def score_key(s: Mapping[str, Any]) -> tuple[int, int, float, int]:
    """Sort key where larger is better: (-load errors, -(exceptions + timeouts), token F1, -mismatches).

    A job-level failure (load error, whole-job timeout, crash) counts every transition as
    an error of that kind, so such a program ranks below any program that loads and runs.
    """
    n = int(s.get("n_transitions", 0) or 0)
    load_errors = int(s.get("n_load_errors", 0) or 0)
    job_failures = max(int(s.get("n_timeouts", 0) or 0), int(s.get("n_job_failures", 0) or 0))  # the latter includes the former
    exceptions = int(s.get("n_exceptions", 0) or 0) + job_failures
    outcome = s.get("outcome", "ok")
    if outcome == "load_error":
        load_errors = max(load_errors, n, 1)
    elif outcome not in ("ok", "", None):
        exceptions = max(exceptions, n, 1)
    f1 = round(float(s.get("token_f1", 0.0) or 0.0), F1_DECIMALS)
    return (-load_errors, -exceptions, f1, -int(s.get("n_mismatches", 0) or 0))


def beats(after: Mapping[str, Any], before: Mapping[str, Any]) -> bool:
    """True if ``after`` is strictly better than ``before``; ties keep the current program."""
    return score_key(after) > score_key(before)


def compare(before: Any, after: Any) -> tuple[list[str], list[str]]:
    """(fixed, broken) transition ids between two replays of the same trajectories, by exact match.

    fixed: not exact before, exact after; broken: exact before, not exact after. Ids are
    sorted for stable logs. Transitions present in only one replay are ignored.
    """
    b = before.steps.select("id", pl.col("exact").alias("exact_before"))
    a = after.steps.select("id", pl.col("exact").alias("exact_after"))
    joined = b.join(a, on="id", how="inner")
    fixed = joined.filter(~pl.col("exact_before") & pl.col("exact_after"))["id"].to_list()
    broken = joined.filter(pl.col("exact_before") & ~pl.col("exact_after"))["id"].to_list()
    return sorted(fixed), sorted(broken)


def describe(s: Mapping[str, Any] | None) -> str:
    """A one-line human summary of a score."""
    if not s:
        return "not evaluated"
    text = f"token_f1 {float(s.get('token_f1', 0.0)):.3f}, exact {float(s.get('exact_match', 0.0)):.3f}"
    errors = int(s.get("n_load_errors", 0)) + int(s.get("n_exceptions", 0)) + int(s.get("n_timeouts", 0))
    if s.get("outcome", "ok") != "ok":
        text += f", {s.get('outcome')}"
    if errors:
        text += f", {errors} errors"
    return text


def before_after(before: Any, after: Any | None, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per transition id: observation, action, true next observation, prediction before and after."""
    if not ids:
        return []
    cols = ["id", "observation", "action", "true", "predicted", "exact", "error_kind", "error", "belief"]
    b = before.steps.filter(pl.col("id").is_in(list(ids))).select(cols)
    rows = {r["id"]: r for r in b.iter_rows(named=True)}
    a_rows: dict[str, dict[str, Any]] = {}
    if after is not None:
        a = after.steps.filter(pl.col("id").is_in(list(ids))).select("id", "predicted", "exact", "error_kind", "error")
        a_rows = {r["id"]: r for r in a.iter_rows(named=True)}
    out = []
    for tid in ids:
        r = rows.get(tid)
        if r is None:
            continue
        x = a_rows.get(tid, {})
        out.append({"id": tid, "observation": r["observation"], "action": r["action"], "true": r["true"],
                    "belief_before": r["belief"], "predicted_before": r["predicted"], "exact_before": r["exact"],
                    "error_kind_before": r["error_kind"], "error_before": r["error"],
                    "predicted_after": x.get("predicted"), "exact_after": x.get("exact"),
                    "error_kind_after": x.get("error_kind"), "error_after": x.get("error")})
    return out


def replay_summary(verdict: Any, before: Any, after: Any | None, shown: Sequence[Any], n_examples: int = 8
                   ) -> dict[str, Any]:
    """What ``patches/<id>/replay_summary.json`` holds: scores, fixed/broken ids, and for the
    counterexamples shown to the proposer (plus a few fixed and broken transitions) the
    prediction before and after the patch."""
    return {
        "candidate_id": verdict.candidate_id, "round": verdict.round, "parent": verdict.parent,
        "child": verdict.child, "patch_id": verdict.patch_id, "accepted": verdict.accepted,
        "reason": verdict.reason, "score_before": verdict.score_before, "score_after": verdict.score_after,
        "outcome_after": getattr(after, "outcome", None), "detail_after": getattr(after, "detail", None),
        "fixed": verdict.fixed, "broken": verdict.broken,
        "counterexamples": before_after(before, after, [c.id for c in shown]),
        "fixed_examples": before_after(before, after, verdict.fixed[:n_examples]),
        "broken_examples": before_after(before, after, verdict.broken[:n_examples]),
    }


@dataclass
class Verdict:
    """One candidate judged on val: its scores, the transitions it fixed and broke, and the decision."""

    candidate_id: str
    round: int
    parent: str
    child: str | None
    patch_id: str | None
    apply_tier: str
    score_before: dict
    score_after: dict | None
    fixed: list[str]
    broken: list[str]
    accepted: bool
    reason: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    origin: str = ""
    note: str = ""

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RoundResult:
    """What one round did: every verdict, the accepted one (if any), and timings."""

    round: int
    verdicts: list[Verdict]
    accepted: Verdict | None
    program: Any                       # the current program after the round
    score: dict                        # its val score
    seconds: float = 0.0
    propose_seconds: float = 0.0       # time inside the proposer (LLM wait)
    eval_seconds: float = 0.0          # time replaying candidates on val
    notes: list[str] = field(default_factory=list)

    @property
    def candidates(self) -> int:
        return len(self.verdicts)

    @property
    def val_token_f1(self) -> float:
        return float(self.score.get("token_f1", 0.0))

    @property
    def fixed(self) -> int:
        return len(self.accepted.fixed) if self.accepted else 0

    @property
    def broken(self) -> int:
        return len(self.accepted.broken) if self.accepted else 0
