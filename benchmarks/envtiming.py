"""Shared timing helpers of the env benchmarks (``*_env.py``): one call's wall and CPU, medians, and
maze's step as the common unit ("x maze step")."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from patchworld.envs.maze import MazeEnv, expert

__all__ = ["timed", "median", "maze_step_wall"]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one call of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """Median wall and median CPU of ``timed`` samples."""
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def maze_step_wall(episodes: int = 25, steps: int = 12) -> tuple[float, int]:
    """Median wall time of a maze step along expert episodes, and the number of steps timed."""
    maze = MazeEnv()
    samples = []
    for task in range(episodes):
        maze.reset(task % 25)
        for _ in range(steps):
            out: list = []
            samples.append(timed(lambda out=out: out.append(maze.step(expert(maze)))))
            if out[0].done:
                break
    return median(samples)[0], len(samples)
