"""WebShop-lite speed: catalogue load, reset, step by action kind, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/webshop_env.py [--catalogue-size N]``. Prints medians (wall and
CPU) over expert and random episodes; no asserts. The numbers in ``patchworld/envs/webshop.py``'s
docstring come from this script on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import tempfile

from envtiming import maze_step_wall, median, timed

from patchworld.envs.webshop import WebShopEnv, expert_action
from patchworld.envs.webshop_catalogue import load_catalogue
from patchworld.envs.webshop_gen import generate_catalogue
from patchworld.envs.webshop_site import search_engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalogue-size", type=int, default=None, help="time a generated catalogue of N products")
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    folder = None
    if args.catalogue_size:
        folder = generate_catalogue(tempfile.mkdtemp(prefix="webshop-bench-"), args.catalogue_size)
    load_catalogue.cache_clear()
    first = timed(lambda: WebShopEnv(catalogue=folder))
    env = WebShopEnv(catalogue=folder)
    rng = random.Random(0)
    times: dict[str, list[tuple[float, float]]] = {"reset": [], "search": [], "click": []}
    for n in range(args.episodes):
        task = rng.choice(list(env.tasks))
        times["reset"].append(timed(lambda task=task: env.reset(task)))
        for _ in range(8):
            action = expert_action(env) if n % 2 == 0 else rng.choice(env.available_actions())
            kind = "search" if action.startswith("search[") else "click"
            out: list = []
            times[kind].append(timed(lambda action=action, out=out: out.append(env.step(action))))
            if out[0].done:
                break
    engine = search_engine(env.catalogue)
    queries = [f"{g['instruction_text']} {i}" for i, g in enumerate(env.catalogue.goals[:100])]
    times["search (uncached)"] = [timed(lambda q=q: engine._search_uncached(q, 50)) for q in queries]
    maze_wall, n_maze = maze_step_wall()
    size = len(env.catalogue.products)
    print(f"catalogue {size} products, {len(env.tasks)} goals; first env (load + BM25 index): "
          f"{first[0] * 1e3:.1f} ms wall, {first[1] * 1e3:.1f} ms CPU")
    print(f"maze step median: {maze_wall * 1e6:.1f} us wall over {n_maze} steps")
    for kind, samples in times.items():
        wall, cpu = median(samples)
        print(f"webshop {kind:17s} median: {wall * 1e6:8.1f} us wall ({wall / maze_wall:6.1f}x maze step), "
              f"{cpu * 1e6:8.1f} us CPU  [{len(samples)} samples]")


if __name__ == "__main__":
    main()
