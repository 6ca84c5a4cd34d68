"""The acceptance gate: how two programs' validation replays are scored, ordered and compared.

A candidate replaces the current program only if it is strictly better under a
lexicographic ordering (fewer load errors, then fewer exceptions and timeouts, then a
higher mean token F1, then fewer mismatches). Equal scores keep the current program, so a
patch that changes nothing measurable never churns the run. The gate only ever sees
replays of the validation split; it never reads test data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

__all__ = ["Verdict", "RoundResult", "F1_DECIMALS", "score", "score_key", "beats", "compare", "describe", "before_after",
           "replay_summary", "judge", "token_f1_changes"]

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
    b_ids, a_ids = before.steps.get_column("id"), after.steps.get_column("id")
    if b_ids.equals(a_ids):   # the usual case (same val set, same order): no join needed
        ids = b_ids.to_list()
        pairs = zip(ids, before.steps.get_column("exact").to_list(), after.steps.get_column("exact").to_list(),
                    strict=True)
        fixed, broken = [], []
        for tid, x, y in pairs:
            if x is False and y is True:
                fixed.append(tid)
            elif x is True and y is False:
                broken.append(tid)
        return sorted(fixed), sorted(broken)
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


_BEFORE_COLS = ("id", "observation", "action", "true", "predicted", "exact", "error_kind", "error", "belief")
_AFTER_COLS = ("id", "predicted", "exact", "error_kind", "error")


def _rows(replay: Any, ids: Sequence[str], cols: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The rows of ``replay.steps`` with these ids (one filter for all of them), keyed by id."""
    if replay is None or not ids:
        return {}
    frame = replay.steps.filter(pl.col("id").is_in(list(ids))).select(list(cols))
    return {r["id"]: r for r in frame.iter_rows(named=True)}


def _pairs(ids: Sequence[str], rows: dict[str, dict[str, Any]], a_rows: dict[str, dict[str, Any]]
           ) -> list[dict[str, Any]]:
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


def before_after(before: Any, after: Any | None, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per transition id: observation, action, true next observation, prediction before and after."""
    return _pairs(ids, _rows(before, ids, _BEFORE_COLS), _rows(after, ids, _AFTER_COLS))


def token_f1_changes(before: Any, after: Any) -> tuple[list[str], list[str]]:
    """Transition ids whose token F1 against the truth rose / fell from replay ``before`` to ``after``:
    the token-F1 view of fixed/broken, which also counts progress on transitions still not exact."""
    was = dict(zip(before.steps["id"].to_list(), before.steps["token_f1"].to_list(), strict=True))
    up, down = [], []   # plain lists: a polars join per candidate cost ~4x more for a few hundred rows
    for tid, f1 in zip(after.steps["id"].to_list(), after.steps["token_f1"].to_list(), strict=True):
        a = was.get(tid)
        if a is None or f1 is None:
            continue
        if f1 > a + 1e-12:
            up.append(tid)
        elif f1 < a - 1e-12:
            down.append(tid)
    return up, down


def replay_summary(verdict: Any, before: Any, after: Any | None, shown: Sequence[Any], n_examples: int = 8
                   ) -> dict[str, Any]:
    """What ``patches/<id>/replay_summary.json`` holds: scores, fixed/broken ids, and for the
    counterexamples shown to the proposer (plus a few fixed and broken transitions) the
    prediction before and after the patch. Each replay is filtered once for all these ids."""
    groups = ([c.id for c in shown], list(verdict.fixed[:n_examples]), list(verdict.broken[:n_examples]))
    wanted = sorted({tid for ids in groups for tid in ids})
    rows, a_rows = _rows(before, wanted, _BEFORE_COLS), _rows(after, wanted, _AFTER_COLS)
    return {
        "candidate_id": verdict.candidate_id, "round": verdict.round, "parent": verdict.parent,
        "child": verdict.child, "patch_id": verdict.patch_id, "accepted": verdict.accepted,
        "reason": verdict.reason, "score_before": verdict.score_before, "score_after": verdict.score_after,
        "outcome_after": getattr(after, "outcome", None), "detail_after": getattr(after, "detail", None),
        "fixed": verdict.fixed, "broken": verdict.broken,
        **dict(zip(("f1_up", "f1_down"), token_f1_changes(before, after) if _has_steps(before, after) else ([], []),
                   strict=True)),
        "counterexamples": _pairs(groups[0], rows, a_rows),
        "fixed_examples": _pairs(groups[1], rows, a_rows),
        "broken_examples": _pairs(groups[2], rows, a_rows),
    }


def _has_steps(*replays: Any) -> bool:
    return all(getattr(r, "steps", None) is not None and "token_f1" in r.steps.columns for r in replays)


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


def judge(verdicts: list[Verdict], replays: dict[str, Any], parent_replay: Any, before: dict,
          keep_fixed: Callable[[Verdict], bool] | None = None) -> Verdict | None:
    """Score each verdict's child from ``replays`` (child hash -> Replay, or the exception its replay
    raised), fill fixed/broken and a reason for each, and return the winner: the best strict
    improvement on ``before``; among exact ties, the first in ``verdicts`` order (callers sort it).

    A verdict that already has a reason (judged by the caller, e.g. rejected early) is left as it
    is; ``keep_fixed(v)`` true keeps the fixed/broken lists the caller filled (a child of another parent)."""
    for v in verdicts:
        if v.child is None or v.reason:
            continue
        rep = replays.get(v.child)
        if isinstance(rep, BaseException):
            v.reason = f"replay failed: {type(rep).__name__}: {rep}"
            continue
        v.score_after = score(rep)
        if keep_fixed is None or not keep_fixed(v):
            v.fixed, v.broken = compare(parent_replay, rep)
    better = [v for v in verdicts if v.score_after is not None and beats(v.score_after, before)]
    winner = max(better, key=lambda v: score_key(v.score_after)) if better else None   # max keeps the first
    for v in verdicts:
        if v.reason:
            continue
        if v is winner:
            v.accepted, v.reason = True, f"accepted: {describe(before)} -> {describe(v.score_after)}"
        elif v in better and score_key(v.score_after) == score_key(winner.score_after):
            v.reason = f"beats the parent but ties {winner.candidate_id}, which comes first in sample order"
        elif v in better:
            v.reason = f"beats the parent but {winner.candidate_id} scores higher"
        elif score_key(v.score_after) == score_key(before):
            v.reason = f"ties the parent ({describe(v.score_after)}): the current program is kept"
        else:
            v.reason = f"not better than the parent ({describe(v.score_after)} vs {describe(before)})"
    return winner
