"""Trajectory generation: roll policies out in a live env and write train/val/test files.

Task ids are shuffled with the seed and cut into three disjoint sets, so test tasks never
appear in train or val. Every task gets one rollout per entry of the policy schedule
(expert-heavy, mixed, random), so datasets hold successes, failures, off-task actions
and the env's error texts. All randomness derives from ``seed``: the same seed gives
byte-identical files.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from patchworld.data import Trajectory, Transition, save_trajectories, split_file_name
from patchworld.envs.base import EnvError, TextEnv, make
from patchworld.envs.policies import Policy, mixture_policy
from patchworld.progress import ProgressCallback

__all__ = ["GenerationConfig", "DEFAULT_CONFIGS", "split_tasks", "rollout", "generate", "SPLITS", "TooFewTasks"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class GenerationConfig:
    """How many tasks go to each split, the policy schedule per task, and the step cap."""

    n_tasks: tuple[int, int, int]  # train, val, test
    schedule: tuple[tuple[float, float], ...] = ((0.1, 0.05), (0.4, 0.05), (1.0, 0.0))
    max_steps: int = 30

    def policies(self) -> list[Policy]:
        return [mixture_policy(eps, invalid) for eps, invalid in self.schedule]


DEFAULT_CONFIGS: dict[str, GenerationConfig] = {
    "maze": GenerationConfig(n_tasks=(13, 6, 6), schedule=((0.1, 0.05), (0.3, 0.05), (0.6, 0.05), (1.0, 0.0)),
                             max_steps=25),
    "wordle": GenerationConfig(n_tasks=(80, 30, 30), max_steps=6),
    "textcraft": GenerationConfig(n_tasks=(40, 15, 15), max_steps=20),
    "babyai": GenerationConfig(n_tasks=(40, 15, 15), max_steps=15),
    "sciworld": GenerationConfig(n_tasks=(24, 8, 8), max_steps=30),  # one fresh JVM per call: byte-identical
    "webshop": GenerationConfig(n_tasks=(40, 15, 15), max_steps=15),
    "alfworld": GenerationConfig(n_tasks=(40, 15, 15), max_steps=30),
}


class TooFewTasks(ValueError):
    """The env (e.g. a small generated problem set or catalogue) has fewer tasks than the splits need."""


def split_tasks(tasks: list[int], n_tasks: tuple[int, int, int], seed: int) -> dict[str, list[int]]:
    """Shuffle task ids with ``seed`` and cut disjoint train/val/test sets (each sorted)."""
    if sum(n_tasks) > len(tasks):
        sizes = ", ".join(f"{split} {n}" for split, n in zip(SPLITS, n_tasks, strict=True))
        raise TooFewTasks(f"the env has only {len(tasks)} tasks; the splits need {sum(n_tasks)} ({sizes})")
    order = list(tasks)
    random.Random(f"split-{seed}").shuffle(order)
    out, start = {}, 0
    for split, n in zip(SPLITS, n_tasks, strict=True):
        out[split] = sorted(order[start:start + n])
        start += n
    return out


def rollout(env: TextEnv, task: int, policy: Policy, rng: random.Random, max_steps: int) -> tuple[list[Transition], bool]:
    """Play one episode; return its transitions and whether it succeeded.

    An action the env refuses with ``EnvError`` mid-episode is not recorded; the policy
    is asked again (at most 5 times) and then a uniformly random available action is used.
    """
    observation = env.reset(task)
    transitions: list[Transition] = []
    for _ in range(max_steps):
        step = None
        for _attempt in range(5):
            action = policy(env, rng)
            try:
                step = env.step(action)
                break
            except EnvError:
                continue
        if step is None:
            action = rng.choice(env.available_actions())
            step = env.step(action)
        transitions.append(Transition(observation, action, step.observation, step.reward, step.done))
        observation = step.observation
        if step.done:
            break
    return transitions, env.is_success()


def generate(env_name: str, seed: int, out_dir: str | Path, config: GenerationConfig | None = None,
             progress: ProgressCallback | None = None, env_options: dict | None = None) -> dict[str, Path]:
    """Generate and write ``<env>_traj_{train,val,test}.jsonl`` into ``out_dir``; return the paths.

    ``env_options`` go to the env's factory (e.g. WebShop's ``catalogue`` folder).
    """
    config = config or DEFAULT_CONFIGS[env_name]
    env = make(env_name, **(env_options or {}))
    splits = split_tasks(list(env.tasks), config.n_tasks, seed)
    policies = config.policies()
    total = sum(len(t) for t in splits.values()) * len(policies)
    done = 0
    paths: dict[str, Path] = {}
    for split in SPLITS:
        trajectories = []
        for task in splits[split]:
            for index, (policy, (eps, invalid)) in enumerate(zip(policies, config.schedule, strict=True)):
                rng = random.Random(f"{env_name}-{seed}-{task}-{index}")
                transitions, success = rollout(env, task, policy, rng, config.max_steps)
                trajectories.append(Trajectory(
                    env=env_name, item_id=f"{env_name}_{task}", task_idx=task, rollout_index=index,
                    split=split, success=success, total_reward=sum(t.reward for t in transitions),
                    transitions=tuple(transitions),
                    extra={"policy": f"mixture(epsilon={eps}, invalid_rate={invalid})", "seed": seed},
                ))
                done += 1
                if progress:
                    progress(done, total, f"{env_name} {split}")
        paths[split] = save_trajectories(trajectories, Path(out_dir) / split_file_name(env_name, split))
    return paths
