"""Staged candidate screening: a cheap replay on a sample first, full val only for survivors.

Teacher-forced replay treats each trajectory on its own, so a child replayed on a few val
trajectories predicts exactly what its full val replay would predict there. The sample is a
few trajectories the parent gets wrong (chosen to cover distinct failures: action type x
error kind) (up to 8) plus a small random sample (3) of trajectories it gets entirely right. A child is
rejected early when, on the sample, it scores worse than the parent (the gate's ordering on
those rows), scores the same while breaking a transition the parent got right in a passing
trajectory, or predicts exactly what the parent predicts (it cannot be the fix for the
failures the sample shows). A child that breaks a sampled transition but scores better on
the sample survives: with two bugs, the parent can be right by accident. Survivors get a full val
replay and go through the gate as usual. The sample changes every round (seeded).

Screening in batches (:func:`evaluate_batch`): the children of one parent are screened together in
one sandbox job process (:func:`patchworld.sandbox.batch.run_batch`), each loaded in a fresh
namespace, which saves the per-job fixed cost (fork, kernel layers, audit hook, lockstep round trips)
and scores only what the screen reads (token F1 only on rows whose prediction differs from the
parent's). Candidates in a batch can disturb each other, so a batch only decides who gets a full
val replay; the survivors' replays (each its own job) are what the gate judges, and the accepted
child is confirmed with one worker per trajectory. A batch that fails as a whole (a crash, memory,
CPU, a malformed frame) is screened again one job per child.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from patchworld.candidate_jobs import replay_candidate

__all__ = ["Screener", "Screened", "Survives", "SampleReplay", "subset_key", "evaluate_one", "evaluate_batch",
           "columns", "send_batches", "collect"]

_EXCEPTION_KINDS = ("exception", "step_timeout", "timeout", "memory", "crashed", "output_limit")


def subset_key(kinds: Sequence[str], f1s: Sequence[float]) -> tuple[int, int, float, int]:
    """:func:`patchworld.gate.score_key` on a set of rows (sums instead of means: same order for the same rows)."""
    load = sum(k == "load_error" for k in kinds)
    exc = sum(k in _EXCEPTION_KINDS for k in kinds)
    mism = sum(k in ("mismatch", "empty") for k in kinds)
    return (-load, -exc, round(sum(f1s), 9), -mism)


@dataclass
class SampleReplay:
    """A child's rows on the screening sample, scored only as far as the screen needs (plain lists:
    ``id``, ``predicted``, ``exact``, ``error_kind``, ``token_f1``, ``error``: the text of exceptions
    only); ``steps`` builds a frame on demand."""

    cols: dict[str, list]
    outcome: str = "ok"
    detail: str = ""

    @property
    def steps(self) -> Any:
        import polars as pl

        return pl.DataFrame(self.cols)


def columns(rep: Any, *names: str) -> list[list]:
    """Columns of a :class:`SampleReplay` or a :class:`patchworld.replay.Replay` as lists."""
    cols = getattr(rep, "cols", None)
    if cols is not None:
        return [cols[n] for n in names]
    steps = rep.steps
    return [steps.get_column(n).to_list() for n in names]


@dataclass
class Screened:
    """A candidate rejected on the screening sample: its replay there and why."""

    replay: Any
    reason: str
    n_rows: int


@dataclass(frozen=True)
class Survives:
    """A child that passed its screen, from a batch sent with ``full=False``: its full val replay is a
    job of its own (:func:`patchworld.candidate_jobs.replay_candidate`, lean), so survivors spread
    over the workers as they free up. ``replay``: its rows on the sample (what :mod:`patchworld.probes`
    reads; None when nothing was screened)."""

    replay: Any = None


class Screener:
    """Picks the screening sample for one parent replay and judges children on it."""

    def __init__(self, parent_replay: Any, trajectories: Sequence[Any], n_failing: int = 8, n_passing: int = 3,
                 seed: int = 0):
        steps = parent_replay.steps
        ids = steps.get_column("traj_id").to_list()
        exact = steps.get_column("exact").to_list()
        kinds = steps.get_column("error_kind").to_list()
        actions = steps.get_column("action").to_list()
        failures: dict[str, set[tuple[str, str]]] = {}
        for tid, ok, kind, action in zip(ids, exact, kinds, actions, strict=True):
            if not ok:
                failures.setdefault(tid, set()).add(((action.split() or [""])[0].lower(), kind))
        rng = random.Random(seed)
        by_id = {t.id: t for t in trajectories}
        failing = sorted(failures)
        rng.shuffle(failing)
        chosen: list[str] = []
        covered: set[tuple[str, str]] = set()
        while len(chosen) < min(n_failing, len(failing)):   # greedy cover of the distinct failures
            best = max((t for t in failing if t not in chosen), key=lambda t: len(failures[t] - covered))
            chosen.append(best)
            covered |= failures[best]
        passing = sorted(t.id for t in trajectories if t.id not in failures and t.transitions)
        chosen += rng.sample(passing, min(n_passing, len(passing)))
        self.passing = set(chosen) - set(failures)
        self.sample = [by_id[t] for t in sorted(chosen, key=ids.index) if t in by_id]
        self.payload = [[i, [[s.observation, s.action, s.next_observation] for s in t.transitions]]
                        for i, t in enumerate(self.sample) if t.transitions]
        keep = set(chosen)
        self._rows = {tid_step: (ok, kind, f1, pred, tid) for tid_step, ok, kind, f1, pred, tid in zip(
            steps.get_column("id").to_list(), exact, kinds, steps.get_column("token_f1").to_list(),
            steps.get_column("predicted").to_list(), ids, strict=True) if tid in keep}
        rows = list(self._rows.values())
        self.parent_key = subset_key([r[1] for r in rows], [r[2] for r in rows])
        self.full = len(keep) >= len({t.id for t in trajectories})   # the sample is all of val: no screening
        self._f1: dict[tuple[str, str], float] = {}   # (row id, prediction) -> token F1, shared by siblings

    @property
    def n_rows(self) -> int:
        return len(self._rows)

    def rows(self, cols_by_index: dict[int, list], outcome: str = "ok", detail: str = "") -> SampleReplay:
        """A child's :class:`SampleReplay` from the job columns of its sample replay (per trajectory
        index of :attr:`payload`), with the rules of :func:`patchworld.replay.replay`: rows past what
        came back are failures of the job's outcome; token F1 is taken from the parent where the
        prediction is the parent's (same text, same score)."""
        from patchworld.metrics import judge_row, storable_text, token_f1

        fill = outcome if outcome != "ok" else "crashed"
        out: dict[str, list] = {"id": [], "predicted": [], "exact": [], "error_kind": [], "token_f1": [], "error": []}
        ids, preds, exacts, kinds, f1s, errors = out.values()
        for i, traj in enumerate(self.sample):
            col = cols_by_index.get(i)
            width = min(len(c) for c in col[:6]) if col else 0
            for step, t in enumerate(traj.transitions):
                rid, true = f"{traj.id}#{step}", t.next_observation
                pred, kind = (storable_text(col[0][step]), col[1][step]) if step < width else ("", fill)  # type: ignore[index]
                exact, kind = judge_row(pred, true, kind)
                parent = self._rows.get(rid)
                if parent is not None and parent[3] == pred:
                    f1 = parent[2]
                else:   # siblings often make the same wrong prediction (e.g. "" after an exception)
                    f1 = self._f1.get((rid, pred))
                    if f1 is None:
                        f1 = self._f1[(rid, pred)] = token_f1(pred, true)
                ids.append(rid)
                preds.append(pred)
                exacts.append(exact)
                kinds.append(kind)
                f1s.append(f1)
                errors.append(storable_text(col[2][step]) if kind == "exception" and step < width else "")  # type: ignore[index]
        return SampleReplay(out, outcome, detail)

    def judge(self, child_replay: Any) -> str:
        """Why the child is rejected on the sample ("" if it survives to the full val replay)."""
        cols = columns(child_replay, "id", "exact", "error_kind", "token_f1", "predicted")
        broken = same = 0
        kinds, f1s = [], []
        for tid, ok, kind, f1, pred in zip(*cols, strict=True):
            parent = self._rows.get(tid)
            if parent is None:
                continue
            kinds.append(kind)
            f1s.append(f1)
            same += pred == parent[3] and kind == parent[1]
            if parent[0] and not ok and parent[4] in self.passing:
                broken += 1
        key = subset_key(kinds, f1s)
        if key < self.parent_key:
            return f"rejected early: worse than the parent on the {len(kinds)} sampled transitions"
        if broken and key == self.parent_key:
            return f"rejected early: breaks {broken} transition(s) the parent got right in the screening sample"
        if same == len(kinds):
            return f"rejected early: predicts exactly what the parent predicts on the {len(kinds)} sampled transitions"
        return ""


def evaluate_one(child: Any, screener: Screener, val: Any, sandbox: bool, residual: Any, limits: Any,
                 full: bool = True) -> Any:
    """Screen one child in a job of its own, then (survivors) replay it on all of val; a Replay, a
    Screened, or the exception raised (``full=False``: :class:`Survives` instead of the val replay).
    An executor job: plain arguments only."""
    from patchworld.replay import replay

    small = None
    try:
        if not screener.full:
            small = replay(child, screener.sample, mode="teacher", sandbox=sandbox, residual=residual,
                           limits=limits, lean=True)
            reason = screener.judge(small)
            if reason:
                return Screened(small, reason, screener.n_rows)
    except Exception as exc:  # noqa: BLE001
        return exc
    return replay_candidate(child, val, sandbox, residual, limits, lean=True) if full else Survives(small)


def evaluate_batch(children: Sequence[Any], screener: Screener, val: Any, sandbox: bool, residual: Any,
                   limits: Any, full: bool = True) -> list[Any]:
    """:func:`evaluate_one` for each child, screening them together in one sandbox job (see the module
    docstring); survivors get a full val replay each, one job per child (``full=False``: they come back
    as :class:`Survives`, for the caller to replay as jobs of their own). One result per child."""
    from patchworld.sandbox.batch import MAX_BATCH, run_batch

    children = list(children)
    if not sandbox or screener.full or not screener.payload or len(children) < 2 or len(children) > MAX_BATCH:
        return [evaluate_one(c, screener, val, sandbox, residual, limits, full) for c in children]
    try:
        batch = run_batch(children, screener.payload, residual, limits, lean=True)
    except Exception:  # noqa: BLE001 - screened one by one instead
        batch = None
    if batch is None or batch.outcome != "ok":
        return [evaluate_one(c, screener, val, sandbox, residual, limits, full) for c in children]
    out: list[Any] = []
    for k, child in enumerate(children):
        try:
            small = screener.rows(batch.columns[k], batch.outcomes[k], batch.details[k])
            reason = screener.judge(small)
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
            continue
        if reason:
            out.append(Screened(small, reason, screener.n_rows))
        else:
            out.append(replay_candidate(child, val, sandbox, residual, limits, lean=True) if full else Survives(small))
    return out


def send_batches(pending: list, futures: dict[str, Any], pool: Any, session: Any) -> None:
    """Send the waiting ``(hash, child, screener)`` items off to ``pool``: the children of one parent in
    ``session.workers`` screening batches (one :func:`evaluate_batch` job each, ``full=False``, so every
    worker has one and no more); a child whose screener screens nothing (the sample is all of val) goes
    straight to a full val replay job (:func:`submit_full`). ``futures[hash]`` becomes ``(future,
    position in its batch)`` (position None: the future is the child's own full replay)."""
    from patchworld.sandbox.batch import MAX_BATCH

    by_screener: dict[int, list] = {}
    for item in pending:
        by_screener.setdefault(id(item[2]), []).append(item)
    pending.clear()
    for group in by_screener.values():
        if group[0][2].full:
            for h, child, _ in group:
                futures[h] = (submit_full(pool, session, child), None)
            continue
        size = min(MAX_BATCH, -(-len(group) // max(1, session.workers)))
        for i in range(0, len(group), size):
            chunk = group[i:i + size]
            fut = pool.submit(evaluate_batch, [c for _, c, _ in chunk], chunk[0][2], session._val_handle(),
                              session.sandbox, session.residual, session.limits, False)
            for pos, (h, _, _) in enumerate(chunk):
                futures[h] = (fut, pos)


def submit_full(pool: Any, session: Any, child: Any) -> Any:
    """A lean val replay job of ``child`` (:func:`patchworld.candidate_jobs.replay_candidate`) on
    ``session``'s val split."""
    return pool.submit(replay_candidate, child, session._val_handle(), session.sandbox, session.residual,
                       session.limits, True)


def collect(futures: dict[str, Any], children: dict[str, Any], pool: Any, session: Any,
            progress: Callable[[int, int, str], None] | None = None, label: str = "") -> dict[str, Any]:
    """Each child's result from :func:`send_batches`'s ``futures``: a Replay, a :class:`Screened` or an
    exception. As each screening batch returns, its survivors' full val replays are sent off at once,
    one job each, so a batch that kept many survivors does not leave the other workers idle."""
    from concurrent.futures import FIRST_COMPLETED, wait

    out: dict[str, Any] = {}
    waiting: dict[Any, list[tuple[str, int | None]]] = {}
    for h, (fut, pos) in futures.items():
        waiting.setdefault(fut, []).append((h, pos))
    done_count = 0
    while waiting:
        finished, _ = wait(list(waiting), return_when=FIRST_COMPLETED)
        for fut in finished:
            try:
                result: Any = fut.result()
            except Exception as exc:  # noqa: BLE001 - an internal failure rejects these candidates only
                result = exc
            for h, pos in waiting.pop(fut):
                item = result if pos is None or isinstance(result, BaseException) else result[pos]
                if isinstance(item, Survives):
                    waiting[submit_full(pool, session, children[h])] = [(h, None)]
                    continue
                out[h] = item
                done_count += 1
                if progress:
                    progress(done_count, len(futures), f"{label}evaluated {done_count}/{len(futures)} candidates")
    return {h: out[h] for h in futures}   # submission order, never arrival order: rounds stay reproducible
