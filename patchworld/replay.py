"""Replaying trajectories through a world-model program: teacher-forced (RQ1) and rollout (RQ2).

For each trajectory: ``b = correct_belief(init_belief(), first observation)``; then per
transition ``b' = predict_belief(b, a)``, ``o_hat = readout_observation(b', a)``, compare with
the true next observation, and ``b = correct_belief(b', o_true)`` (``mode="teacher"``) or
``b = correct_belief(b', o_hat)`` (``mode="rollout"``: the model feeds on its own predictions).
An exception in predict keeps the belief and predicts ""; an exception in correct keeps the
prior. With a :class:`ResidualMemory`, a memory hit on (current observation text, action) --
the true observation in teacher mode, the model's last prediction in rollout -- replaces the
readout; the program's belief still advances.

The whole job runs in one sandbox worker, driven in lockstep from this process
(:func:`patchworld.sandbox.run_job`): the worker gets step t of every trajectory and returns its
predictions before any true observation of that step reaches it; exactness and every metric are
computed here. The steps frame always has one row per transition, even when the program fails
to load or the job dies. Options for candidate screening: ``lean=True`` (no belief summaries, no
BLEU-4: ``bleu4`` is NaN), ``trajectories_subset`` / ``max_steps`` (replay only some trajectories
or a prefix of each), ``trace_lines=True`` (``Replay.lines``: the program lines each step ran).
``post_correction=True`` (teacher mode only) adds the reference's post-correction readout: after
``correct_belief(b', o_true)`` the worker reads the corrected belief out with the step's action and
returns it with the next round's reply (never before the step's own prediction was returned, and
never scored as one); it becomes the steps frame's ``post_predicted`` column ("" where the readout
raised or the job stopped first) and ``token_f1_post_correction``.

Metrics (all over every transition; failures score 0): ``token_f1``, ``exact_match``,
``bleu4`` (see :mod:`patchworld.metrics`), ``coverage`` (share of covered predictions; our rule
also drops a row whose belief correction with the true observation raised, so a program can only
lower it after seeing the truth; no mean over those rows is reported, since raising there would raise
it), the reference's headline numbers ``token_f1_ref``, ``bleu4_ref``,
``coverage_ref`` (:func:`patchworld.metrics.reference_metrics`; not in ``lean`` mode),
``token_f1_post_correction`` (None unless ``post_correction=True``) and
counts of rows: ``n_load_errors``, ``n_exceptions`` (exceptions and step timeouts),
``n_timeouts`` (rows lost to a job-level timeout), ``n_job_failures`` (rows lost to any job
failure: timeout, memory, crashed, output limit, protocol error), ``n_mismatches`` (mismatch or empty),
``n_from_memory`` (residual hits); ``outcome`` repeats the job outcome. Rollout mode adds ``f1@h`` for h in 1, 2, 3, 5, 8, 10, 15 (mean token F1 of the h-th
prediction over trajectories at least h long), ``rollout_auc`` (mean of the reported
horizons) and ``rollout_drop`` (first reported minus last reported), as the reference does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from patchworld.counterexamples import Counterexample, from_frame
from patchworld.data import Trajectory
from patchworld.metrics import bleu4, is_covered, judge_row, storable_text, token_f1
from patchworld.program import Program
from patchworld.residual import ResidualMemory
from patchworld.sandbox import Limits, precompile, run_job, usable_cores

__all__ = ["replay", "Replay", "HORIZONS", "STEP_SCHEMA"]

HORIZONS: tuple[int, ...] = (1, 2, 3, 5, 8, 10, 15)
STEP_SCHEMA: dict[str, Any] = {
    "traj_id": pl.Utf8, "step": pl.Int64, "id": pl.Utf8, "observation": pl.Utf8, "action": pl.Utf8,
    "predicted": pl.Utf8, "true": pl.Utf8, "token_f1": pl.Float64, "exact": pl.Boolean, "bleu4": pl.Float64,
    "error_kind": pl.Utf8, "error": pl.Utf8, "belief": pl.Utf8, "from_memory": pl.Boolean,
}
_HORIZON_SCHEMA = {"horizon": pl.Int64, "token_f1": pl.Float64, "exact_match": pl.Float64, "n": pl.Int64}


@dataclass
class Replay:
    """The result of replaying one program over a set of trajectories."""

    program_hash: str
    mode: str
    split: str
    outcome: str
    detail: str
    steps: pl.DataFrame
    metrics: dict
    horizon: pl.DataFrame | None = None
    output: str = ""  # the first few KB the program printed
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    lines: list[list[int]] | None = None  # with trace_lines: the program lines each row's step ran

    def counterexamples(self) -> list[Counterexample]:
        """Every row that is not an exact match, as counterexamples."""
        return from_frame(self.steps)

    def summary(self) -> str:
        """One line: outcome and headline metrics."""
        m = self.metrics
        return (f"{self.program_hash} {self.mode} on {self.split}: {self.outcome} "
                f"f1={m['token_f1']:.3f} exact={m['exact_match']:.3f} n={m['n_transitions']}")


def _split_of(trajectories: Sequence[Trajectory]) -> str:
    splits = {t.split for t in trajectories}
    return splits.pop() if len(splits) == 1 else ("mixed" if splits else "")


def replay(
    program: Program,
    trajectories: Sequence[Trajectory],
    mode: str = "teacher",
    sandbox: bool = True,
    residual: ResidualMemory | None = None,
    limits: Limits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    lean: bool = False,
    trace_lines: bool = False,
    trajectories_subset: Sequence[int] | None = None,
    max_steps: int | None = None,
    shards: int | None = None,
    post_correction: bool = False,
    isolate: bool = False,
) -> Replay:
    """Replay ``trajectories`` through ``program`` (see the module docstring).

    ``shards``: worker processes sharing the trajectories (see :func:`patchworld.sandbox.run_job`).
    ``isolate``: one job (one fresh worker) per trajectory, so nothing the program learns from one
    trajectory's true observations can reach its predictions for another; what the gate confirms an
    accepted program with, what evaluation and ``patchworld replay`` report (a job per trajectory costs
    a few ms more). Without it, trajectories share workers and are stepped side by side: fast (the
    search screens candidates this way), but a program that keeps what one trajectory revealed can
    score higher on the others than it would alone, so report isolated numbers.
    Never raises for anything the program does; ``Replay.outcome`` says how the job ended.
    """
    if mode not in ("teacher", "rollout"):
        raise ValueError(f"mode must be 'teacher' or 'rollout', got {mode!r}")
    if post_correction and mode != "teacher":
        raise ValueError("post_correction needs mode='teacher' (rollout never sees a true observation)")
    trajectories = list(trajectories)
    if trajectories_subset is not None:
        trajectories = [trajectories[i] for i in trajectories_subset]
    if max_steps is not None:
        trajectories = [dataclasses.replace(t, transitions=tuple(t.transitions[: max(0, max_steps)]))
                        for t in trajectories]
    payload = _payload(trajectories)
    total = sum(len(traj.transitions) for traj in trajectories)
    done = [0]
    scored: dict[int, dict[str, list]] = {}

    def on_columns(index: int, columns: list) -> None:
        # score while the worker carries on with the next round
        if _width(columns) == len(trajectories[index].transitions):
            scored[index] = _score(trajectories[index], columns, lean=lean, post=post_correction)
        done[0] += len(trajectories[index].transitions)
        if progress is not None:
            progress(done[0], total, f"replay {program.hash}")

    if progress is not None:
        progress(0, total, f"replay {program.hash}")
    if isolate and len(payload) > 1:
        job = _isolated_jobs(program, payload, mode, residual, limits, sandbox, on_columns, lean, trace_lines,
                             post_correction)
    else:
        job = run_job(program, payload, mode, residual, limits, sandbox, on_columns, lean=lean, trace=trace_lines,
                      shards=shards, post=post_correction)
    columns = _step_columns(trajectories, job.columns, scored, job.outcome, job.detail, lean, post_correction)
    metrics = _metrics(columns, columns.pop("covered"))
    shown = columns.pop("shown")
    lines = columns.pop("lines")
    if not lean:
        metrics.update(_reference_numbers(columns, shown))
    if post_correction:
        metrics["token_f1_post_correction"] = _post_correction_f1(columns["post_predicted"], columns["true"])
    steps = pl.DataFrame(columns, schema={**STEP_SCHEMA, **({"post_predicted": pl.Utf8} if post_correction else {})})
    horizon = None
    if mode == "rollout":
        horizon = _horizon_frame(columns)
        metrics.update(_horizon_metrics(horizon))
    if progress is not None:
        progress(total, total, f"replay {program.hash}: {job.outcome}")
    return Replay(program.hash, mode, _split_of(trajectories), job.outcome, job.detail, steps, metrics, horizon,
                  job.output, job.seconds, {"layers": job.layers}, lines if trace_lines else None)


ISOLATED_AT_ONCE = 2
"""Jobs of an isolated replay (one per trajectory) running at once: one per core of a 2-core machine
(fewer when this process may run on fewer cores: :func:`patchworld.sandbox.usable_cores`;
``benchmarks/candidate_eval.py --one-job`` sets it to 1 to time a round that never runs two jobs)."""


def _isolated_jobs(program: Program, payload: list[list], mode: str, residual: ResidualMemory | None,
                   limits: Limits | None, sandbox: bool, on_columns: Callable[[int, list], None], lean: bool,
                   trace: bool, post: bool) -> Any:
    """One job per trajectory (:data:`ISOLATED_AT_ONCE` at a time), merged into one result: the first
    job (in trajectory order) that did not end "ok" gives the outcome and detail; outputs are joined,
    seconds added.

    The jobs start in an order drawn from the operating system's randomness, which no program can
    predict: the next job is not known to be the next trajectory (of the same task, say), so what a
    job could signal to the one started after it (its end time: ``docs/SECURITY.md``, channels) is
    not addressed to a known trajectory."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    lock = threading.Lock()

    def locked(index: int, columns: list) -> None:
        with lock:
            on_columns(index, columns)

    def one(item: list) -> Any:
        return run_job(program, [item], mode, residual, limits, sandbox, locked, lean=lean, trace=trace, shards=1,
                       post=post)

    if sandbox:
        precompile(program.source)   # once here, not in each job's freshly forked process
    order = list(range(len(payload)))
    random.SystemRandom().shuffle(order)
    at_once = min(ISOLATED_AT_ONCE, usable_cores()) if sandbox else 1   # in-process: one module at a time
    with ThreadPoolExecutor(at_once, thread_name_prefix="pw-isolate") as pool:
        done = dict(zip(order, pool.map(one, [payload[k] for k in order]), strict=True))
    jobs = [done[k] for k in range(len(payload))]
    merged = jobs[0]
    for job in jobs[1:]:
        merged.columns.update(job.columns)
        merged.seconds += job.seconds
        if job.output and len(merged.output) < 4000:
            merged.output += job.output
        if merged.outcome == "ok" and job.outcome != "ok":
            merged.outcome, merged.detail = job.outcome, job.detail
    return merged


def _payload(trajectories: list[Trajectory]) -> list[list]:
    return [[i, [[t.observation, t.action, t.next_observation] for t in traj.transitions]]
            for i, traj in enumerate(trajectories) if traj.transitions]


def _width(columns: object) -> int:
    """How many steps a job's columns cover: 0 unless six or seven lists (the shortest of the first six
    counts; the seventh, post-correction readouts, may be shorter or empty)."""
    if not isinstance(columns, list) or len(columns) not in (6, 7) or not all(isinstance(c, list) for c in columns):
        return 0
    return min(len(c) for c in columns[:6])


def _score(traj: Trajectory, columns: object, fill_kind: str = "", fill_error: str = "",
           lean: bool = False, post: bool = False) -> dict[str, list]:
    """Step columns for one trajectory: the job's rows, then filler rows for any missing.

    The job's columns are plain values already (coerced in :func:`patchworld.sandbox.run_job`);
    exactness is decided here, against this process's copy of the true observation. Besides
    the frame's columns, ``covered`` flags the rows counting for coverage (for the metrics)
    and ``lines`` holds the traced program lines per row; with ``post``, ``post_predicted`` holds
    the post-correction readouts ("" where none came back).
    """
    transitions = traj.transitions
    n = len(transitions)
    width = min(_width(columns), n)
    trues = [t.next_observation for t in transitions]
    predicted, kinds, errors, beliefs, hits, ran = [], [], [], [], [], []
    f1s, exacts, bleus, covered, shown = [], [], [], [], []
    if width:
        preds, kind_col, error_col, belief_col, hit_col, line_col = columns[:6]  # type: ignore[index]
    post_col = columns[6] if post and width and len(columns) == 7 else []  # type: ignore[arg-type]
    nan = float("nan")
    for step in range(n):
        true = trues[step]
        if step < width:
            pred, kind, error, belief, hit = (storable_text(preds[step]), kind_col[step], storable_text(error_col[step]),
                                              storable_text(belief_col[step]), hit_col[step] is True)
            lines = line_col[step]
        else:
            pred, kind, error, belief, hit, lines = "", fill_kind, fill_error, "", False, []
        exact, kind = judge_row(pred, true, kind)
        predicted.append(pred)
        kinds.append(kind)
        errors.append(error)
        beliefs.append(belief)
        hits.append(hit)
        ran.append(lines)
        f1s.append(token_f1(pred, true))
        exacts.append(exact)
        bleus.append(nan if lean else bleu4(pred, true))
        cov = is_covered(pred)
        shown.append(cov)
        covered.append(cov and kind not in ("exception", "step_timeout"))
    tid = traj.id
    extra = {"post_predicted": [storable_text(post_col[i]) if i < len(post_col) else "" for i in range(n)]} if post else {}
    return {
        "traj_id": [tid] * n, "step": list(range(n)), "id": [f"{tid}#{step}" for step in range(n)],
        "observation": [t.observation for t in transitions], "action": [t.action for t in transitions],
        "predicted": predicted, "true": trues, "token_f1": f1s, "exact": exacts, "bleu4": bleus,
        "error_kind": kinds, "error": errors, "belief": beliefs, "from_memory": hits, "covered": covered,
        "shown": shown, "lines": ran, **extra,
    }


def _step_columns(trajectories: list[Trajectory], raw: dict[int, list], scored: dict[int, dict[str, list]],
                  outcome: str, detail: str, lean: bool = False, post: bool = False) -> dict[str, list]:
    """One row per transition (and ``covered``, ``shown``, ``lines``): rows scored as they came, fillers for the rest."""
    fill_kind = outcome if outcome != "ok" else "crashed"
    fill_error = detail if outcome != "ok" else "no result for this transition"
    names = [*STEP_SCHEMA, "covered", "shown", "lines", *(["post_predicted"] if post else [])]
    columns: dict[str, list] = {name: [] for name in names}
    for index, traj in enumerate(trajectories):
        got = scored.get(index)
        if got is None:
            got = _score(traj, raw.get(index), fill_kind, fill_error, lean, post)
        for name, values in got.items():
            columns[name].extend(values)
    return columns


def _metrics(columns: dict[str, list], covered: list[bool]) -> dict:
    kinds = columns["error_kind"]
    f1 = columns["token_f1"]
    n = len(kinds)
    n_cov = sum(covered)
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1

    def count(*names: str) -> int:
        return sum(counts.get(name, 0) for name in names)

    return {
        "token_f1": sum(f1) / n if n else 0.0,
        "exact_match": sum(columns["exact"]) / n if n else 0.0,
        "bleu4": sum(columns["bleu4"]) / n if n else 0.0,  # NaN in lean mode
        "coverage": n_cov / n if n else 0.0,
        "n_transitions": n,
        "n_load_errors": count("load_error"),
        "n_exceptions": count("exception", "step_timeout"),
        "n_timeouts": count("timeout"),
        "n_job_failures": count("timeout", "memory", "crashed", "output_limit", "protocol_error"),
        "n_mismatches": count("mismatch", "empty"),
        "n_from_memory": sum(columns["from_memory"]),
    }


def _reference_numbers(columns: dict[str, list], shown: list[bool]) -> dict:
    """:func:`patchworld.metrics.reference_metrics` from the per-row token F1 and BLEU-4 already computed.

    ``shown``: the rows whose prediction :func:`patchworld.metrics.is_covered` (the reference's coverage);
    the same values, summed in the same order, as recomputing them from the texts.
    """
    n_cov = sum(shown)
    f1 = sum(v for v, c in zip(columns["token_f1"], shown, strict=True) if c) / n_cov if n_cov else 0.0
    bleu = sum(v for v, c in zip(columns["bleu4"], shown, strict=True) if c) / n_cov if n_cov else 0.0
    n = len(shown)
    return {"token_f1_ref": round(f1, 4), "bleu4_ref": round(bleu, 4),
            "coverage_ref": round(n_cov / n, 4) if n else 0.0, "token_f1_post_correction": None}


def _post_correction_f1(post: list[str], true: list[str]) -> float:
    """The reference's ``mean_token_f1_post_correction``: mean token F1 of the covered post-correction
    readouts (0.0 when none is covered), rounded to 4 places (as
    :func:`patchworld.metrics.reference_metrics`)."""
    pairs = [(p, t) for p, t in zip(post, true, strict=True) if is_covered(p)]
    return round(sum(token_f1(p, t) for p, t in pairs) / len(pairs), 4) if pairs else 0.0


def _horizon_frame(columns: dict[str, list]) -> pl.DataFrame:
    """Mean token F1 and exact match of the h-th prediction, per reported horizon (from the step columns)."""
    sums: dict[int, list] = {h: [0.0, 0, 0] for h in HORIZONS}  # f1 sum, exact count, rows
    for step, f1, exact in zip(columns["step"], columns["token_f1"], columns["exact"], strict=True):
        acc = sums.get(step + 1)
        if acc is not None:
            acc[0] += f1
            acc[1] += exact
            acc[2] += 1
    rows = {"horizon": list(HORIZONS), "token_f1": [], "exact_match": [], "n": []}
    for h in HORIZONS:
        f1_sum, n_exact, n = sums[h]
        rows["token_f1"].append(f1_sum / n if n else None)
        rows["exact_match"].append(n_exact / n if n else None)
        rows["n"].append(n)
    return pl.DataFrame(rows, schema=_HORIZON_SCHEMA)


def _horizon_metrics(horizon: pl.DataFrame) -> dict:
    out: dict[str, float] = {}
    observed = []
    for h, f1, n in zip(horizon["horizon"].to_list(), horizon["token_f1"].to_list(), horizon["n"].to_list(),
                        strict=True):
        value = f1 if n else 0.0
        out[f"f1@{h}"] = value
        if n:
            observed.append(value)
    out["rollout_auc"] = sum(observed) / len(observed) if observed else 0.0
    out["rollout_drop"] = observed[0] - observed[-1] if observed else 0.0
    return out
