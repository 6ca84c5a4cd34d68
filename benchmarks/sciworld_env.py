"""SciWorld speed: JVM start, reset, step (full AgentGym call pattern), clone step, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/sciworld_env.py [--tasks N]``. Plays the expert (gold path) on the
first N shipped gold-path tasks on one fresh engine; prints medians (wall, and this process's CPU:
the JVM's own CPU is not in it) and no asserts. The numbers in ``patchworld/envs/sciworld.py``'s
docstring come from this script on the shared 2-core machine.
"""

from __future__ import annotations

import argparse

from envtiming import maze_step_wall, median, timed

from patchworld.envs.sciworld import SciWorldEnv, expert_action
from patchworld.envs.sciworld_engine import Engine
from patchworld.envs.sciworld_gold import shipped_gold_paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=12)
    args = parser.parse_args()
    engine = Engine()
    times: dict[str, list[tuple[float, float]]] = {"JVM start": [timed(lambda: engine.sw)],
                                                     "reset": [], "step": [], "clone step (rebuilds state)": []}
    env = SciWorldEnv(engine=engine)
    for task in sorted(shipped_gold_paths())[: args.tasks]:
        times["reset"].append(timed(lambda task=task: env.reset(task)))
        for n in range(30):
            action = expert_action(env)
            if n % 10 == 5:
                times["clone step (rebuilds state)"].append(timed(lambda a=action: env.clone().step(a)))
            out: list = []
            times["step"].append(timed(lambda a=action, out=out: out.append(env.step(a))))
            if out[0].done:
                break
    maze_wall, n_maze = maze_step_wall()
    print(f"maze step: median {maze_wall * 1e6:.1f} us over {n_maze}")
    for name, samples in times.items():
        wall, cpu = median(samples)
        print(f"{name:30s} n={len(samples):4d} median wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:7.1f} ms"
              f"  = {wall / maze_wall:,.0f}x maze step")
    engine.close()


if __name__ == "__main__":
    main()
