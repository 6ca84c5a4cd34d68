"""Rollout policies for trajectory generation: expert, uniform random, and their mixture.

A policy is a callable ``policy(env, rng) -> str`` returning the next action for the
env's current state. All randomness comes from the ``random.Random`` passed in, so a
rollout is a pure function of (env, task, seed).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from patchworld.envs.base import TextEnv, spec

Policy = Callable[[TextEnv, random.Random], str]

__all__ = ["Policy", "expert_policy", "random_policy", "mixture_policy", "OFF_TASK_ACTIONS"]

OFF_TASK_ACTIONS: tuple[str, ...] = ("look around", "jump", "wait", "move north", "inventory please")
"""Malformed actions a clumsy agent might send; they make error texts appear in datasets."""


def expert_policy(env: TextEnv, rng: random.Random) -> str:
    """The env's registered expert (deterministic; ``rng`` is unused)."""
    return spec(env.name).expert(env)


def random_policy(env: TextEnv, rng: random.Random) -> str:
    """A uniform choice among ``available_actions()`` (or the env's ``generation_actions()``, where an env keeps
    its agent-facing list free of privileged actions but generates data from a richer one, as TextCraft does)."""
    actions = getattr(env, "generation_actions", env.available_actions)()
    if not actions:
        raise RuntimeError(f"{env.name}: no available actions to choose from")
    return rng.choice(actions)


def mixture_policy(epsilon: float, invalid_rate: float = 0.0) -> Policy:
    """Expert with probability ``1 - epsilon``, else random; with ``invalid_rate`` a malformed action.

    The draws happen in a fixed order (invalid?, explore?, then the choice) so the
    sequence of actions is reproducible for a seed.
    """
    if not 0.0 <= epsilon <= 1.0 or not 0.0 <= invalid_rate <= 1.0:
        raise ValueError(f"epsilon and invalid_rate must be in [0, 1], got {epsilon}, {invalid_rate}")

    def policy(env: TextEnv, rng: random.Random) -> str:
        if rng.random() < invalid_rate:
            return rng.choice(OFF_TASK_ACTIONS)
        if rng.random() < epsilon:
            return random_policy(env, rng)
        return expert_policy(env, rng)

    policy.__name__ = f"mixture(eps={epsilon}, invalid={invalid_rate})"
    return policy
