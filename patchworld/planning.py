"""Planning with a world model (RQ3): world models, choosers, the LLM, and live episodes.

The agents themselves (:mod:`patchworld.agents`) import this module; this one never imports them.

* the world-model side: anything with the ``ModelClient`` interface of :mod:`patchworld.sandbox`
  (``init``, ``predict``, ``correct``, ``action_forms``, ``release``, ``close``);
  :func:`open_world_model` opens a program that way; :class:`PerfectWorldModel` is the env
  itself, cloned per belief (the upper reference; it is privileged by definition).
* choosers pick one of several (action, predicted observation) candidates:

  - :class:`GoalChooser` (offline, **not privileged**): the env's text-only
    ``goal_score(goal, predicted obs)`` (see :mod:`patchworld.envs.base`) plus the model's own
    predicted reward and done flag, minus revisits of already seen observations. This is the
    only value the planners of ``model_search_success`` use.
  - :class:`ProgressChooser` (offline, **privileged**: the env's ``progress`` reads the true
    map / live facts). Used only where its privilege cancels out: ``decision_agreement`` scores
    the model's predictions and the true next observations with the same chooser.
  - :class:`LLMChooser` (the paper's RQ3): a chat model picks. A reply that names no candidate
    is a *failed choice*: counted in ``fallbacks`` (reported as ``n_chooser_fallbacks``) and the
    first candidate (the LLM's own proposal, offered first) is played, as the reference does;
    no other scorer is consulted.
* :func:`run_episodes` plays live episodes, one row per episode.
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from patchworld.chat import LLMSettings, llm_usage_lines, reset_llm_usage  # noqa: F401  (re-exported)
from patchworld.envs import EnvError, TextEnv, make

__all__ = ["Candidate", "ChoiceContext", "Chooser", "GoalChooser", "LLMChooser", "LLMSettings", "ModelPrediction",
           "PerfectWorldModel", "ProgressChooser", "WorldModel", "open_world_model", "propose_action",
           "extract_action", "run_episodes", "EPISODE_SCHEMA"]

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
    """The env as its own world model: each belief is a clone of the live env (privileged upper reference)."""

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
    """What a chooser sees: the goal text (first observation), the task, the observation, the candidates."""

    goal: str
    task: int
    observation: str
    candidates: list[Candidate]
    visited: Counter = field(default_factory=Counter)


class Chooser(Protocol):
    def choose(self, ctx: ChoiceContext) -> int: ...


class _ValueChooser:
    """Score = value(goal, task, predicted obs) + predicted-outcome terms − revisits; ties go to the earliest.

    ``+ success_bonus`` if the model predicts a positive reward with done, ``− failure_penalty``
    for done without reward, ``− error_penalty`` for a failed prediction, ``− revisit_penalty`` ×
    the times the predicted observation was already seen this episode (so the agent does not loop).
    """

    def __init__(self, revisit_penalty: float = 0.05, success_bonus: float = 1.0, failure_penalty: float = 0.5,
                 error_penalty: float = 0.5):
        self.revisit_penalty = revisit_penalty
        self.success_bonus = success_bonus
        self.failure_penalty = failure_penalty
        self.error_penalty = error_penalty

    def value(self, goal: str, task: int, observation: str) -> float:
        raise NotImplementedError

    def score(self, goal: str, task: int, cand: Candidate, visited: Counter) -> float:
        try:
            value = float(self.value(goal, task, cand.observation)) if cand.observation else 0.0
        except Exception:  # a value reader must never stop an episode
            value = 0.0
        if cand.done and (cand.reward or 0) > 0:
            value += self.success_bonus
        elif cand.done:
            value -= self.failure_penalty
        if cand.error_kind:
            value -= self.error_penalty
        return value - self.revisit_penalty * visited.get(cand.observation, 0)

    def choose(self, ctx: ChoiceContext) -> int:
        scores = [self.score(ctx.goal, ctx.task, c, ctx.visited) for c in ctx.candidates]
        return max(range(len(scores)), key=lambda i: (scores[i], -i))


class GoalChooser(_ValueChooser):
    """Not privileged: ``goal_score(goal text, predicted obs)`` (the env's text-only scorer) + predicted outcome."""

    def __init__(self, goal_score: Callable[[str, str], float], **kw: float):
        super().__init__(**kw)
        self.goal_score = goal_score

    def value(self, goal: str, task: int, observation: str) -> float:
        return self.goal_score(goal, observation)


class ProgressChooser(_ValueChooser):
    """Privileged: ``progress(task, obs)`` of a live env. Only for measures where the privilege cancels out."""

    def __init__(self, progress: Callable[[int, str], float], **kw: float):
        super().__init__(**kw)
        self.progress = progress

    def value(self, goal: str, task: int, observation: str) -> float:
        return self.progress(task, observation)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


REACT_SYSTEM = ("Interact with a text-based environment to solve a task. At each step, respond in this EXACT "
                "format:\nThought: <brief reasoning>\nAction: <the action to take>")


def extract_action(reply: str) -> str | None:
    """The text after the first ``Action:`` line of a reply, or None when there is none (the reference's format)."""
    for line in reply.splitlines():
        m = re.match(r"\s*action\s*:\s*(.*)", line, re.I)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return None


class LLMChooser:
    """The paper's chooser: a chat model is shown the goal, the observation and every (action, prediction).

    The reply names an action (``Action: <action>``, matched exactly, then case-insensitively,
    then by containment either way as the reference does) or a number (``Choice: 2``). A reply
    naming none, or a client error, is a failed choice: ``fallbacks`` += 1 and candidate 0 is
    played. ``calls`` counts requests.
    """

    def __init__(self, settings: LLMSettings, goal_chars: int = 3000, obs_chars: int = 1500):
        self.settings = settings
        self.goal_chars = goal_chars
        self.obs_chars = obs_chars
        self.calls = 0
        self.fallbacks = 0

    def prompt(self, ctx: ChoiceContext) -> str:
        lines = ["Goal / first observation:", _clip(ctx.goal, self.goal_chars), "", "Current observation:",
                 _clip(ctx.observation, self.obs_chars), "",
                 "The world model predicts these outcomes for each candidate action:"]
        for i, c in enumerate(ctx.candidates, 1):
            extra = " (predicted: episode ends" + (" with reward)" if (c.reward or 0) > 0 else ")") if c.done else ""
            lines.append(f"  [{i}] ACTION: {c.action}\n       PREDICTED NEXT OBS{extra}: {_clip(c.observation, 400)!r}")
        lines += ["", "Pick the ONE best action from the candidates list to make progress toward the goal.",
                  "Respond:\nThought: <brief reasoning>\nAction: <exact action string>"]
        return "\n".join(lines)

    def parse(self, reply: str, ctx: ChoiceContext) -> int | None:
        actions = [c.action for c in ctx.candidates]
        named = extract_action(reply)
        if named is not None:
            low = named.lower()
            for test in (lambda a: a == named, lambda a: a.lower() == low,
                         lambda a: bool(a) and (low in a.lower() or a.lower() in low)):
                for i, a in enumerate(actions):
                    if test(a):
                        return i
        m = re.search(r"(?:choice|answer|candidate)\s*[:#]?\s*\[?(\d+)", reply, re.I)
        if m and 1 <= int(m.group(1)) <= len(actions):
            return int(m.group(1)) - 1
        return None

    def choose(self, ctx: ChoiceContext) -> int:
        self.calls += 1
        try:
            index = self.parse(self.settings.complete(self.prompt(ctx), system=REACT_SYSTEM), ctx)
        except Exception:
            index = None
        if index is None:
            self.fallbacks += 1  # a failed choice: counted, never handed to another scorer
            return 0
        return index


def propose_action(settings: LLMSettings, goal: str, observation: str, actions: Sequence[str],
                   history: Sequence[tuple[str, str]] = ()) -> str | None:
    """The ReAct prompt's action (the paper's LLM-proposed candidate); None on a client error or no ``Action:``."""
    past = "\n".join(f"[{i + 1}] Obs: {o[:150]}\n     Act: {a}" for i, (o, a) in enumerate(list(history)[-5:]))
    shown = observation + (f"\nAvailable actions: {', '.join(actions[:20])}" if actions else "")
    prompt = (f"Goal:\n{_clip(goal, 3000)}\n\nRecent history:\n{past or '(none)'}\n\nCurrent observation:\n"
              f"{_clip(shown, 1500)}\n\nWhat is your next action?")
    try:
        return extract_action(settings.complete(prompt, system=REACT_SYSTEM))
    except Exception:
        return None


# --------------------------------------------------------------------------- episodes

EPISODE_SCHEMA = {"env": pl.String, "task": pl.Int64, "agent": pl.String, "steps": pl.Int64,
                  "total_reward": pl.Float64, "success": pl.Boolean, "lenient_success": pl.Boolean,
                  "done": pl.Boolean, "final_progress": pl.Float64, "error": pl.String,
                  "chooser_calls": pl.Int64, "chooser_fallbacks": pl.Int64, "model_errors": pl.Int64,
                  "actions": pl.List(pl.String)}


def _counter(agent: Any, name: str) -> int:
    stats = getattr(agent, "stats", None)
    return int(stats().get(name, 0)) if callable(stats) else 0


def run_episodes(env: str | TextEnv, agent: Any, tasks: Sequence[int], max_steps: int = 30,
                 progress: ProgressFn | None = None) -> pl.DataFrame:
    """Play one live episode per task; one row per episode (:data:`EPISODE_SCHEMA`).

    ``success`` is strict (``env.is_success()``); ``lenient_success`` is the reference's rule
    (``total_reward > 0 or (done and total_reward >= 0)``). ``final_progress`` is the env's
    (privileged) progress of the last observation, for reading results only. ``chooser_calls``,
    ``chooser_fallbacks`` and ``model_errors`` are the agent's per-episode counts (its
    ``stats()``). The agent has ``reset(task, observation, env=...)`` and
    ``act(observation, actions) -> str``; ``actions`` is the env's ``available_actions()``.
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
                     "final_progress": final, "error": error, "chooser_calls": _counter(agent, "chooser_calls"),
                     "chooser_fallbacks": _counter(agent, "chooser_fallbacks"),
                     "model_errors": _counter(agent, "model_errors"), "actions": actions})
        if progress:
            progress(n + 1, len(tasks), f"{live.name} task {task}")
    return pl.DataFrame(rows, schema=EPISODE_SCHEMA)
