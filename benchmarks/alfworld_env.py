"""ALFWorld speed: reset, step (with the payload's action list), clone, expert, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/alfworld_env.py [--episodes N]``. Plays the expert, then random
admissible actions, on the shipped problem set; prints medians of wall and CPU time, no asserts. The
numbers in ``patchworld/envs/alfworld.py``'s docstring come from this script on the shared 2-core box.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from patchworld.envs.alfworld import AlfworldEnv, expert_action
from patchworld.envs.maze import MazeEnv


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    times: dict[str, list[tuple[float, float]]] = {"load problems": [], "reset": [], "step": [], "clone": [],
                                                   "expert action": [], "maze step": []}
    env: AlfworldEnv | None = None

    def build() -> None:
        nonlocal env
        env = AlfworldEnv()

    times["load problems"].append(_timed(build))
    assert env is not None
    for episode in range(args.episodes):
        task = episode % len(env.tasks)
        times["reset"].append(_timed(lambda t=task: env.reset(t)))
        for n in range(20):
            if env.done:
                break
            action = expert_action(env) if n % 2 == 0 else rng.choice(env.available_actions())
            times["expert action"].append(_timed(lambda: expert_action(env)))
            times["clone"].append(_timed(env.clone))
            times["step"].append(_timed(lambda a=action: env.step(a)))
    maze = MazeEnv()
    for task in range(200):
        maze.reset(task % 25)
        for action in ("move up", "move left", "move down", "move right"):
            times["maze step"].append(_timed(lambda a=action: maze.step(a)))
    maze_wall = _median(times["maze step"])[0]
    print(f"{'what':16s} {'n':>6s} {'wall ms':>9s} {'cpu ms':>9s} {'x maze step':>12s}")
    for name, samples in times.items():
        wall, cpu = _median(samples)
        print(f"{name:16s} {len(samples):6d} {wall * 1e3:9.4f} {cpu * 1e3:9.4f} {wall / maze_wall:12.1f}")


if __name__ == "__main__":
    main()
