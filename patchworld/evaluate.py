"""Evaluation driver: fidelity (RQ1, RQ2) and planning utility, with paired bootstrap intervals.

:func:`evaluate` returns one tidy frame (:data:`~patchworld.results.RESULT_SCHEMA`), one row per
(env, label, variant, round, metric), each with a paired-bootstrap 95 % interval ``lo``/``hi``:

| rq | metrics | units resampled |
|---|---|---|
| ``rq1`` | token_f1, exact_match, bleu4, coverage (ours: every transition, failures score 0); token_f1_ref, bleu4_ref, coverage_ref, token_f1_post_correction (the reference's headline numbers, :func:`patchworld.metrics.reference_metrics`, unrounded); memory_hits, memory_wrong_hits (totals), memory_entries (Residual; built from train, so a constant: lo = hi) | test trajectories |
| ``rq2`` | rollout_auc, rollout_drop (recomputed from the per-horizon means on every draw: :mod:`patchworld.rollout_measure`), f1@h | test trajectories |
| ``decision`` | decision_agreement, decision_regret, action_accuracy, action_f1 (offline, same privileged chooser on both sides) | planning states |
| ``search`` | model_search_success (strict), model_search_lenient_success, model_search_steps (offline; the planner knows only the program and the goal text) | test tasks |
| ``rq3`` | llm_success, llm_lenient_success, llm_steps, n_chooser_fallbacks (a total; the paper's RQ3; only with an LLM; ReAct baseline as reference ``ReAct (LLM alone)``) | test tasks |

Variants: ``simple`` (the program), ``residual`` (the same program wrapped post hoc with the
train memory at the reference's settings, :class:`patchworld.residual.Residual`), ``reference``
(lookup table, copy last, most frequent: :mod:`patchworld.baselines`), ``oracle`` (the env as
its own model; fidelity 1.0 by construction, a constant) and ``simple-residual`` (paired differences of the
two variants of one program, with their interval). Rows of env ``macro`` average the envs
(for points present in every env), their intervals from the same per-env draws. Every metric
with a value has an interval (:class:`~patchworld.intervals.Resampled`).

Protocol defaults: every test task of the env (``n_tasks``), 30 steps per live episode, 1000
bootstrap draws with seed 0; all recorded in the results metadata by the command. The size
settings (:data:`PER_ENV`) take one value for every env or a mapping ``{env: value, "*": default}``
(a slow env, SciWorld, gets fewer tasks and states without shrinking the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from patchworld.baselines import reference_programs
from patchworld.data import Trajectory, load_trajectories
from patchworld.demo import REPO_ROOT
from patchworld.intervals import DEFAULT_SAMPLES, Resampled, difference_interval, interval, statistics
from patchworld.metrics import is_covered, token_f1
from patchworld.planning import LLMSettings, PerfectWorldModel, open_world_model
from patchworld.residual import Residual, hit_counts
from patchworld.results import RESULT_SCHEMA, load_results, macro_average, program_source, save_results, wide
from patchworld.rollout_measure import rollout_measures
from patchworld.utility import Constant, Measure, decision_agreement, llm_success, model_search_success, react_success

__all__ = ["evaluate", "load_split", "wide", "macro_average", "save_results", "load_results", "program_source",
           "RESULT_SCHEMA", "ALL_RQS", "REACT_LABEL", "PER_ENV", "for_env"]

ALL_RQS = ("rq1", "rq2", "decision", "search", "rq3")
REACT_LABEL = "ReAct (LLM alone)"
ProgressFn = Callable[[int, int, str], None]
PER_ENV = ("n_tasks", "max_test", "rollout_limit", "proxy_states", "search_candidates")
"""Settings of :func:`evaluate` that may differ per env (an int/None, or ``{env: value, "*": default}``)."""
Size = int | None | Mapping[str, int | None]
Entry = tuple  # (label, Program, variant, env) or (label, Program, variant, env, round)
Measured = dict[str, tuple[str, Resampled]]  # metric -> (rq, Measure | RolloutMeasure | Constant)


SHIPPED_DATA = REPO_ROOT / "data" / "trajectories"
"""The trajectories shipped with the workbench (the default wherever the caller runs from)."""


def load_split(env: str, split: str, data_dir: str | Path = SHIPPED_DATA) -> list[Trajectory]:
    """The shipped trajectories ``<data_dir>/<env>/<env>_traj_<split>.jsonl``."""
    path = Path(data_dir) / env / f"{env}_traj_{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {split} split for {env} (run `patchworld generate` first)")
    return load_trajectories(path)


def for_env(value: Size, env: str) -> int | None:
    """A :data:`PER_ENV` setting for ``env``: the value itself, or ``value[env]``, else ``value["*"]``."""
    if isinstance(value, Mapping):
        return value.get(env, value.get("*"))
    return value


def _planning_limits() -> Any:
    from patchworld.sandbox import Limits

    return Limits(cpu_seconds=600.0, wall_seconds=1200.0)  # a planning session lives for many episodes


def _by_trajectory(steps: pl.DataFrame) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in steps.iter_rows(named=True):
        groups.setdefault(row["traj_id"], []).append(row)
    return list(groups.items())


def _teacher(program: Any, test: Sequence[Trajectory], sandbox: bool, memory: Any) -> Measured:
    from patchworld.replay import replay

    r = replay(program, test, mode="teacher", sandbox=sandbox, residual=memory, post_correction=True, isolate=True)
    names = ("token_f1", "exact_match", "bleu4", "coverage", "token_f1_ref", "bleu4_ref", "coverage_ref")
    m = {k: Measure() for k in names}
    for tid, rows in _by_trajectory(r.steps):
        ours = [is_covered(x["predicted"]) and x["error_kind"] not in ("exception", "step_timeout") for x in rows]
        ref = [is_covered(x["predicted"]) for x in rows]
        m["token_f1"].add(tid, sum(x["token_f1"] for x in rows), len(rows))
        m["exact_match"].add(tid, sum(x["exact"] for x in rows), len(rows))
        m["bleu4"].add(tid, sum(x["bleu4"] for x in rows), len(rows))
        m["coverage"].add(tid, sum(ours), len(rows))
        m["token_f1_ref"].add(tid, sum(x["token_f1"] for x, c in zip(rows, ref, strict=True) if c), sum(ref))
        m["bleu4_ref"].add(tid, sum(x["bleu4"] for x, c in zip(rows, ref, strict=True) if c), sum(ref))
        m["coverage_ref"].add(tid, sum(ref), len(rows))
    out: Measured = {k: ("rq1", v) for k, v in m.items()}
    if r.metrics.get("token_f1_post_correction") is not None and "post_predicted" in r.steps.columns:
        post = Measure()  # the reference's mean over covered post-correction readouts, per trajectory
        for tid, rows in _by_trajectory(r.steps):
            covered = [x for x in rows if is_covered(x["post_predicted"])]
            post.add(tid, sum(token_f1(x["post_predicted"], x["true"]) for x in covered), len(covered))
        out["token_f1_post_correction"] = ("rq1", post)
    if memory is not None:
        hits = {"memory_hits": Measure(total=True), "memory_wrong_hits": Measure(total=True)}
        for tid, rows in _by_trajectory(r.steps):
            got = hit_counts([x["from_memory"] for x in rows], [x["predicted"] for x in rows],
                             [x["true"] for x in rows])
            for k, v in got.items():
                hits[k].add(tid, v)
        out.update({k: ("rq1", v) for k, v in hits.items()})
        out["memory_entries"] = ("rq1", Constant(float(len(memory))))
    return out


def _rollout(program: Any, test: Sequence[Trajectory], sandbox: bool, memory: Any) -> Measured:
    from patchworld.replay import HORIZONS, replay

    r = replay(program, test, mode="rollout", sandbox=sandbox, residual=memory, isolate=True)
    groups = _by_trajectory(r.steps)
    out: Measured = {k: ("rq2", v) for k, v in rollout_measures(
        ((tid, [(x["step"], x["token_f1"]) for x in rows]) for tid, rows in groups), HORIZONS).items()}
    for h in HORIZONS:
        m = Measure()
        for tid, rows in groups:
            if len(rows) >= h:
                m.add(tid, rows[h - 1]["token_f1"])
        if m.n:
            out[f"f1@{h}"] = ("rq2", m)
    return out


def _measure(env: str, program: Any, variant: str, data: tuple, rqs: Sequence[str], opts: dict[str, Any],
             memory: Any) -> tuple[Measured, str]:
    """Every requested measure of one point; a failing measure leaves a note instead of stopping the run."""
    train, test, tasks = data
    sandbox = opts["sandbox"]
    out: Measured = {}
    notes = []

    def open_model(live: Any) -> Any:
        if program == "oracle":
            return PerfectWorldModel(live)
        return open_world_model(program, sandbox=sandbox, residual=memory, limits=_planning_limits())

    steps: list[tuple[str, Callable[[], Measured]]] = []
    if program == "oracle":
        out["token_f1"] = ("rq1", Constant(1.0))
        out["exact_match"] = ("rq1", Constant(1.0))
    elif program != "react":
        if "rq1" in rqs:
            steps.append(("rq1", lambda: _teacher(program, test, sandbox, memory)))
        if "rq2" in rqs:
            subset = test[: opts["rollout_limit"]] if opts["rollout_limit"] else test
            steps.append(("rq2", lambda: _rollout(program, subset, sandbox, memory)))
    if program != "react":
        if "decision" in rqs:
            steps.append(("decision", lambda: {k: ("decision", v) for k, v in decision_agreement(
                open_model, env, test, max_states=opts["proxy_states"], truth=opts.get("truth")).items()}))
        if "search" in rqs:
            steps.append(("search", lambda: {k: ("search", v) for k, v in model_search_success(
                open_model, env, tasks, opts["max_steps"], opts["depth"], opts["beam"],
                opts["search_candidates"]).items() if k != "model_search_chooser_fallbacks"}))
    llm = opts["llm"]
    if "rq3" in rqs and llm is not None and llm.configured:
        def rq3() -> Measured:
            got = (react_success(env, tasks, llm, opts["max_steps"]) if program == "react"
                   else llm_success(open_model, env, tasks, llm, opts["max_steps"], opts["max_candidates"]))
            fallbacks = got.pop("llm_chooser_fallbacks")
            total = Measure(fallbacks.units, fallbacks.num, fallbacks.den, total=True)
            return {**{k: ("rq3", v) for k, v in got.items()}, "n_chooser_fallbacks": ("rq3", total)}
        steps.append(("rq3", rq3))
    for rq, fn in steps:
        try:
            out.update(fn())
        except Exception as exc:  # a program that cannot even load measures nothing: say so in the note
            notes.append(f"{rq}: {type(exc).__name__}: {str(exc)[:160]}")
    return out, "; ".join(notes)


def _row(key: tuple, program: str, rq: str, metric: str, value: Any, lo: Any, hi: Any, n: int,
         note: str) -> dict[str, Any]:
    env, label, variant, rnd = key
    return {"env": env, "label": label, "variant": variant, "round": rnd, "program": program, "rq": rq,
            "metric": metric, "value": None if value is None else float(value), "lo": lo, "hi": hi, "n": n,
            "note": note}


def _macro_interval(measures: list[Resampled], seed: int, samples: int,
                    minus: list[Resampled] | None = None) -> tuple[float | None, float | None]:
    """Interval of the mean over envs (of ``measures``, or of ``measures - minus`` paired per env):
    draw b of the macro is the mean of each env's draw b."""
    per_env = []
    for k, m in enumerate(measures):
        stats = statistics(m, seed, samples)
        if minus is not None:
            stats = [None if a is None or b is None else a - b
                     for a, b in zip(stats, statistics(minus[k], seed, samples), strict=True)]
        per_env.append(stats)
    values = sorted(sum(v) / len(v) for v in zip(*per_env, strict=True) if None not in v)
    if not values:
        return None, None
    return values[round(0.025 * (len(values) - 1))], values[round(0.975 * (len(values) - 1))]


def evaluate(entries: Sequence[Entry], envs: Sequence[str], data_dir: str | Path = SHIPPED_DATA,
             rqs: Sequence[str] = ALL_RQS, references: bool = True, oracle: bool = True, n_tasks: Size = None,
             max_steps: int = 30, proxy_states: Size = 60, rollout_limit: Size = None,
             max_test: Size = None, sandbox: bool = True, depth: int = 2, beam: int = 3,
             max_candidates: int | None = 8, search_candidates: Size = None, llm: LLMSettings | None = None,
             residual_preset: str = "reference",
             seed: int = 0, samples: int = DEFAULT_SAMPLES, progress: ProgressFn | None = None,
             sources: dict[str, str] | None = None, executor: Any = None,
             trusted: frozenset[str] = frozenset(), skip: Sequence[str] = ()) -> pl.DataFrame:
    """Evaluate program entries on ``envs`` (module docstring); a tidy frame with intervals.

    ``entries``: ``(label, Program, variant, env[, round])`` with variant ``simple`` or
    ``residual`` (the program wrapped post hoc: :meth:`Residual.wrap` with ``residual_preset``).
    ``n_tasks``: first test tasks in sorted order (default: all), as the reference takes a
    consecutive range. ``max_candidates`` (8, the paper's) caps the LLM agent's candidates;
    ``search_candidates`` (default: no cap) the search planner's: every available action, then
    the program's concrete action forms. Each setting of :data:`PER_ENV` may be a per-env mapping
    (:func:`for_env`). ``decision_agreement`` computes each env's true outcomes once and shares them
    with every program of that env. ``sources`` is filled with ``{hash: source}`` of every program evaluated.

    ``executor`` (:mod:`patchworld.executors`; default: one point after another in this process)
    runs the points as jobs (each env's data shipped once per node); results do not depend on it.
    ``skip``: ``"env/variant/rq"`` measures not to take (``"sciworld/oracle/search"``: the perfect model's
    live search clones the JVM world per prediction, ~1 h per task); a macro row then leaves that point out.
    ``trusted``: hashes of programs built by workbench code that must run in-process (LLM-Direct,
    which calls the LLM); every other program runs in the sandbox unless ``sandbox=False``.
    """
    bad = [r for r in rqs if r not in ALL_RQS]
    if bad:
        raise ValueError(f"evaluate: unknown rq {bad}; choose from {ALL_RQS}")
    bad = [s for s in skip if len(s.split("/")) != 3 or s.split("/")[2] not in ALL_RQS]
    if bad:
        raise ValueError(f"evaluate: skip {bad}: expected 'env/variant/rq' with rq in {ALL_RQS}")
    opts = {"sandbox": sandbox, "max_steps": max_steps, "depth": depth, "beam": beam,
            "max_candidates": max_candidates, "llm": llm}
    sizes = {"rollout_limit": rollout_limit, "proxy_states": proxy_states, "search_candidates": search_candidates}
    plan: list[tuple[tuple, Any]] = []  # ((env, label, variant, round), program | "oracle" | "react")
    data, memories, truths = {}, {}, {}
    from patchworld.envs.base import registered

    simulated = set(registered())   # envs without a simulator get RQ1/RQ2 only (no planning, no oracle)
    for env in envs:
        train, test = load_split(env, "train", data_dir), load_split(env, "test", data_dir)
        k, cap = for_env(n_tasks, env), for_env(max_test, env)
        tasks = sorted({t.task_idx for t in test})[:k] if k else sorted({t.task_idx for t in test})
        data[env] = (train, test[:cap] if cap else test, tasks)
        for e in entries:
            if e[3] != env:
                continue
            if e[2] not in ("simple", "residual"):
                raise ValueError(f"evaluate: entry {e[0]!r} has variant {e[2]!r}; use 'simple' or 'residual'")
            plan.append(((env, e[0], e[2], e[4] if len(e) > 4 else None), e[1]))
        if references:
            plan += [((env, label, "reference", None), prog) for label, prog in reference_programs(train, env)]
            if llm is not None and llm.configured and "rq3" in rqs and env in simulated:
                plan.append(((env, REACT_LABEL, "reference", None), "react"))
        if oracle and env in simulated:
            plan.append(((env, "perfect model", "oracle", None), "oracle"))
    rows: list[dict[str, Any]] = []
    measured: dict[tuple, Measured] = {}
    shared = {env: executor.share(d) for env, d in data.items()} if executor is not None else data
    jobs = []
    for key, program in plan:
        env, label, variant, _ = key
        memory = None
        if variant == "residual":
            if env not in memories:
                memories[env] = Residual.wrap(program, data[env][0], residual_preset).memory
            memory = memories[env]
        phash = program if isinstance(program, str) else program.hash
        if sources is not None and not isinstance(program, str):
            sources[phash] = program.source
        job_opts = dict(opts, sandbox=opts["sandbox"] and phash not in trusted, truth=truths.setdefault(env, {}),
                        **{name: for_env(value, env) for name, value in sizes.items()})
        point_rqs = [r for r in rqs if f"{env}/{variant}/{r}" not in skip
                     and (env in simulated or r in ("rq1", "rq2"))]
        args = (env, program, variant, shared[env], point_rqs, job_opts, memory)
        jobs.append((key, phash, executor.submit(_measure, *args) if executor is not None else args))
    for i, (key, phash, job) in enumerate(jobs):
        env, label, variant, _ = key
        if progress:
            progress(i, len(plan), f"{env} {label} ({variant})")
        got, note = job.result() if executor is not None else _measure(*job)
        measured[key] = got
        for metric, (rq, m) in got.items():
            lo, hi = interval(m, seed, samples)
            rows.append(_row(key, phash, rq, metric, m.value, lo, hi, m.n, note))
    rows += _differences(measured, seed, samples) + _macro(measured, plan, seed, samples)
    if progress:
        progress(len(plan), len(plan), "done")
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def _differences(measured: dict[tuple, Measured], seed: int, samples: int) -> list[dict[str, Any]]:
    """Simple minus Residual of each program point, paired (same units, same draws)."""
    rows = []
    for (env, label, variant, rnd), got in measured.items():
        other = measured.get((env, label, "residual", rnd)) if variant == "simple" else None
        for metric, (rq, m) in (got.items() if other else ()):
            if isinstance(other.get(metric, (None, None))[1], Resampled):
                value, lo, hi = difference_interval(m, other[metric][1], seed, samples)
                rows.append(_row((env, label, "simple-residual", rnd), "", rq, metric, value, lo, hi, m.n, ""))
    return rows


def _macro(measured: dict[tuple, Measured], plan: list, seed: int, samples: int) -> list[dict[str, Any]]:
    """Mean over envs of every point present in all of them (same label, variant, round), and the paired
    Simple-minus-Residual difference of the mean where both variants are."""
    envs = sorted({key[0] for key, _ in plan})
    if len(envs) < 2:
        return []
    rows = []
    points = {(label, variant, rnd) for (_, label, variant, rnd) in measured}
    for label, variant, rnd in sorted(points, key=str):
        per_env = [measured.get((env, label, variant, rnd)) for env in envs]
        if any(p is None for p in per_env):
            continue
        twins = [measured.get((env, label, "residual", rnd)) for env in envs] if variant == "simple" else []
        for metric, (rq, _) in per_env[0].items():
            ms = [p.get(metric, (None, None))[1] for p in per_env]
            if any(m is None or m.value is None for m in ms):
                continue
            values = [m.value for m in ms]
            lo, hi = _macro_interval(ms, seed, samples)
            n = sum(m.n for m in ms)
            rows.append(_row(("macro", label, variant, rnd), "", rq, metric, sum(values) / len(values), lo, hi, n,
                             ""))
            others = [t.get(metric, (None, None))[1] if t else None for t in twins]
            if twins and all(isinstance(o, Resampled) and o.value is not None for o in others):
                diff = sum(m.value - o.value for m, o in zip(ms, others, strict=True)) / len(ms)
                lo, hi = _macro_interval(ms, seed, samples, minus=others)
                rows.append(_row(("macro", label, "simple-residual", rnd), "", rq, metric, diff, lo, hi, n, ""))
    return rows
