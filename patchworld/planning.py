"""Planning with a world model against a live env (RQ3): models, choosers and episodes.

The paper's agent is a one-step lookahead: for each candidate action the world model
predicts the next observation and a *chooser* picks one (see :mod:`patchworld.agents`).
This module holds what the agents plan with:

* the world-model side: anything with the ``ModelClient`` interface of
  :mod:`patchworld.sandbox` (``init``, ``predict``, ``correct``, ``summary``, ``action_forms``,
  ``release``, ``close``); :func:`open_world_model` opens a program that way, and
  :class:`PerfectWorldModel` is the env itself, cloned per belief (an upper reference, and
  what the tests plan with);
* choosers: :class:`ProgressChooser` (offline: scores each predicted observation with the
  env's ``progress(task, obs)``, penalising revisited observations) and :class:`LLMChooser`
  (an OpenAI-compatible chat model shown the goal, the observation and every
  (action, predicted observation) pair; falls back to the progress chooser);
* :func:`run_episodes`, which plays live episodes and returns one row per episode.
"""

from __future__ import annotations

import importlib
import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from patchworld.envs import EnvError, TextEnv, make

__all__ = [
    "Candidate",
    "ChoiceContext",
    "Chooser",
    "LLMChooser",
    "LLMSettings",
    "ModelPrediction",
    "PerfectWorldModel",
    "ProgressChooser",
    "WorldModel",
    "open_world_model",
    "propose_action",
    "run_episodes",
]  # the agents (LookaheadAgent, SearchAgent, ExpertAgent, RandomAgent) are importable from here too

ProgressFn = Callable[[int, int, str], None]


class WorldModel(Protocol):
    """The ``ModelClient`` interface planners use (belief handles are ints)."""

    def init(self, observation: str) -> int: ...
    def predict(self, handle: int, action: str) -> Any: ...
    def correct(self, handle: int, observation: str) -> int: ...
    def action_forms(self) -> list[str]: ...
    def release(self, handles: Sequence[int]) -> None: ...


@dataclass(frozen=True)
class ModelPrediction:
    """Same fields as ``sandbox.Prediction``: the new belief handle and the readout."""

    handle: int | None
    observation: str
    error_kind: str = ""
    error: str = ""
    reward: float | None = None
    done: bool | None = None


class PerfectWorldModel:
    """The env as its own world model: each belief is a clone of the live env.

    ``init`` clones the live env in its *current* state (the observation text is ignored),
    ``predict`` clones the belief and steps the clone, ``correct`` keeps the belief (it is
    exact). Use it as the upper reference for planning and in tests.
    """

    def __init__(self, env: TextEnv):
        self.env = env
        self._beliefs: dict[int, TextEnv] = {}
        self._ids = itertools.count(1)

    def _store(self, env: TextEnv) -> int:
        handle = next(self._ids)
        self._beliefs[handle] = env
        return handle

    def init(self, observation: str) -> int:
        return self._store(self.env.clone())

    def predict(self, handle: int, action: str) -> ModelPrediction:
        clone = self._beliefs[handle].clone()
        try:
            step = clone.step(action)
        except EnvError as exc:
            return ModelPrediction(self._store(clone), "", "exception", str(exc))
        return ModelPrediction(self._store(clone), step.observation, "", "", float(step.reward), bool(step.done))

    def correct(self, handle: int, observation: str) -> int:
        return handle

    def summary(self, handle: int) -> str:
        return f"{type(self._beliefs[handle]).__name__} clone"

    def action_forms(self) -> list[str]:
        return []

    def release(self, handles: Sequence[int]) -> None:
        for h in handles:
            self._beliefs.pop(h, None)

    def close(self) -> None:
        self._beliefs.clear()

    def __enter__(self) -> PerfectWorldModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_world_model(program: Any, sandbox: bool = True, residual: Any = None, limits: Any = None) -> Any:
    """Open ``program`` (a ``Program``) as a live world model via ``sandbox.open_model``."""
    sandbox_mod = importlib.import_module("patchworld.sandbox")
    return sandbox_mod.open_model(program, sandbox=sandbox, residual=residual, limits=limits)


# --------------------------------------------------------------------------- choosers


@dataclass(frozen=True)
class Candidate:
    """One action with the model's prediction of what follows it."""

    action: str
    observation: str
    reward: float | None = None
    done: bool | None = None
    error_kind: str = ""


@dataclass
class ChoiceContext:
    """What a chooser sees: the goal text, the task, the observation and the candidates."""

    goal: str
    task: int
    observation: str
    candidates: list[Candidate]
    visited: Counter = field(default_factory=Counter)


class Chooser(Protocol):
    def choose(self, ctx: ChoiceContext) -> int: ...


class ProgressChooser:
    """Offline chooser: ``progress(task, predicted obs)`` plus predicted reward, minus revisits.

    Score = progress + ``success_bonus`` if the model predicts a positive reward with done,
    − ``failure_penalty`` if it predicts done without reward, − ``revisit_penalty`` × the
    times the predicted observation was already seen this episode (so the agent does not
    loop), − ``error_penalty`` for a failed prediction. Ties go to the earliest candidate.
    """

    def __init__(self, progress: Callable[[int, str], float], revisit_penalty: float = 0.05,
                 success_bonus: float = 1.0, failure_penalty: float = 0.5, error_penalty: float = 0.5):
        self.progress = progress
        self.revisit_penalty = revisit_penalty
        self.success_bonus = success_bonus
        self.failure_penalty = failure_penalty
        self.error_penalty = error_penalty

    def score(self, task: int, cand: Candidate, visited: Counter) -> float:
        try:
            value = float(self.progress(task, cand.observation)) if cand.observation else 0.0
        except Exception:  # a progress reader must never stop an episode
            value = 0.0
        if cand.done and (cand.reward or 0) > 0:
            value += self.success_bonus
        elif cand.done:
            value -= self.failure_penalty
        if cand.error_kind:
            value -= self.error_penalty
        return value - self.revisit_penalty * visited.get(cand.observation, 0)

    def choose(self, ctx: ChoiceContext) -> int:
        scores = [self.score(ctx.task, c, ctx.visited) for c in ctx.candidates]
        return max(range(len(scores)), key=lambda i: (scores[i], -i))


@dataclass
class LLMSettings:
    """Where the chat model is: arguments first, then ``PATCHWORLD_LLM_*``, then ``OPENAI_*``."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout: float = 60.0
    max_retries: int = 1

    @classmethod
    def resolve(cls, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                **kw: Any) -> LLMSettings:
        env = os.environ
        return cls(base_url or env.get("PATCHWORLD_LLM_BASE_URL") or env.get("OPENAI_BASE_URL"),
                   api_key or env.get("PATCHWORLD_LLM_API_KEY") or env.get("OPENAI_API_KEY"),
                   model or env.get("PATCHWORLD_LLM_MODEL"), **kw)

    @property
    def configured(self) -> bool:
        """True when a model name and a base URL are known (no LLM is reached otherwise)."""
        return bool(self.model and self.base_url)

    def complete(self, prompt: str, max_tokens: int = 64) -> str:
        """One chat completion (temperature 0); raises on any client error."""
        import openai

        client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key or "none",
                               timeout=self.timeout, max_retries=self.max_retries)
        reply = client.chat.completions.create(model=self.model or "", temperature=0, max_tokens=max_tokens,
                                               messages=[{"role": "user", "content": prompt}])
        return reply.choices[0].message.content or ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


class LLMChooser:
    """Asks a chat model which candidate is best, given the predicted observations.

    The reply should name a candidate number (``3``, ``Choice: 3``) or quote an action;
    anything unparseable, or any client error, falls back to ``fallback`` (counted in
    ``self.fallbacks``). ``self.calls`` counts requests. Without a ``fallback`` the agent
    binds one at each episode start (:meth:`bind`: the progress chooser of the live env).
    """

    def __init__(self, settings: LLMSettings, fallback: Chooser | None = None, goal_chars: int = 3000,
                 obs_chars: int = 1500):
        self.settings = settings
        self.fallback = fallback
        self.goal_chars = goal_chars
        self.obs_chars = obs_chars
        self.calls = 0
        self.fallbacks = 0
        self._bound = fallback is None

    def bind(self, env: Any) -> None:
        """Use ``env``'s progress chooser as the fallback, unless one was given explicitly."""
        if self._bound:
            self.fallback = ProgressChooser(env.progress)

    def prompt(self, ctx: ChoiceContext) -> str:
        lines = ["You are choosing the next action of an agent in a text environment.",
                 "A world model predicted what each candidate action would lead to.", "",
                 "Task / first observation:", _clip(ctx.goal, self.goal_chars), "",
                 "Current observation:", _clip(ctx.observation, self.obs_chars), "", "Candidates:"]
        for i, c in enumerate(ctx.candidates, 1):
            extra = " (predicted: episode ends" + (" with reward)" if (c.reward or 0) > 0 else ")") if c.done else ""
            lines.append(f"{i}. action: {c.action}\n   predicted observation{extra}: {_clip(c.observation, 400)!r}")
        lines += ["", "Which candidate best advances the task? Answer with its number only, e.g. 'Choice: 2'."]
        return "\n".join(lines)

    def parse(self, reply: str, ctx: ChoiceContext) -> int | None:
        m = re.search(r"(?:choice|answer|candidate)\s*[:#]?\s*(\d+)", reply, re.I) or re.search(r"\b(\d+)\b", reply)
        if m and 1 <= int(m.group(1)) <= len(ctx.candidates):
            return int(m.group(1)) - 1
        for i, c in enumerate(ctx.candidates):
            if c.action and c.action.lower() in reply.lower():
                return i
        return None

    def choose(self, ctx: ChoiceContext) -> int:
        self.calls += 1
        try:
            index = self.parse(self.settings.complete(self.prompt(ctx)), ctx)
        except Exception:
            index = None
        if index is None:
            self.fallbacks += 1
            if self.fallback is None:
                return 0
            return self.fallback.choose(ctx)
        return index


def propose_action(settings: LLMSettings, goal: str, observation: str, actions: Sequence[str]) -> str | None:
    """Ask the chat model for one next action (the paper's LLM-proposed candidate); None on failure."""
    prompt = (f"Task / first observation:\n{_clip(goal, 3000)}\n\nCurrent observation:\n{_clip(observation, 1500)}\n\n"
              f"Some valid actions: {', '.join(actions[:20])}\n\nReply with the single best next action as "
              "'Action: <action>'.")
    try:
        reply = settings.complete(prompt)
    except Exception:
        return None
    text = reply.split("Action:", 1)[1] if "Action:" in reply else reply
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    return text or None


# --------------------------------------------------------------------------- episodes


def run_episodes(env: str | TextEnv, agent: Any, tasks: Sequence[int], max_steps: int = 30,
                 progress: ProgressFn | None = None) -> pl.DataFrame:
    """Play one live episode per task; one row per episode.

    Columns: ``env, task, agent, steps, total_reward, success`` (strict: ``env.is_success()``),
    ``lenient_success`` (the reference's rule: ``total_reward > 0 or (done and total_reward >= 0)``),
    ``done, final_progress, error`` (an ``EnvError`` text that ended the episode, else "") and
    ``actions`` (list). ``agent`` has ``reset(task, observation, env=...)`` and
    ``act(observation, actions) -> str``.
    """
    live = make(env) if isinstance(env, str) else env
    rows = []
    for n, task in enumerate(tasks):
        obs = live.reset(task)
        agent.reset(task, obs, env=live)
        total, done, steps, error, actions = 0.0, False, 0, "", []
        while steps < max_steps and not done:
            action = agent.act(obs, live.available_actions())
            actions.append(action)
            steps += 1
            try:
                step = live.step(action)
            except EnvError as exc:
                error = str(exc)
                break
            obs, done = step.observation, bool(step.done)
            total += float(step.reward)
        try:
            final = float(live.progress(task, obs))
        except Exception:
            final = float("nan")
        rows.append({"env": live.name, "task": int(task), "agent": getattr(agent, "name", type(agent).__name__),
                     "steps": steps, "total_reward": total, "success": bool(live.is_success()),
                     "lenient_success": bool(total > 0 or (done and total >= 0)), "done": done,
                     "final_progress": final, "error": error, "actions": actions})
        if progress:
            progress(n + 1, len(tasks), f"{live.name} task {task}")
    schema = {"env": pl.String, "task": pl.Int64, "agent": pl.String, "steps": pl.Int64, "total_reward": pl.Float64,
              "success": pl.Boolean, "lenient_success": pl.Boolean, "done": pl.Boolean, "final_progress": pl.Float64,
              "error": pl.String, "actions": pl.List(pl.String)}
    return pl.DataFrame(rows, schema=schema)


def __getattr__(name: str) -> Any:
    # The agents live in patchworld.agents (they import this module); re-exported lazily.
    if name in ("LookaheadAgent", "SearchAgent", "ExpertAgent", "RandomAgent"):
        return getattr(importlib.import_module("patchworld.agents"), name)
    raise AttributeError(f"module 'patchworld.planning' has no attribute {name!r}")
