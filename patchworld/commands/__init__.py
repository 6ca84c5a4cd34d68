"""One module per ``patchworld`` subcommand, each with ``add_arguments(parser)`` and ``run(args) -> int``."""

COMMANDS: dict[str, str] = {
    "demo": "Run the offline demo: a few mutation rounds repairing a flawed maze program",
    "generate": "Generate train/val/test trajectories from a live environment",
    "induce": "Run patch rounds (synthesis) on an environment's trajectories",
    "replay": "Replay a program on a trajectory split and print its metrics",
    "evaluate": "Evaluate programs (RQ1, RQ2, RQ3 and the planning proxy) into a results folder",
    "figures": "Draw the Pareto, horizon and round figures from a results folder",
    "baseline": "Build one of the seed's baselines (PoE-World, WorldCoder, LLM-Direct) as a program to evaluate",
}
