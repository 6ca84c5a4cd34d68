"""SciWorld speed: JVM start, reset, step (full AgentGym call pattern), clone step, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/sciworld_env.py [--tasks N]``. Plays the expert (gold path) on the
first N shipped gold-path tasks on one fresh engine; prints medians (wall, and this process's CPU:
the JVM's own CPU is not in it) and no asserts. The numbers in ``patchworld/envs/sciworld.py``'s
docstring come from this script on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from patchworld.envs.maze import MazeEnv, expert
from patchworld.envs.sciworld import SciWorldEnv, expert_action
from patchworld.envs.sciworld_engine import Engine
from patchworld.envs.sciworld_gold import shipped_gold_paths


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=12)
    args = parser.parse_args()
    engine = Engine()
    times: dict[str, list[tuple[float, float]]] = {"JVM start": [_timed(lambda: engine.sw)],
                                                     "reset": [], "step": [], "clone step (rebuilds state)": []}
    env = SciWorldEnv(engine=engine)
    for task in sorted(shipped_gold_paths())[: args.tasks]:
        times["reset"].append(_timed(lambda task=task: env.reset(task)))
        for n in range(30):
            action = expert_action(env)
            if n % 10 == 5:
                times["clone step (rebuilds state)"].append(_timed(lambda a=action: env.clone().step(a)))
            out: list = []
            times["step"].append(_timed(lambda a=action, out=out: out.append(env.step(a))))
            if out[0].done:
                break
    maze = MazeEnv()
    maze_steps = []
    for task in range(25):
        maze.reset(task)
        for _ in range(12):
            out = []
            maze_steps.append(_timed(lambda out=out: out.append(maze.step(expert(maze)))))
            if out[0].done:
                break
    maze_wall, _ = _median(maze_steps)
    print(f"maze step: median {maze_wall * 1e6:.1f} us over {len(maze_steps)}")
    for name, samples in times.items():
        wall, cpu = _median(samples)
        print(f"{name:30s} n={len(samples):4d} median wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:7.1f} ms"
              f"  = {wall / maze_wall:,.0f}x maze step")
    engine.close()


if __name__ == "__main__":
    main()
