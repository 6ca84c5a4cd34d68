"""ALFWorld speed: reset, step (with the payload's action list), clone, expert, as ratios to maze's step.

Run: ``.venv/bin/python benchmarks/alfworld_env.py [--episodes N]``. Plays the expert, then random
admissible actions, on the shipped problem set; prints medians of wall and CPU time, no asserts. The
numbers in ``patchworld/envs/alfworld.py``'s docstring come from this script on the shared 2-core box.
"""

from __future__ import annotations

import argparse
import random

from envtiming import maze_step_wall, median, timed

from patchworld.envs.alfworld import AlfworldEnv, expert_action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    times: dict[str, list[tuple[float, float]]] = {"load problems": [], "reset": [], "step": [], "clone": [],
                                                   "expert action": []}
    env: AlfworldEnv | None = None

    def build() -> None:
        nonlocal env
        env = AlfworldEnv()

    times["load problems"].append(timed(build))
    assert env is not None
    for episode in range(args.episodes):
        task = episode % len(env.tasks)
        times["reset"].append(timed(lambda t=task: env.reset(t)))
        for n in range(20):
            if env.done:
                break
            action = expert_action(env) if n % 2 == 0 else rng.choice(env.available_actions())
            times["expert action"].append(timed(lambda: expert_action(env)))
            times["clone"].append(timed(env.clone))
            times["step"].append(timed(lambda a=action: env.step(a)))
    maze_wall, _ = maze_step_wall()
    print(f"{'what':16s} {'n':>6s} {'wall ms':>9s} {'cpu ms':>9s} {'x maze step':>12s}")
    for name, samples in times.items():
        wall, cpu = median(samples)
        print(f"{name:16s} {len(samples):6d} {wall * 1e3:9.4f} {cpu * 1e3:9.4f} {wall / maze_wall:12.1f}")


if __name__ == "__main__":
    main()
