"""Evaluation drivers: fidelity (RQ1, RQ2), planning utility (RQ3 and an offline proxy).

:func:`evaluate` returns one tidy frame, one row per (env, label, variant, metric):

| rq | metrics | how |
|---|---|---|
| ``rq1`` | token_f1, exact_match, bleu4, coverage | teacher-forced replay on the test split |
| ``rq2`` | rollout_auc, rollout_drop, f1@1..15 | free-running replay (``mode="rollout"``) on test |
| ``rq3`` | success (strict), lenient_success, steps | live episodes on held-out test tasks (their ``task_idx``) |
| ``proxy`` | action_accuracy, action_f1, decision_agreement | see :func:`action_discrimination` (no LLM) |

Reference points (variant ``reference``) come from :mod:`patchworld.baselines` and run
through the same replay/planning path; the perfect world model (variant ``oracle``) is
measured on RQ3 and the proxy only, its fidelity is 1.0 by construction (``note`` says so).
:func:`save_results` also writes each evaluated program's source to ``<out>/programs/<hash>.py``;
:func:`program_source` finds it again (see :mod:`patchworld.results`).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from patchworld.agents import LookaheadAgent, SearchAgent
from patchworld.baselines import reference_programs
from patchworld.data import Trajectory, load_trajectories
from patchworld.envs import EnvError, make
from patchworld.planning import (
    Candidate,
    ChoiceContext,
    LLMChooser,
    LLMSettings,
    PerfectWorldModel,
    ProgressChooser,
    open_world_model,
    run_episodes,
)
from patchworld.results import program_source, write_programs

__all__ = ["evaluate", "load_split", "action_discrimination", "wide", "macro_average", "save_results",
           "load_results", "program_source", "RESULT_SCHEMA", "DEFAULT_MAX_STEPS", "ALL_RQS"]

DEFAULT_MAX_STEPS = {"maze": 15, "wordle": 8, "textcraft": 20, "babyai": 20}  # AgentGym's max_round
ALL_RQS = ("rq1", "rq2", "rq3", "proxy")
RESULT_SCHEMA = {"env": pl.String, "label": pl.String, "variant": pl.String, "program": pl.String,
                 "rq": pl.String, "metric": pl.String, "value": pl.Float64, "n": pl.Int64, "note": pl.String}
ProgressFn = Callable[[int, int, str], None]
Entry = tuple  # (label, Program, variant) or (label, Program, variant, env)


def _planning_limits() -> Any:
    from patchworld.sandbox import Limits

    # a planning session lives for many episodes: a longer whole-session deadline than a replay job
    return Limits(cpu_seconds=300.0, wall_seconds=600.0)


def load_split(env: str, split: str, data_dir: str | Path = "data/trajectories") -> list[Trajectory]:
    """The shipped trajectories ``<data_dir>/<env>/<env>_traj_<split>.jsonl``."""
    path = Path(data_dir) / env / f"{env}_traj_{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {split} split for {env} (run `patchworld generate` first)")
    return load_trajectories(path)


def _rows(env: str, label: str, variant: str, program: str, rq: str, metrics: dict[str, Any], n: int,
          note: str = "") -> list[dict[str, Any]]:
    return [{"env": env, "label": label, "variant": variant, "program": program, "rq": rq, "metric": k,
             "value": None if v is None else float(v), "n": n, "note": note} for k, v in metrics.items()]


def _open(model_spec: Any, live: Any, sandbox: bool, residual: Any) -> Any:
    """A live model for planning: the perfect model for ``"oracle"``, else a sandboxed program."""
    if model_spec == "oracle":
        return PerfectWorldModel(live)
    return open_world_model(model_spec, sandbox=sandbox, residual=residual, limits=_planning_limits())


def action_discrimination(model_spec: Any, env: str, trajectories: Sequence[Trajectory], max_states: int = 40,
                          per_trajectory: int = 4, max_actions: int = 8, sandbox: bool = True,
                          residual: Any = None) -> dict[str, float]:
    """Offline planning-utility proxy: does the model tell actions apart like the env does?

    Replays test trajectories' actions in a live env; at up to ``per_trajectory`` states of
    each (``max_states`` in all) it tries every available action (at most ``max_actions``,
    plus the action the trajectory took) in a clone of the live env and asks the model,
    from its teacher-forced belief, for each action's next observation. Returns
    ``action_accuracy`` (share of exact predictions), ``action_f1`` (mean token F1),
    ``decision_agreement``: over the *informative* states (where the true next observations
    do not all score the same under the progress chooser), the share where the action the
    chooser picks from the model's predictions is one of the truly best; ``decision_regret``:
    the mean true-score loss of that pick; ``informative_states`` and ``n_states``.
    """
    from patchworld.metrics import token_f1

    live = make(env)
    exact = f1 = total = agree = states = informative = 0
    regret = 0.0
    model = None
    try:
        for traj in trajectories:
            if states >= max_states or not traj.transitions:
                break
            obs = live.reset(traj.task_idx)
            if obs != traj.transitions[0].observation:
                continue  # the live env does not reproduce this trajectory
            if model is None:
                model = _open(model_spec, live, sandbox, residual)
            handle = model.init(obs)
            visited: Counter = Counter([obs])
            for k, t in enumerate(traj.transitions):
                if states >= max_states or k >= per_trajectory:
                    break
                actions = list(dict.fromkeys(live.available_actions()[:max_actions] + [t.action]))
                truth, preds = [], []
                for a in actions:
                    clone = live.clone()
                    try:
                        s = clone.step(a)
                    except EnvError:
                        continue
                    p = model.predict(handle, a)
                    truth.append(Candidate(a, s.observation, float(s.reward), bool(s.done)))
                    ph = p.handle if p.handle is not None and p.handle >= 0 else None
                    preds.append((Candidate(a, p.observation or "", p.reward, p.done, p.error_kind or ""), ph))
                for (c, _), tr in zip(preds, truth, strict=True):
                    exact += c.observation == tr.observation
                    f1 += token_f1(c.observation, tr.observation)
                    total += 1
                chooser = ProgressChooser(live.progress)
                true_scores = [chooser.score(traj.task_idx, tr, visited) for tr in truth]
                if true_scores and max(true_scores) > min(true_scores):  # only states where the choice matters
                    picked = chooser.choose(ChoiceContext("", traj.task_idx, obs, [c for c, _ in preds], visited))
                    agree += true_scores[picked] == max(true_scores)
                    regret += max(true_scores) - true_scores[picked]
                    informative += 1
                states += 1
                taken = next((h for (c, h) in preds if c.action == t.action), None)
                model.release([h for (c, h) in preds if h is not None and h != taken])
                try:
                    step = live.step(t.action)
                except EnvError:
                    break
                if step.observation != t.next_observation or step.done:
                    break
                new = model.correct(taken, step.observation) if taken is not None else model.init(step.observation)
                model.release([h for h in (handle, taken) if h is not None and h != new])
                handle, obs = new, step.observation
                visited[obs] += 1
    finally:
        if model is not None and hasattr(model, "close"):
            model.close()
    return {"action_accuracy": exact / total if total else None, "action_f1": f1 / total if total else None,
            "decision_agreement": agree / informative if informative else None,
            "decision_regret": regret / informative if informative else None,
            "informative_states": float(informative), "n_states": float(states)}


def _agent(model: Any, kind: str, depth: int, llm: LLMSettings | None, max_candidates: int | None) -> Any:
    if kind == "search":
        return SearchAgent(model, depth=depth, max_candidates=max_candidates)
    chooser = LLMChooser(llm) if llm is not None and llm.configured else None
    return LookaheadAgent(model, chooser=chooser, llm=llm, max_candidates=max_candidates)


def _rq3(model_spec: Any, env: str, tasks: Sequence[int], max_steps: int, sandbox: bool, residual: Any,
         agent_kind: str, depth: int, llm: LLMSettings | None, max_candidates: int | None) -> dict[str, float]:
    live = make(env)
    model = _open(model_spec, live, sandbox, residual)
    try:
        agent = _agent(model, agent_kind, depth, llm, max_candidates)
        frame = run_episodes(live, agent, tasks, max_steps)
    finally:
        if hasattr(model, "close"):
            model.close()
    return {"success": frame["success"].mean(), "lenient_success": frame["lenient_success"].mean(),
            "steps": frame["steps"].mean(), "final_progress": frame["final_progress"].mean()}


def _replay_rows(key: tuple[str, str, str, str], program: Any, test: Sequence[Trajectory], rqs: Sequence[str],
                 sandbox: bool, residual: Any, rollout_limit: int | None) -> list[dict[str, Any]]:
    """RQ1 (teacher) and RQ2 (rollout) rows of one program; ``f1@h`` only where horizon h was reached."""
    from patchworld.replay import replay

    rows: list[dict[str, Any]] = []
    if "rq1" in rqs:
        r = replay(program, test, mode="teacher", sandbox=sandbox, residual=residual)
        note = "" if r.outcome == "ok" else f"{r.outcome}: {r.detail[:200]}"
        rows += _rows(*key, "rq1", {k: r.metrics.get(k) for k in ("token_f1", "exact_match", "bleu4", "coverage")},
                      int(r.metrics.get("n_transitions", len(r.steps))), note)
    if "rq2" in rqs:
        subset = list(test)[:rollout_limit] if rollout_limit else list(test)
        r = replay(program, subset, mode="rollout", sandbox=sandbox, residual=residual)
        note = "" if r.outcome == "ok" else f"{r.outcome}: {r.detail[:200]}"
        rows += _rows(*key, "rq2", {k: r.metrics.get(k) for k in ("rollout_auc", "rollout_drop")}, len(subset), note)
        if r.horizon is not None:
            for h in r.horizon.filter(pl.col("n") > 0).iter_rows(named=True):
                rows += _rows(*key, "rq2", {f"f1@{h['horizon']}": h["token_f1"]}, int(h["n"]), note)
    return rows


def evaluate(entries: Sequence[Entry], envs: Sequence[str], data_dir: str | Path = "data/trajectories",
             rqs: Sequence[str] = ALL_RQS, references: bool = True, oracle: bool = True,
             max_test: int | None = None, rollout_limit: int | None = 20, n_tasks: int = 8,
             max_steps: dict[str, int] | None = None, proxy_states: int = 40, proxy_actions: int = 8,
             sandbox: bool = True, agent: str = "lookahead", depth: int = 2, llm: LLMSettings | None = None,
             max_candidates: int | None = 8, residual_options: dict | None = None,
             progress: ProgressFn | None = None, sources: dict[str, str] | None = None) -> pl.DataFrame:
    """Evaluate programs on ``envs``; a tidy frame (see :data:`RESULT_SCHEMA`).

    ``entries``: ``(label, Program, variant)`` (run on every env) or ``(label, Program,
    variant, env)`` (only that env); variant ``"simple"`` or ``"residual"`` (a
    ``ResidualMemory`` built from the env's train split wraps the program). ``references``
    adds the lookup-table / copy-last / most-frequent programs, ``oracle`` the perfect model.
    Budgets: ``max_test`` test trajectories for RQ1, ``rollout_limit`` for RQ2, ``n_tasks``
    test tasks for RQ3 (``max_steps`` per env, default AgentGym's), ``proxy_states`` states
    for the proxy. ``sources``, if given, is filled with ``{hash: source}`` of every program
    evaluated (entries and references), for :func:`save_results`.
    """
    from patchworld.residual import ResidualMemory

    bad = [r for r in rqs if r not in ALL_RQS]
    if bad:
        raise ValueError(f"evaluate: unknown rq {bad}; choose from {ALL_RQS}")
    steps_for = {**DEFAULT_MAX_STEPS, **(max_steps or {})}
    plan: list[tuple[str, str, Any, str]] = []  # (env, label, program | "oracle", variant)
    data: dict[str, tuple[list[Trajectory], list[Trajectory], list[int]]] = {}
    for env in envs:
        train, test = load_split(env, "train", data_dir), load_split(env, "test", data_dir)
        tasks = list(dict.fromkeys(t.task_idx for t in test))[:n_tasks]  # held-out tasks (never in train/val)
        data[env] = (train, test[:max_test] if max_test else test, tasks)
        for e in entries:
            if len(e) == 4 and e[3] != env:
                continue
            if e[2] not in ("simple", "residual"):
                raise ValueError(f"evaluate: entry {e[0]!r} has variant {e[2]!r}; use 'simple' or 'residual'")
            plan.append((env, e[0], e[1], e[2]))
        if references:
            plan += [(env, label, prog, "reference") for label, prog in reference_programs(train, env)]
        if oracle:
            plan.append((env, "perfect model", "oracle", "oracle"))
    rows: list[dict[str, Any]] = []
    residuals: dict[str, Any] = {}
    for i, (env, label, program, variant) in enumerate(plan):
        train, test, tasks = data[env]
        residual = None
        if variant == "residual":
            if env not in residuals:
                residuals[env] = ResidualMemory.build(train, **(residual_options or {}))
            residual = residuals[env]
        if progress:
            progress(i, len(plan), f"{env} {label} ({variant})")
        phash = "oracle" if program == "oracle" else program.hash
        if sources is not None and program != "oracle":
            sources[phash] = program.source
        if program == "oracle":
            rows += _rows(env, label, variant, phash, "rq1", {"token_f1": 1.0, "exact_match": 1.0}, 0,
                          "by construction")
        else:
            rows += _replay_rows((env, label, variant, phash), program, test, rqs, sandbox, residual, rollout_limit)
        if "rq3" in rqs:
            try:
                m = _rq3(program, env, tasks, steps_for.get(env, 20), sandbox, residual, agent, depth, llm,
                         max_candidates)
                rows += _rows(env, label, variant, phash, "rq3", m, len(tasks))
            except Exception as exc:  # a program that cannot even load plans nothing
                rows += _rows(env, label, variant, phash, "rq3", {"success": 0.0, "lenient_success": 0.0},
                              len(tasks), f"{type(exc).__name__}: {str(exc)[:200]}")
        if "proxy" in rqs:
            try:
                m = action_discrimination(program, env, test, max_states=proxy_states, max_actions=proxy_actions,
                                          sandbox=sandbox, residual=residual)
                n = int(m.pop("n_states"))
                rows += _rows(env, label, variant, phash, "proxy", m, n)
            except Exception as exc:
                rows += _rows(env, label, variant, phash, "proxy", {"action_accuracy": 0.0, "decision_agreement": 0.0},
                              0, f"{type(exc).__name__}: {str(exc)[:200]}")
    if progress:
        progress(len(plan), len(plan), "done")
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def wide(results: pl.DataFrame) -> pl.DataFrame:
    """One row per (env, label, variant), one column per metric (``rq1.token_f1``-style names avoided:
    metric names are unique across rqs)."""
    return results.pivot(on="metric", index=["env", "label", "variant"], values="value",
                         aggregate_function="first").sort("env", "variant", "label")


def macro_average(results: pl.DataFrame) -> pl.DataFrame:
    """The tidy rows averaged over envs (env = ``"macro"``), for (label, variant) present in every env."""
    n_env = results["env"].n_unique()
    grouped = results.group_by("label", "variant", "rq", "metric").agg(
        pl.col("value").mean(), pl.col("n").sum(), pl.col("env").n_unique().alias("_envs"),
        pl.col("program").first(), pl.col("note").first())
    return (grouped.filter(pl.col("_envs") == n_env).drop("_envs").with_columns(pl.lit("macro").alias("env"))
            .select(list(RESULT_SCHEMA)))


def save_results(results: pl.DataFrame, out_dir: str | Path, metadata: dict[str, Any] | None = None,
                 name: str = "results", sources: dict[str, str] | None = None) -> Path:
    """Write ``<name>.parquet`` (metadata embedded under key ``patchworld``), ``<name>.csv`` and
    ``<name>.meta.json`` to ``out_dir``; returns the parquet path. ``sources`` (``{hash: source}``,
    as filled by :func:`evaluate`): the sources of the frame's programs go to
    ``<out_dir>/programs/<hash>.py`` (others are ignored), so the folder needs no run folder to show them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    used = set(results["program"].to_list())
    kept = {h: src for h, src in (sources or {}).items() if h in used}
    meta = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "polars": pl.__version__, **(metadata or {})}
    if kept:
        meta["program_files"] = [f"programs/{h}.py" for h in sorted(kept)]
    text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    write_programs(out, kept)
    path = out / f"{name}.parquet"
    results.write_parquet(path, metadata={"patchworld": text})
    results.write_csv(out / f"{name}.csv")
    (out / f"{name}.meta.json").write_text(text + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a results parquet (a file, or a folder holding ``results.parquet``) and its metadata."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.parquet"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no results file (run `patchworld evaluate --out {p.parent}` first)")
    frame = pl.read_parquet(p)
    missing = [c for c in RESULT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"{p}: not a results frame, missing columns {missing}")
    meta = json.loads(pl.read_parquet_metadata(p).get("patchworld", "{}"))
    return frame, meta
