"""WebShop-lite speed: catalogue load, reset, step by action kind, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/webshop_env.py [--catalogue-size N]``. Prints medians (wall and
CPU) over expert and random episodes; no asserts. The numbers in ``patchworld/envs/webshop.py``'s
docstring come from this script on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable

from patchworld.envs.maze import MazeEnv, expert
from patchworld.envs.webshop import WebShopEnv, expert_action
from patchworld.envs.webshop_catalogue import load_catalogue
from patchworld.envs.webshop_gen import generate_catalogue
from patchworld.envs.webshop_site import search_engine


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalogue-size", type=int, default=None, help="time a generated catalogue of N products")
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    folder = None
    if args.catalogue_size:
        folder = generate_catalogue(tempfile.mkdtemp(prefix="webshop-bench-"), args.catalogue_size)
    load_catalogue.cache_clear()
    first = _timed(lambda: WebShopEnv(catalogue=folder))
    env = WebShopEnv(catalogue=folder)
    rng = random.Random(0)
    times: dict[str, list[tuple[float, float]]] = {"reset": [], "search": [], "click": []}
    for n in range(args.episodes):
        task = rng.choice(list(env.tasks))
        times["reset"].append(_timed(lambda task=task: env.reset(task)))
        for _ in range(8):
            action = expert_action(env) if n % 2 == 0 else rng.choice(env.available_actions())
            kind = "search" if action.startswith("search[") else "click"
            out: list = []
            times[kind].append(_timed(lambda action=action, out=out: out.append(env.step(action))))
            if out[0].done:
                break
    engine = search_engine(env.catalogue)
    queries = [f"{g['instruction_text']} {i}" for i, g in enumerate(env.catalogue.goals[:100])]
    times["search (uncached)"] = [_timed(lambda q=q: engine._search_uncached(q, 50)) for q in queries]
    maze = MazeEnv()
    maze_steps = []
    for task in maze.tasks:
        maze.reset(task)
        for _ in range(10):
            maze_steps.append(_timed(lambda: maze.step(expert(maze))))
            if maze.done:
                break
    maze_wall, maze_cpu = _median(maze_steps)
    size = len(env.catalogue.products)
    print(f"catalogue {size} products, {len(env.tasks)} goals; first env (load + BM25 index): "
          f"{first[0] * 1e3:.1f} ms wall, {first[1] * 1e3:.1f} ms CPU")
    print(f"maze step median: {maze_wall * 1e6:.1f} us wall, {maze_cpu * 1e6:.1f} us CPU")
    for kind, samples in times.items():
        wall, cpu = _median(samples)
        print(f"webshop {kind:17s} median: {wall * 1e6:8.1f} us wall ({wall / maze_wall:6.1f}x maze step), "
              f"{cpu * 1e6:8.1f} us CPU  [{len(samples)} samples]")


if __name__ == "__main__":
    main()
