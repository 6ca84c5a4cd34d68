"""``patchworld replay``: replay a program file on a trajectory split and print its metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("program", nargs="?", help="world-model program (.py)")
    parser.add_argument("--env", required=True, help="environment whose shipped data to use")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"), help="split (default val)")
    parser.add_argument("--data", nargs="*", default=None, help="trajectory files instead of the shipped split")
    parser.add_argument("--data-dir", default=None, help="folder with <env>_traj_<split>.jsonl")
    parser.add_argument("--mode", default="teacher", choices=("teacher", "rollout"))
    parser.add_argument("--no-sandbox", action="store_true", help="run the program in-process (trusted code only)")
    parser.add_argument("--show", type=int, default=3, help="print this many counterexamples (default 3)")
    parser.add_argument("--shared-workers", action="store_true",
                        help="replay trajectories side by side in shared workers (faster; a program can then carry "
                             "what it saw in one trajectory into another, so the numbers are not the ones to "
                             "report); by default each trajectory gets a fresh worker, as the gate and evaluate do")


def run(args: argparse.Namespace) -> int:
    from patchworld.data import load_trajectories
    from patchworld.demo import split_path
    from patchworld.program import Program
    from patchworld.progress import TextProgress
    from patchworld.replay import replay

    if args.program is None and args.data and args.data[-1].endswith(".py"):
        args.program, args.data = args.data[-1], args.data[:-1]   # `--data a.jsonl b.jsonl prog.py`: --data took it
    if args.program is None:
        print("patchworld replay: give the world-model program (.py) to replay, e.g. "
              "`patchworld replay prog.py --env maze`", file=sys.stderr)
        return 2
    folders = [path for path in args.data or [] if Path(path).is_dir()]
    if folders:   # a common slip: --data takes files; the folder of <env>_traj_<split>.jsonl goes to --data-dir
        print(f"patchworld replay: --data {folders[0]} is a folder; give trajectory files, or the folder as "
              f"--data-dir {folders[0]} (it holds {args.env}_traj_<split>.jsonl)", file=sys.stderr)
        return 2
    try:
        program = Program.from_file(args.program)
        trajs = load_trajectories(args.data if args.data else split_path(args.env, args.split, args.data_dir))
    except (OSError, ValueError) as exc:
        print(f"patchworld replay: {exc}", file=sys.stderr)
        return 1
    result = replay(program, trajs, mode=args.mode, sandbox=not args.no_sandbox, progress=TextProgress("replay"),
                    isolate=not args.shared_workers)
    print(f"program {program.hash} ({args.program}) on {len(trajs)} trajectories ({result.split}), mode {result.mode}")
    if result.outcome != "ok":
        print(f"outcome: {result.outcome}: {result.detail}")
    for key, value in result.metrics.items():
        print(f"  {key:<16} {value:.4f}" if isinstance(value, float) else f"  {key:<16} {value}")
    for ce in result.counterexamples()[: max(0, args.show)]:
        print(f"\n{ce.id} [{ce.error_kind}] action {ce.action!r}\n  predicted: {ce.predicted!r}\n  true:      {ce.true!r}")
        if ce.error:
            print(f"  error: {ce.error.strip().splitlines()[-1]}")
    return 0 if result.outcome == "ok" else 1
