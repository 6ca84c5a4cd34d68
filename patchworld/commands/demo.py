"""``patchworld demo``: the offline maze demo (mutation rounds repairing a flawed program)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=6, help="maximum patch rounds (default 6)")
    parser.add_argument("--candidates", type=int, default=4, help="candidates per round (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="parallel val replays (default 2)")
    parser.add_argument("--patience", type=int, default=3, help="stop after this many rounds without acceptance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="run folder (default runs/demo-maze-<timestamp>)")
    parser.add_argument("--env", default="maze", help="environment (default maze)")
    parser.add_argument("--program", default=None, help="starting program (default data/programs/<env>_flawed.py)")
    parser.add_argument("--data-dir", default=None, help="folder with <env>_traj_{train,val,test}.jsonl")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")


def run(args: argparse.Namespace) -> int:
    from patchworld.demo import run_demo
    from patchworld.progress import TextProgress

    try:
        run_demo(rounds=args.rounds, n_candidates=args.candidates, workers=args.workers, out=args.out, env=args.env,
                 program=args.program, seed=args.seed, data_dir=args.data_dir, patience=args.patience,
                 report=not args.no_report, echo=lambda line: print(line, flush=True),
                 progress=TextProgress("demo rounds"))
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"patchworld demo: {exc}", file=sys.stderr)
        return 1
    return 0
