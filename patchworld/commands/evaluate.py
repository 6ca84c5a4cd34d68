"""``patchworld evaluate``: RQ1/RQ2/RQ3 and the planning proxy for programs and runs, into a results folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ENVS = ("maze", "wordle", "textcraft", "babyai")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", nargs="*", default=[], metavar="RUN_DIR",
                        help="synthesis run folders; each contributes its current (last accepted) program, "
                             "labelled 'induced from <starting program>'")
    parser.add_argument("--programs", nargs="*", default=[], metavar="[ENV=]FILE",
                        help="program files; the env is ENV= or the file name (data/programs/handwritten/maze.py)")
    parser.add_argument("--envs", nargs="*", default=None, help="envs to evaluate (default: those of the programs)")
    parser.add_argument("--variants", nargs="*", default=["simple", "residual"], choices=["simple", "residual"],
                        help="variants of every --programs file (default both; a run keeps its own variant)")
    parser.add_argument("--out", required=True,
                        help="results folder (results.parquet, .csv, .meta.json, programs/<hash>.py)")
    parser.add_argument("--data", default="data/trajectories", help="trajectory folder (<env>/<env>_traj_*.jsonl)")
    parser.add_argument("--rqs", nargs="*", default=["rq1", "rq2", "rq3", "proxy"],
                        choices=["rq1", "rq2", "rq3", "proxy"])
    parser.add_argument("--n-tasks", type=int, default=8, help="held-out test tasks for RQ3 (default 8)")
    parser.add_argument("--max-test", type=int, default=None, help="cap on test trajectories for RQ1")
    parser.add_argument("--rollout-limit", type=int, default=20, help="test trajectories for RQ2 (default 20)")
    parser.add_argument("--proxy-states", type=int, default=40, help="states for the planning proxy (default 40)")
    parser.add_argument("--agent", choices=["lookahead", "search"], default="lookahead",
                        help="RQ3 agent: the paper's one-step lookahead or depth-k search")
    parser.add_argument("--depth", type=int, default=2, help="search depth for --agent search")
    parser.add_argument("--max-candidates", type=int, default=8, help="candidate actions per step (paper: 8; 0 = no limit)")
    parser.add_argument("--no-references", action="store_true", help="skip lookup/copy/most-frequent references")
    parser.add_argument("--no-oracle", action="store_true", help="skip the perfect world model")
    parser.add_argument("--no-sandbox", action="store_true", help="run programs in-process (trusted code only)")
    parser.add_argument("--llm-model", default=None, help="chat model for the LLM chooser (else offline chooser)")
    parser.add_argument("--llm-base-url", default=None, help="OpenAI-compatible base URL for the LLM chooser")


def _program_entries(specs: list[str], variants: list[str]) -> list[tuple]:
    from patchworld.program import Program

    entries = []
    for spec in specs:
        env, _, file = spec.rpartition("=")
        path = Path(file)
        env = env or path.stem
        if env not in ENVS:
            raise SystemExit(f"patchworld evaluate: cannot tell the env of {spec!r}: write ENV=FILE (ENV in {ENVS})")
        if not path.exists():
            raise SystemExit(f"patchworld evaluate: {path}: no such program file")
        label = path.parent.name if path.stem in ENVS else path.stem
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


def _run_entries(run_dirs: list[str]) -> tuple[list[tuple], dict[str, dict]]:
    """One entry per run folder (its current program, the run's variant) and each run's provenance."""
    from patchworld.store import RunStoreError, load_run

    entries, info = [], {}
    for d in run_dirs:
        try:
            run = load_run(d)
        except (OSError, RunStoreError) as exc:
            raise SystemExit(f"patchworld evaluate: --runs {d}: {exc}") from None
        env, variant = run.header.get("env"), run.header.get("variant", "simple")
        if env not in ENVS:
            raise SystemExit(f"patchworld evaluate: {d}/header.json: field 'env' is {env!r}, expected one of {ENVS}")
        current = run.current
        if not current:
            raise SystemExit(f"patchworld evaluate: {d}: the run has no program yet")
        label = _run_label(run, Path(d).name)
        if any(e[0] == label and e[2] == variant and e[3] == env for e in entries):
            label = f"{label} ({Path(d).name})"  # two runs from the same start: tell them apart
        entries.append((label, run.program(current), variant, env))
        f1 = run.rounds["val_token_f1"].to_list()
        info[str(d)] = {"label": label, "env": env, "variant": variant, "program": current,
                        "initial_program": run.header.get("initial_program"), "proposer": run.header.get("proposer"),
                        "rounds": max(run.rounds["round"].to_list(), default=0),
                        "accepted_rounds": int(run.rounds["accepted"].sum()),
                        "val_token_f1": {"start": f1[0], "end": f1[-1]} if f1 else None}
    return entries, info


def run(args: argparse.Namespace) -> int:
    from patchworld.evaluate import evaluate, save_results, wide
    from patchworld.planning import LLMSettings
    from patchworld.progress import TextProgress

    run_entries, runs = _run_entries(args.runs)
    entries = _program_entries(args.programs, args.variants) + run_entries
    envs = args.envs or sorted({e[3] for e in entries}) or list(ENVS)
    unknown = [e for e in envs if e not in ENVS]
    if unknown:
        print(f"patchworld evaluate: unknown env(s) {unknown}; choose from {ENVS}", file=sys.stderr)
        return 2
    llm = LLMSettings.resolve(base_url=args.llm_base_url, model=args.llm_model)
    print(f"evaluating {len(entries)} program entries on {', '.join(envs)}; RQ3 chooser: "
          f"{'LLM ' + str(llm.model) if llm.configured else 'offline (progress)'}", file=sys.stderr)
    sources: dict[str, str] = {}  # filled by evaluate: {hash: source} of every program it ran
    results = evaluate(entries, envs, data_dir=args.data, rqs=args.rqs, references=not args.no_references,
                       oracle=not args.no_oracle, max_test=args.max_test, rollout_limit=args.rollout_limit,
                       n_tasks=args.n_tasks, proxy_states=args.proxy_states, sandbox=not args.no_sandbox,
                       agent=args.agent, depth=args.depth, llm=llm, max_candidates=args.max_candidates or None,
                       progress=TextProgress("evaluate"), sources=sources)
    meta = {"arguments": {k: v for k, v in vars(args).items() if not k.startswith("_")}, "envs": envs,
            "programs": {f"{e[0]}/{e[3]}/{e[2]}": e[1].hash for e in entries},
            "runs": runs, "llm": llm.model if llm.configured else None}
    path = save_results(results, args.out, meta, sources=sources)
    table = wide(results)
    table.write_csv(Path(args.out) / "results_wide.csv")
    keep = [c for c in ("env", "label", "variant", "token_f1", "exact_match", "rollout_auc", "success",
                        "action_accuracy", "decision_agreement") if c in table.columns]
    with __import__("polars").Config(tbl_rows=200, tbl_cols=20, tbl_width_chars=160, float_precision=3):
        print(table.select(keep))
    print(f"wrote {path} (+ results.csv, results_wide.csv, results.meta.json, {len(sources)} programs/*.py)")
    return 0
