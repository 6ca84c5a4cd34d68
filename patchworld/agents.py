"""Agents that act in a live env: the paper's one-step lookahead, depth-k search, ReAct, references.

Every agent has ``reset(task, observation, env=None)`` and ``act(observation, actions) -> str``
(``actions`` = the live env's ``available_actions()``), which is what
:func:`patchworld.planning.run_episodes` calls, and ``stats()`` (per-episode counts).

The model agents never read the live env: at ``reset`` they take only its registry name, to
find the env's text-only ``goal_score`` (:func:`patchworld.envs.base.goal_scorer`); while
acting they see the observation, the available actions, the goal text (first observation)
and their world model's predictions. Belief tracking follows the replay step: the belief after
an action is the model's prediction for it, corrected with the true observation that came
back (``correct(predict(b, a).handle, o)``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from patchworld.envs import spec
from patchworld.envs.base import default_goal_score, goal_scorer
from patchworld.planning import (
    Candidate,
    ChoiceContext,
    Chooser,
    GoalChooser,
    LLMSettings,
    propose_action,
)

__all__ = ["LookaheadAgent", "SearchAgent", "ReActAgent", "ExpertAgent", "RandomAgent", "candidate_actions"]

_TEMPLATE_MARKS = ("<", "{", "[")


def candidate_actions(available: Sequence[str], forms: Sequence[str], proposed: str | None = None,
                      limit: int | None = 8) -> list[str]:
    """The LLM's proposal first (as the reference inserts it), then available actions, then the program's
    concrete action forms; deduplicated, at most ``limit``. Template-looking forms (``go to <obj>``) are skipped."""
    seen: dict[str, None] = {}
    for a in ([proposed] if proposed else []) + list(available) + [
            f for f in forms if not any(m in f for m in _TEMPLATE_MARKS)]:
        a = a.strip()
        if a and a not in seen:
            seen[a] = None
    out = list(seen)
    return out if limit is None else out[:limit]


class _ModelAgent:
    """Shared belief tracking for agents that plan with a world model (no access to the live env)."""

    name = "model"

    def __init__(self, model: Any, chooser: Chooser | None = None, llm: LLMSettings | None = None,
                 max_candidates: int | None = 8, goal_score: Callable[[str, str], float] | None = None):
        self.model = model
        self._chooser = chooser
        self._goal_score = goal_score
        self.llm = llm if llm is not None and llm.configured else None
        self.max_candidates = max_candidates
        self.handle: int | None = None
        self.pending: int | None = None
        self.model_errors = 0
        self.history: list[tuple[str, str]] = []

    def reset(self, task: int, observation: str, env: Any = None) -> None:
        self._release([self.handle, self.pending])  # the previous episode's beliefs
        self.task, self.goal = task, observation
        score = self._goal_score or (goal_scorer(env.name) if env is not None else default_goal_score)
        self.chooser = self._chooser or GoalChooser(score)
        self._base = (getattr(self.chooser, "calls", 0), getattr(self.chooser, "fallbacks", 0), self.model_errors)
        self.visited: Counter = Counter()
        self.history = []
        try:
            self.forms = list(self.model.action_forms())
        except Exception:
            self.forms = []
        self.handle = self._call(self.model.init, observation)
        self.pending = None

    def stats(self) -> dict[str, int]:
        """This episode's chooser calls, failed choices and model call errors."""
        calls, fallbacks, errors = self._base
        return {"chooser_calls": getattr(self.chooser, "calls", 0) - calls,
                "chooser_fallbacks": getattr(self.chooser, "fallbacks", 0) - fallbacks,
                "model_errors": self.model_errors - errors}

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            self.model_errors += 1
            return None

    def _release(self, handles: Sequence[int | None]) -> None:
        keep = [h for h in handles if h is not None]
        if keep:
            self._call(self.model.release, keep)

    def _observe(self, observation: str) -> None:
        """Correct the belief with the true observation that followed the last action."""
        self.visited[observation] += 1
        if self.pending is not None:
            new = self._call(self.model.correct, self.pending, observation)
            if new is None and self.handle is not None:
                new = self._call(self.model.correct, self.handle, observation)
            old = [h for h in (self.handle, self.pending) if h is not None and h != new]
            self._release(old)
            self.handle, self.pending = new, None
        if self.handle is None:
            self.handle = self._call(self.model.init, observation)

    def _candidates(self, observation: str, actions: Sequence[str]) -> list[str]:
        proposed = propose_action(self.llm, self.goal, observation, actions, self.history) if self.llm else None
        return candidate_actions(actions, self.forms, proposed, self.max_candidates)

    def _predict(self, handle: int | None, action: str) -> tuple[Candidate, int | None]:
        if handle is None:
            return Candidate(action, "", None, None, "no_belief"), None
        p = self._call(self.model.predict, handle, action)
        if p is None:
            return Candidate(action, "", None, None, "exception"), None
        h = getattr(p, "handle", None)
        return (Candidate(action, p.observation or "", p.reward, p.done, p.error_kind or ""),
                h if h is not None and h >= 0 else None)


class LookaheadAgent(_ModelAgent):
    """The paper's agent: predict each candidate's next observation, let the chooser pick."""

    name = "lookahead"

    def act(self, observation: str, actions: Sequence[str]) -> str:
        self._observe(observation)
        cands = self._candidates(observation, actions)
        if not cands:
            return ""
        preds = [self._predict(self.handle, a) for a in cands]
        ctx = ChoiceContext(self.goal, self.task, observation, [c for c, _ in preds], self.visited)
        index = self.chooser.choose(ctx)
        chosen = preds[index]
        self._release([h for i, (_, h) in enumerate(preds) if i != index])
        self.pending = chosen[1]
        self.history.append((observation, chosen[0].action))
        return chosen[0].action


class SearchAgent(_ModelAgent):
    """Depth-k search over predicted beliefs (beyond the paper).

    Expands every candidate action (the root's actions, reused at every depth) from each
    kept belief, keeps the ``beam`` best nodes per depth, scores every node with the
    chooser's score (default :class:`~patchworld.planning.GoalChooser`: the env's text-only goal
    score and the model's predicted reward/done; revisits counted along the path too)
    discounted by ``discount ** (depth - 1)``; the first action of the best-valued node is
    played. ``depth=1`` is the lookahead agent with that chooser. Its only knowledge of
    dynamics and value is the program: this is the planner of ``model_search_success``.
    """

    name = "search"

    def __init__(self, model: Any, depth: int = 2, beam: int = 8, discount: float = 0.95,
                 chooser: Any = None, max_candidates: int | None = 8,
                 goal_score: Callable[[str, str], float] | None = None):
        super().__init__(model, chooser, None, max_candidates, goal_score)
        if depth < 1:
            raise ValueError(f"SearchAgent: depth must be >= 1, got {depth}")
        self.depth, self.beam, self.discount = depth, beam, discount
        self.name = f"search-d{depth}"

    def act(self, observation: str, actions: Sequence[str]) -> str:
        self._observe(observation)
        cands = self._candidates(observation, actions)
        if not cands:
            return ""
        scorer: Any = self.chooser
        roots = [self._predict(self.handle, a) for a in cands]
        value = [0.0] * len(cands)
        frontier: list[tuple[int, int | None, Counter, float, bool]] = []  # (root, handle, visited, score, done)
        spare: list[int | None] = []
        for i, (c, h) in enumerate(roots):
            seen = self.visited.copy()
            s = scorer.score(self.goal, self.task, c, seen)
            seen[c.observation] += 1
            value[i] = s
            frontier.append((i, h, seen, s, bool(c.done) or bool(c.error_kind)))
        for d in range(2, self.depth + 1):
            children = []
            for root, h, seen, _, done in sorted(frontier, key=lambda n: -n[3])[: self.beam]:
                if done or h is None:
                    continue
                for a in cands:
                    c, ch = self._predict(h, a)
                    s = scorer.score(self.goal, self.task, c, seen)
                    value[root] = max(value[root], s * self.discount ** (d - 1))
                    child_seen = seen.copy()
                    child_seen[c.observation] += 1
                    children.append((root, ch, child_seen, s, bool(c.done) or bool(c.error_kind)))
            spare += [n[1] for n in frontier if n[1] not in {h for _, h in roots}]
            frontier = children
        spare += [n[1] for n in frontier if n[1] not in {h for _, h in roots}]
        best = max(range(len(cands)), key=lambda i: (value[i], -i))
        self._release(spare + [h for i, (_, h) in enumerate(roots) if i != best])
        self.pending = roots[best][1]
        self.history.append((observation, cands[best]))
        return cands[best]


class ReActAgent:
    """The paper's baseline: the LLM alone (ReAct prompt, last 5 steps of history), no world model.

    A reply without an ``Action:`` line, or a client error, is a failed choice: counted in
    ``chooser_fallbacks`` and the empty action is sent (the env answers it as an invalid action).
    """

    name = "react"

    def __init__(self, llm: LLMSettings):
        self.llm = llm
        self.calls = self.fallbacks = 0

    def reset(self, task: int, observation: str, env: Any = None) -> None:
        self.goal, self.history = observation, []
        self._base = (self.calls, self.fallbacks)

    def stats(self) -> dict[str, int]:
        return {"chooser_calls": self.calls - self._base[0], "chooser_fallbacks": self.fallbacks - self._base[1]}

    def act(self, observation: str, actions: Sequence[str]) -> str:
        self.calls += 1
        action = propose_action(self.llm, self.goal, observation, actions, self.history)
        if action is None:
            self.fallbacks += 1
            action = ""
        self.history.append((observation, action))
        return action


class ExpertAgent:
    """The env's registered expert policy (an upper reference that needs no model)."""

    name = "expert"

    def reset(self, task: int, observation: str, env: Any = None) -> None:
        self.env = env
        self.expert = spec(env.name).expert

    def act(self, observation: str, actions: Sequence[str]) -> str:
        return self.expert(self.env)


class RandomAgent:
    """Uniformly random available action (a lower reference), seeded per task."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def reset(self, task: int, observation: str, env: Any = None) -> None:
        self.rng = random.Random(f"random-agent/{self.seed}/{task}")  # never the env's own seed

    def act(self, observation: str, actions: Sequence[str]) -> str:
        return self.rng.choice(list(actions)) if actions else ""
