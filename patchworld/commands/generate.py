"""``patchworld generate``: write a dataset of rollouts for one env."""

from __future__ import annotations

import argparse

from patchworld.data import load_trajectories
from patchworld.progress import TextProgress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment name (maze, wordle, textcraft, babyai)")
    parser.add_argument("--seed", type=int, default=0, help="seed for task splits and policies (default 0)")
    parser.add_argument("--out", required=True, help="output folder for <env>_traj_{train,val,test}.jsonl")


def run(args: argparse.Namespace) -> int:
    from patchworld.envs.generate import generate

    paths = generate(args.env, args.seed, args.out, progress=TextProgress(f"generate {args.env}"))
    for split, path in paths.items():
        trajs = load_trajectories(path)
        n = sum(len(t) for t in trajs)
        wins = sum(t.success for t in trajs)
        print(f"{split:5s} {len(trajs):4d} trajectories {n:5d} transitions {wins:4d} successes -> {path}")
    return 0
