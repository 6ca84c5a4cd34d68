"""``patchworld generate``: write a dataset of rollouts for one env."""

from __future__ import annotations

import argparse
import sys

from patchworld.data import load_trajectories
from patchworld.progress import TextProgress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment name (a registered env with generation settings, e.g. maze)")
    parser.add_argument("--seed", type=int, default=0, help="seed for task splits and policies (default 0)")
    parser.add_argument("--out", required=True, help="output folder for <env>_traj_{train,val,test}.jsonl")
    parser.add_argument("--catalogue-size", type=int, default=None, metavar="N",
                        help="webshop only: generate a catalogue of N products into <out>/catalogue and play on it "
                             "(default: the shipped 390-product catalogue)")
    parser.add_argument("--problems", type=int, default=None, metavar="N",
                        help="alfworld only: write a problem set of N problems for --seed (the 21 recorded ones, then "
                             "generated ones) to <out>/alfworld_problems.jsonl and play on it (default: the shipped set)")


def run(args: argparse.Namespace) -> int:
    from patchworld.commands.checks import env_problem, one_line, out_problem
    from patchworld.envs.generate import DEFAULT_CONFIGS, TooFewTasks, generate

    problem = env_problem(args.env, need_simulator=True)
    if problem is None and args.env not in DEFAULT_CONFIGS:
        problem = (f"no generation settings for {args.env!r} (its trajectories are recorded, not generated); "
                   f"envs that generate: {', '.join(sorted(DEFAULT_CONFIGS))}")
    problem = problem or out_problem(args.out)   # the output folder only once the env is known to generate
    if problem:
        print(one_line("generate", problem), file=sys.stderr)
        return 2
    env_options = _catalogue_options(args)
    if env_options is None:
        return 2
    if getattr(args, "problems", None) is not None:
        problems = _problem_options(args)
        if problems is None:
            return 2
        env_options.update(problems)
    try:
        paths = generate(args.env, args.seed, args.out, progress=TextProgress(f"generate {args.env}"),
                         env_options=env_options)
    except TooFewTasks as exc:   # a small --problems set or --catalogue-size: one line with the remedy
        remedy = {"alfworld": "pass a larger --problems", "webshop": "pass a larger --catalogue-size"}.get(args.env, "")
        print(one_line("generate", f"{exc}{'; ' + remedy if remedy else ''}"), file=sys.stderr)
        return 2
    for split, path in paths.items():
        trajs = load_trajectories(path)
        n = sum(len(t) for t in trajs)
        wins = sum(t.success for t in trajs)
        print(f"{split:5s} {len(trajs):4d} trajectories {n:5d} transitions {wins:4d} successes -> {path}")
    return 0


def _catalogue_options(args: argparse.Namespace) -> dict | None:
    """Env options for ``--catalogue-size`` (writes the WebShop catalogue first); None after printing an error."""
    size = getattr(args, "catalogue_size", None)
    if size is None:
        return {}
    if args.env != "webshop" or size < 15:
        import sys

        print(f"generate: --catalogue-size {size}: only for --env webshop, with N >= 15 (one product per type)",
              file=sys.stderr)
        return None
    from pathlib import Path

    from patchworld.envs.webshop_gen import generate_catalogue

    folder = generate_catalogue(Path(args.out) / "catalogue", size)
    print(f"catalogue {size} products -> {folder}")
    return {"catalogue": str(folder)}


def _problem_options(args: argparse.Namespace) -> dict | None:
    """Env options for ``--problems N`` (writes the ALFWorld problem set first); None after printing an error."""
    if args.env != "alfworld" or args.problems < 21:
        print(f"generate: --problems {args.problems}: only for --env alfworld, with N >= 21 (the recorded problems "
              "come first)", file=sys.stderr)
        return None
    from pathlib import Path

    from patchworld.envs.alfworld_gen import write_problem_set

    Path(args.out).mkdir(parents=True, exist_ok=True)
    path = write_problem_set(args.seed, Path(args.out) / "alfworld_problems.jsonl", args.problems)
    print(f"problems {args.problems} (seed {args.seed}) -> {path}")
    return {"problems": str(path)}
