"""``patchworld induce``: run patch rounds on an environment's train/val trajectories.

    patchworld induce --env maze --proposer mutation --rounds 5 --out runs/maze1 [--variant residual-gated]
                      [--program data/programs/maze_flawed.py] [--resume]

``--resume`` continues the run folder ``--out`` from its last accepted program. The test
split is never read. ``--variant residual-gated`` gates every patch with the (conservative)
train memory in place, so it may end on another program than a Simple run; the paper's
Residual is the Simple run's program wrapped post hoc (``patchworld evaluate`` does that).
"""

from __future__ import annotations

import argparse
import sys

from patchworld.commands.llm_options import add_llm_arguments, llm_outcome, llm_proposer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", default=None, help="environment (required unless --resume)")
    parser.add_argument("--proposer", choices=("mutation", "llm"), default=None,
                        help="candidate source (default mutation; on --resume, the run's own)")
    parser.add_argument("--rounds", type=int, default=5, help="maximum rounds (default 5)")
    parser.add_argument("--out", required=True, help="run folder (created; or continued with --resume)")
    parser.add_argument("--variant", choices=("simple", "residual-gated"), default="simple",
                        help="simple (the paper's runs), or residual-gated: patches gated with the conservative "
                             "train memory in place (not the paper's Residual, which evaluate wraps post hoc)")
    parser.add_argument("--program", default=None, help="starting program (default: the LLM writes one)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--candidates", type=int, default=None,
                        help="candidates per round (default 64 with --search beam, 4 with greedy; beam: twice "
                             "as many in the first round on the starting program)")
    parser.add_argument("--search", choices=("beam", "greedy"), default=None,
                        help="beam: wide screened pools over a beam of programs with fault localisation "
                             "(default for the mutation proposer); greedy: one incumbent (default for llm)")
    parser.add_argument("--counterexamples", type=int, default=8, help="counterexamples shown (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="parallel val replays (default 2)")
    parser.add_argument("--patience", type=int, default=3, help="stop after this many rounds without acceptance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="folder with <env>_traj_{train,val}.jsonl")
    parser.add_argument("--model", default=None, help="LLM model name (llm proposer)")
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible server URL (llm proposer)")
    parser.add_argument("--cache-dir", default=None, help="LLM reply cache folder (llm proposer)")
    add_llm_arguments(parser)
    parser.add_argument("--no-sandbox", action="store_true", help="run programs in-process (trusted code only)")
    parser.add_argument("--report", action="store_true", help="write <out>/report.html at the end")
    parser.add_argument("--executor", default="local", choices=("local", "dask"),
                        help="where candidate replays run: local threads (default) or a Dask cluster")
    parser.add_argument("--address", default=None,
                        help="Dask scheduler address (default $DASK_SCHEDULER_ADDRESS, else a local cluster)")


def _proposer(args: argparse.Namespace, name: str, saved: dict | None = None):
    """Build the proposer; on resume, ``saved`` (the run header's settings) fills what the flags leave out."""
    if name == "mutation":
        from patchworld.proposers.mutation import MutationProposer

        return MutationProposer(seed=int((saved or {}).get("seed", args.seed)))
    return llm_proposer(args, saved)


def run(args: argparse.Namespace) -> int:
    from patchworld.commands.checks import induce_problem

    problem = induce_problem(args)   # bad numbers, unknown env, a program that does not parse, no LLM
    if problem:
        print(f"patchworld induce: {problem}", file=sys.stderr)
        return 2
    executor = None
    if args.executor != "local":
        from patchworld.executors import ExecutorError, make_executor

        try:
            executor = make_executor(args.executor, args.address, args.workers)
        except ExecutorError as exc:
            print(f"patchworld induce: {exc}", file=sys.stderr)
            return 2
    try:
        return _induce(args, executor)
    finally:
        if executor is not None:
            executor.close()


def _induce(args: argparse.Namespace, executor: object) -> int:
    from patchworld.commands.checks import load_problem
    from patchworld.demo import round_table, split_path
    from patchworld.program import Program
    from patchworld.progress import TextProgress
    from patchworld.residual import PRESETS
    from patchworld.synthesis import Session

    try:
        if args.resume:
            from patchworld.store import RunStore

            saved = RunStore(args.out).header.get("proposer") or {}
            name = args.proposer or saved.get("name")
            proposer = _proposer(args, name, saved.get("settings") if name == saved.get("name") else None) \
                if name in ("mutation", "llm") else None
            session = Session.resume(args.out, proposer=proposer, workers=args.workers,
                                     sandbox=False if args.no_sandbox else None, executor=executor)
            print(f"resuming {args.out} at round {session.round + 1} from program {session.current.hash}")
        else:
            if not args.env:
                print("patchworld induce: --env is required for a new run", file=sys.stderr)
                return 2
            program = Program.from_file(args.program) if args.program else None
            search = args.search or ("beam" if (args.proposer or "mutation") == "mutation" else "greedy")
            session = Session(args.env, split_path(args.env, "train", args.data_dir),
                              split_path(args.env, "val", args.data_dir), program=program,
                              proposer=_proposer(args, args.proposer or "mutation"),
                              variant="residual" if args.variant == "residual-gated" else args.variant,
                              residual_options=dict(PRESETS["conservative"]) if args.variant == "residual-gated" else None,
                              run_dir=args.out, n_candidates=args.candidates or (64 if search == "beam" else 4),
                              n_counterexamples=args.counterexamples, search=search,
                              seed=args.seed, workers=args.workers, sandbox=not args.no_sandbox, executor=executor)
    except (OSError, ValueError) as exc:
        print(f"patchworld induce: {exc}", file=sys.stderr)
        return 1
    try:
        problem = load_problem(session, args.program)
        if problem:
            print(f"patchworld induce: {problem}; no round was run", file=sys.stderr)
            session.close()
            return 2
        before = session.score["token_f1"]
        results = session.run(args.rounds, patience=args.patience, progress=TextProgress("rounds"))
    except RuntimeError as exc:   # an LLM fault or budget: one line, the folder stays resumable
        code = llm_outcome(exc, session.proposer, args.out)
        if code is None:
            raise
        session.close()
        return code
    except KeyboardInterrupt:
        done = max(session.round, session.store.last_round())   # a round whose log line is out counts as done
        print(f"patchworld induce: interrupted in round {done + 1}; continue with "
              f"`patchworld induce --out {args.out} --resume`", file=sys.stderr)
        session.close()
        return 130
    print(round_table(results, before))
    if args.report:
        from patchworld.report import write_report

        print(f"report: {write_report(session.store.path)}")
    print(f"induce: val token_f1 {before:.3f} -> {session.score['token_f1']:.3f} "
          f"({len(results)} rounds, program {session.current.hash}, run folder {session.store.path})")
    return llm_outcome(None, session.proposer, args.out) or 0
