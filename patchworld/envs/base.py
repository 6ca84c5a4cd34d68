"""The `TextEnv` protocol every built-in environment follows, and the env registry.

An environment is a live simulator of one AgentGym text environment. Rules of the
protocol (checked for every registered env by :mod:`patchworld.envs.checker`):

* ``tasks``: the valid task ids, a sorted sequence of ints. A task id fixes everything
  random about an episode (it is the seed AgentGym passes), so ``reset(task)`` followed by
  the same actions always yields the same observations, rewards and done flags.
* ``reset(task) -> str``: starts an episode and returns the first observation, exactly as
  the AgentGym client shows it to the agent. An invalid task raises :class:`EnvError`
  with the original server's error message.
* ``step(action) -> Step``: applies an action. ``Step.observation`` is the text the
  original server returns, byte for byte; ``Step.reward`` is the step's reward with the
  original's numeric type; ``Step.done`` ends the episode. Stepping a finished episode
  raises :class:`EnvError` with the original's message.
* ``available_actions() -> list[str]``: the actions the env currently offers (for envs
  with free-form input, a finite list of well-formed actions); every one of them is
  accepted by ``step`` without raising.
* ``is_success() -> bool``: whether the current episode has reached the task's success
  condition (strict, the env's own rule).
* ``progress(task, observation) -> float``: task progress in [0, 1] read from an
  observation, derived from the env's rules (1.0 means solved). Used by planners.
* ``clone() -> TextEnv``: an independent copy in the same state (for trying actions).
* ``goal_score(goal, observation) -> float`` (optional, a ``staticmethod``): the only value
  function a model-based planner may use. ``goal`` is the episode's first observation (the
  goal text as the agent sees it), ``observation`` any text (usually a world model's
  prediction); the result is in [0, 1], 1.0 meaning the goal text says the task is done. It
  must read nothing but these two strings: no hidden state, no env facts, no expert. Each env
  documents what its scorer reads. An env without one gets :func:`default_goal_score`
  (always 0.0: planners then go by the model's predicted reward and done flag alone);
  :func:`goal_scorer` returns the one to use.
* ``available_actions()`` must likewise expose only what the original server exposes to an
  agent, or, where it exposes none, a list derived from the text the agent has been shown.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Step", "EnvError", "TextEnv", "EnvSpec", "register", "make", "registered", "spec", "default_goal_score",
           "goal_scorer"]


@dataclass(frozen=True)
class Step:
    """What one ``step`` returns: observation text, reward, done flag and extra info."""

    observation: str
    reward: float
    done: bool
    info: dict[str, Any] = field(default_factory=dict)


class EnvError(RuntimeError):
    """The environment refused a call; ``str(err)`` is the original server's message."""


@runtime_checkable
class TextEnv(Protocol):
    """A live text environment (see the module docstring for the rules)."""

    name: str

    @property
    def tasks(self) -> Sequence[int]: ...

    def reset(self, task: int) -> str: ...

    def step(self, action: str) -> Step: ...

    def available_actions(self) -> list[str]: ...

    def is_success(self) -> bool: ...

    def progress(self, task: int, observation: str) -> float: ...

    def clone(self) -> TextEnv: ...


ExpertPolicy = Callable[[Any], str]
"""An expert: given a live env mid-episode (its own class), return the next action."""


@dataclass(frozen=True)
class EnvSpec:
    """A registry entry: how to build an env and its expert policy."""

    name: str
    factory: Callable[..., TextEnv]
    expert: ExpertPolicy
    description: str = ""


_REGISTRY: dict[str, EnvSpec] = {}


def register(name: str, factory: Callable[..., TextEnv], expert: ExpertPolicy, description: str = "") -> None:
    """Register an environment under ``name`` (done by each env module at import)."""
    _REGISTRY[name] = EnvSpec(name, factory, expert, description)


_BUILTINS: dict[str, str] = {
    "maze": "patchworld.envs.maze",
    "wordle": "patchworld.envs.wordle",
    "textcraft": "patchworld.envs.textcraft",
    "babyai": "patchworld.envs.babyai_expert",  # the expert module imports the env and registers both
    "webshop": "patchworld.envs.webshop",
    "sciworld": "patchworld.envs.sciworld",
    "alfworld": "patchworld.envs.alfworld",
}
"""Built-in envs and the module that registers each; imported on first use (BabyAI pulls in minigrid)."""


def registered() -> list[str]:
    """Names of all registered environments (built-in ones included), sorted."""
    return sorted(set(_REGISTRY) | set(_BUILTINS))


def spec(name: str) -> EnvSpec:
    """The registry entry for ``name``; ``KeyError`` lists the known names."""
    if name not in _REGISTRY and name in _BUILTINS:
        importlib.import_module(_BUILTINS[name])
    if name not in _REGISTRY:
        raise KeyError(f"unknown environment {name!r}; known: {', '.join(registered())}")
    return _REGISTRY[name]


def default_goal_score(goal: str, observation: str) -> float:
    """The goal scorer of an env that declares none: 0.0 (no text-only value is known)."""
    return 0.0


def goal_scorer(env: str | Any) -> Callable[[str, str], float]:
    """The env's static ``goal_score(goal, observation)`` (by env object or registry name), else the default."""
    owner = spec(env).factory if isinstance(env, str) else type(env)  # never instantiated, never read
    return getattr(owner, "goal_score", None) or default_goal_score


def make(name: str, **options: Any) -> TextEnv:
    """Build a fresh environment by registry name (``maze``, ``wordle``, ``textcraft``, ``babyai``)."""
    return spec(name).factory(**options)
