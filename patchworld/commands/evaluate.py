"""``patchworld evaluate``: fidelity and planning utility (with intervals) for programs and runs, into a folder.

Every program is measured as Simple and as Residual (the same program wrapped post hoc with the
train memory); a run folder contributes every accepted program (round 0, 1, ...), so the
figures draw each run's path. Defaults follow the protocol of :mod:`patchworld.evaluate`.
Size options take ``N`` for every env and ``ENV=N`` for one (``--proxy-states 60 sciworld=16``);
``--skip ENV/VARIANT/RQ`` leaves one measure out (``sciworld/oracle/search``); both are recorded in
``results.meta.json`` (``per_env``, ``arguments``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from patchworld.envs.base import registered  # the registry only; no env is imported

RQS = ("rq1", "rq2", "decision", "search", "rq3")  # patchworld.evaluate.ALL_RQS (not imported: keeps --help fast)
ENVS = tuple(registered())
_KNOWN: list[str] = list(ENVS)  # registered envs plus any env with trajectories in --data (set by run)
PLANNING_RQS = ("decision", "search", "rq3")


def known_envs(data_dir: str | Path) -> list[str]:
    """Envs ``evaluate`` accepts: every registered env (all RQs) and any env with a test split in
    ``data_dir`` (``<env>/<env>_traj_test.jsonl``; RQ1/RQ2 only without a simulator)."""
    folder = Path(data_dir)
    found = {p.parent.name for p in folder.glob("*/*_traj_test.jsonl")} if folder.is_dir() else set()
    return sorted(set(ENVS) | found)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="*", default=[], metavar="RUN_DIR",
                        help="synthesis run folders; each contributes every accepted program (round 0, 1, ...), "
                             "labelled 'induced from <starting program>'")
    parser.add_argument("--programs", nargs="*", default=[], metavar="[ENV=]FILE",
                        help="program files; the env is ENV= or the file name (data/programs/handwritten/maze.py)")
    parser.add_argument("--envs", nargs="*", default=None, help="envs to evaluate (default: those of the programs)")
    parser.add_argument("--variants", nargs="*", default=["simple", "residual"], choices=["simple", "residual"],
                        help="variants of every program (default both; residual = the program wrapped post hoc)")
    parser.add_argument("--residual-preset", default="reference", choices=["reference", "conservative"],
                        help="memory settings of the Residual variant (default: the reference's)")
    parser.add_argument("--out", required=True,
                        help="results folder (results.parquet, .csv, .meta.json, programs/<hash>.py)")
    parser.add_argument("--data", default=None,
                        help="trajectory folder (<env>/<env>_traj_*.jsonl; default: the shipped data/trajectories)")
    parser.add_argument("--rqs", nargs="*", default=list(RQS), choices=list(RQS))
    per_env = " (N for every env, ENV=N for one: --n-tasks 15 sciworld=2)"
    parser.add_argument("--n-tasks", nargs="+", default=None, metavar="[ENV=]N",
                        help="test tasks for live planning (default: all)" + per_env)
    parser.add_argument("--max-steps", type=int, default=30, help="steps per live episode (default 30, the paper's)")
    parser.add_argument("--max-test", nargs="+", default=None, metavar="[ENV=]N",
                        help="cap on test trajectories for RQ1, RQ2 and decision states" + per_env)
    parser.add_argument("--rollout-limit", nargs="+", default=None, metavar="[ENV=]N",
                        help="test trajectories for RQ2 (default all)" + per_env)
    parser.add_argument("--proxy-states", nargs="+", default=["60"], metavar="[ENV=]N",
                        help="states for decision_agreement (default 60)" + per_env)
    parser.add_argument("--search-candidates", nargs="+", default=None, metavar="[ENV=]N",
                        help="candidate actions of the model_search planner (default: every available action, "
                             "then the program's action forms)" + per_env)
    parser.add_argument("--depth", type=int, default=2, help="depth of the model_search planner (default 2)")
    parser.add_argument("--beam", type=int, default=3, help="beam of the model_search planner (default 3)")
    parser.add_argument("--max-candidates", type=int, default=8,
                        help="candidate actions of the LLM agent (paper: 8; 0 = no limit)")
    parser.add_argument("--skip", nargs="*", default=[], metavar="ENV/VARIANT/RQ",
                        help="measures not to take, e.g. sciworld/oracle/search (the perfect model's live search "
                             "on SciWorld clones the JVM world for every prediction)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--samples", type=int, default=1000, help="bootstrap draws (default 1000)")
    parser.add_argument("--no-references", action="store_true", help="skip lookup/copy/most-frequent references")
    parser.add_argument("--no-oracle", action="store_true", help="skip the perfect world model")
    parser.add_argument("--no-sandbox", action="store_true", help="run programs in-process (trusted code only)")
    parser.add_argument("--llm-model", default=None, help="chat model for llm_success (rq3; else it is skipped)")
    parser.add_argument("--llm-base-url", default=None, help="OpenAI-compatible base URL for llm_success")
    parser.add_argument("--llm-direct", nargs="*", default=None, metavar="ENV",
                        help="add the LLM-Direct baseline (the LLM predicts every observation; one cached call per "
                             "transition) for these envs (no ENV: every evaluated env); needs an LLM")
    parser.add_argument("--executor", default="local", choices=["local", "dask"],
                        help="where points run: this process (default) or a Dask cluster (see --address)")
    parser.add_argument("--address", default=None,
                        help="Dask scheduler address (default $DASK_SCHEDULER_ADDRESS, else a local cluster)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel points (local: threads; dask local cluster: worker processes)")


def per_env_values(option: str, values: list[str] | None) -> dict[str, int] | None:
    """``--option N ENV=N ...`` as ``{"*": N, ENV: N}`` (None when the option was not given); a bad value
    is a one-line error naming the option and the value."""
    if values is None:
        return None
    out: dict[str, int] = {}
    for text in values:
        env, _, number = text.rpartition("=")
        key = env or "*"
        if env and env not in _KNOWN:
            raise SystemExit(f"patchworld evaluate: {option} {text}: unknown env {env!r} (choose from {tuple(_KNOWN)})")
        try:
            out[key] = int(number)
        except ValueError:
            raise SystemExit(f"patchworld evaluate: {option} {text}: expected N or ENV=N with an integer N") from None
        if out[key] < 0:
            raise SystemExit(f"patchworld evaluate: {option} {text}: N must be >= 0")
    return out


def _program_entries(specs: list[str], variants: list[str]) -> list[tuple]:
    from patchworld.program import Program

    entries = []
    for spec in specs:
        env, _, file = spec.rpartition("=")
        path = Path(file)
        env = env or path.stem
        if not path.exists():
            raise SystemExit(f"patchworld evaluate: {path}: no such program file")
        if env not in _KNOWN:
            raise SystemExit(f"patchworld evaluate: cannot tell the env of {spec!r}: write ENV=FILE (ENV in {tuple(_KNOWN)})")
        label = path.parent.name if path.stem in _KNOWN else path.stem
        program = Program.from_file(path, label=label)
        entries += [(label, program, v, env) for v in variants]
    return entries


def _run_label(run, name: str) -> str:
    """``induced from <starting program's label>`` (the run folder's name if the start has none,
    e.g. an LLM-written one); ``<label> (run <name>, nothing accepted)`` if no round was accepted."""
    from patchworld.store import RunStoreError

    initial = run.header.get("initial_program", "")
    try:
        start = run.program(initial).label if initial else ""
    except RunStoreError:  # the starting program's file is gone: name the run by its folder
        start = ""
    if run.current == initial:
        return f"{start or 'initial'} (run {name}, nothing accepted)"
    return f"induced from {start}" if start and start != "initial" else f"induced ({name})"


def _accepted(run) -> list[tuple[int, str]]:
    """``(round, program hash)`` of every accepted program of a run, the starting one as round 0."""
    out = [(0, run.header.get("initial_program", ""))]
    out += [(int(r.get("round", 0)), r["child"]) for r in run.records if r.get("accepted") and r.get("child")]
    return [(n, h) for n, h in out if h]


def _run_entries(run_dirs: list[str], variants: list[str]) -> tuple[list[tuple], dict[str, dict]]:
    """One entry per accepted program of each run folder and variant, and each run's provenance.

    A run made with ``--variant residual-gated`` (header variant ``residual``) is evaluated as
    it is, under the label suffix ``(gated)``: its programs are not the paper's Residual."""
    from patchworld.store import RunStoreError, load_run

    entries, info = [], {}
    for d in run_dirs:
        try:
            run = load_run(d)
        except (OSError, RunStoreError) as exc:
            raise SystemExit(f"patchworld evaluate: --runs {d}: {exc}") from None
        env, variant = run.header.get("env"), run.header.get("variant", "simple")
        if env not in _KNOWN:
            raise SystemExit(f"patchworld evaluate: {d}/header.json: field 'env' is {env!r}, expected one of {tuple(_KNOWN)}")
        current = run.current
        if not current:
            raise SystemExit(f"patchworld evaluate: {d}: the run has no program yet")
        label = _run_label(run, Path(d).name) + (" (gated)" if variant == "residual" else "")
        if any(e[0] == label and e[3] == env for e in entries):
            label = f"{label} ({Path(d).name})"  # two runs from the same start: tell them apart
        accepted = _accepted(run)
        for rnd, phash in accepted:
            program = run.program(phash)
            entries += [(label, program, v, env, rnd) for v in (variants if variant == "simple" else ["residual"])]
        f1 = run.rounds["val_token_f1"].to_list()
        info[str(d)] = {"label": label, "env": env, "variant": variant, "program": current,
                        "initial_program": run.header.get("initial_program"), "proposer": run.header.get("proposer"),
                        "rounds": max(run.rounds["round"].to_list(), default=0),
                        "accepted_programs": [{"round": n, "program": h} for n, h in accepted],
                        "accepted_rounds": int(run.rounds["accepted"].sum()),
                        "val_token_f1": {"start": f1[0], "end": f1[-1]} if f1 else None}
    return entries, info


def run(args: argparse.Namespace) -> int:
    from patchworld.evaluate import SHIPPED_DATA, evaluate, for_env, load_split, save_results, wide
    from patchworld.planning import LLMSettings
    from patchworld.progress import TextProgress

    if args.data is None:   # the shipped trajectories, wherever the command is run from
        args.data = str(SHIPPED_DATA)
    _KNOWN[:] = known_envs(args.data)
    sizes = {name: per_env_values("--" + name.replace("_", "-"), getattr(args, name))
             for name in ("n_tasks", "max_test", "rollout_limit", "proxy_states", "search_candidates")}
    for item in args.skip:
        parts = item.split("/")
        if len(parts) != 3 or parts[0] not in _KNOWN or parts[2] not in RQS:
            print(f"patchworld evaluate: --skip {item}: expected ENV/VARIANT/RQ with ENV in {tuple(_KNOWN)} and RQ in {RQS}",
                  file=sys.stderr)
            return 2
    run_entries, runs = _run_entries(args.runs, args.variants)
    entries = _program_entries(args.programs, args.variants) + run_entries
    envs = args.envs or sorted({e[3] for e in entries}) or list(ENVS)
    unknown = [e for e in envs if e not in _KNOWN]
    if unknown:
        print(f"patchworld evaluate: unknown env(s) {unknown}; choose from {tuple(_KNOWN)}", file=sys.stderr)
        return 2
    no_simulator = [e for e in envs if e not in ENVS]
    for env in no_simulator:
        print(f"patchworld evaluate: planning skipped for {env}: no simulator registered (RQ1/RQ2 only)",
              file=sys.stderr)
    from patchworld.commands.checks import one_line, out_problem

    problem = out_problem(args.out)
    if problem:
        print(one_line("evaluate", problem), file=sys.stderr)
        return 2
    llm = LLMSettings.resolve(base_url=args.llm_base_url, model=args.llm_model)
    trusted: set[str] = set()
    if args.llm_direct is not None:
        if not llm.configured:
            print("patchworld evaluate: --llm-direct needs an LLM: set PATCHWORLD_LLM_MODEL and "
                  "PATCHWORLD_LLM_BASE_URL (or --llm-model/--llm-base-url)", file=sys.stderr)
            return 2
        import os

        from patchworld.methods.llm_direct import llm_direct_program

        os.environ.setdefault("PATCHWORLD_LLM_MODEL", llm.model or "")
        os.environ.setdefault("PATCHWORLD_LLM_BASE_URL", llm.base_url or "")
        for env in args.llm_direct or envs:
            train = Path(args.data) / env / f"{env}_traj_train.jsonl"
            program = llm_direct_program(env, str(train.resolve()))
            trusted.add(program.hash)  # workbench code that calls the LLM: runs in-process, never sandboxed
            entries.append(("LLM-Direct", program, "simple", env))
        envs = sorted(set(envs) | set(args.llm_direct or []))
    executor = None
    if args.executor != "local" or args.workers:
        from patchworld.executors import ExecutorError, make_executor

        try:
            executor = make_executor(args.executor, args.address, args.workers)
        except ExecutorError as exc:
            print(f"patchworld evaluate: {exc}", file=sys.stderr)
            return 2
    planned = [name for rq, name in (("decision", "decision_agreement (offline)"),
                                      ("search", "model_search_success (offline)"),
                                      ("rq3", f"llm_success with {llm.model}" if llm.configured else ""))
               if rq in args.rqs and name]
    print(f"evaluating {len(entries)} program entries on {', '.join(envs)}; fidelity: "
          f"{', '.join(r for r in ('rq1', 'rq2') if r in args.rqs) or 'none'}; planning: "
          f"{', '.join(planned) or 'none'}", file=sys.stderr)
    from patchworld.planning import reset_llm_usage

    reset_llm_usage()
    sources: dict[str, str] = {}  # filled by evaluate: {hash: source} of every program it ran
    results = evaluate(entries, envs, data_dir=args.data, rqs=args.rqs, references=not args.no_references,
                       oracle=not args.no_oracle, max_steps=args.max_steps, **sizes,
                       sandbox=not args.no_sandbox, depth=args.depth, beam=args.beam,
                       max_candidates=args.max_candidates or None, llm=llm, residual_preset=args.residual_preset,
                       seed=args.seed, samples=args.samples, progress=TextProgress("evaluate"), sources=sources,
                       executor=executor, trusted=frozenset(trusted), skip=args.skip)
    if executor is not None:
        executor.close()
    from patchworld.planning import llm_usage_lines

    for line in llm_usage_lines():   # llm_success and ReAct (LLM-Direct's calls are counted by its own client)
        print(line, file=sys.stderr)
    tasks = {env: sorted({t.task_idx for t in load_split(env, "test", args.data)})[: for_env(sizes["n_tasks"], env)
                                                                                   or None] for env in envs}
    meta = {"arguments": {k: v for k, v in vars(args).items() if not k.startswith("_")}, "envs": envs,
            "per_env": {env: {name: for_env(value, env) for name, value in sizes.items()} for env in envs},
            "programs": {f"{e[0]}/{e[3]}/{e[2]}/{e[4] if len(e) > 4 else ''}": e[1].hash for e in entries},
            "runs": runs, "llm": llm.model if llm.configured else None, "tasks": tasks,
            "planning_skipped": {env: "no simulator registered" for env in no_simulator},
            "bootstrap": {"seed": args.seed, "samples": args.samples, "level": 0.95, "paired": True}}
    path = save_results(results, args.out, meta, sources=sources)
    table = wide(results)
    table.write_csv(Path(args.out) / "results_wide.csv")
    keep = [c for c in ("env", "label", "variant", "round", "token_f1", "token_f1_ref", "rollout_auc",
                        "decision_agreement", "model_search_success", "llm_success") if c in table.columns]
    with __import__("polars").Config(tbl_rows=400, tbl_cols=20, tbl_width_chars=180, float_precision=3):
        print(table.filter(__import__("polars").col("variant") != "simple-residual").select(keep))
    print(f"wrote {path} (+ results.csv, results_wide.csv, results.meta.json, {len(sources)} programs/*.py)")
    return 0
