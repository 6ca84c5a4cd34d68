"""Agents that act in a live env: the paper's one-step lookahead, a depth-k search, references.

Every agent has ``reset(task, observation, env=None)`` and ``act(observation, actions) -> str``
(``actions`` = the live env's ``available_actions()``), which is what
:func:`patchworld.planning.run_episodes` calls.

Belief tracking follows the replay step: the belief after an action is the model's
prediction for it, corrected with the true observation that came back
(``correct(predict(b, a).handle, o)``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

from patchworld.envs import spec
from patchworld.planning import Candidate, ChoiceContext, Chooser, LLMSettings, ProgressChooser, propose_action

__all__ = ["LookaheadAgent", "SearchAgent", "ExpertAgent", "RandomAgent", "candidate_actions"]

_TEMPLATE_MARKS = ("<", "{", "[")


def candidate_actions(available: Sequence[str], forms: Sequence[str], proposed: str | None = None,
                      limit: int | None = 8) -> list[str]:
    """Available actions, then the program's concrete action forms, deduplicated, at most ``limit``.

    Forms that look like templates (``go to <obj>``) are skipped. A proposed (LLM) action
    keeps a slot of its own: it is placed last and never cut by the limit.
    """
    seen: dict[str, None] = {}
    for a in list(available) + [f for f in forms if not any(m in f for m in _TEMPLATE_MARKS)]:
        a = a.strip()
        if a and a not in seen and a != proposed:
            seen[a] = None
    out = list(seen)
    if limit is not None:
        out = out[: max(limit - (1 if proposed else 0), 0)]
    if proposed:
        out.append(proposed)
    return out


class _ModelAgent:
    """Shared belief tracking for agents that plan with a world model."""

    name = "model"

    def __init__(self, model: Any, chooser: Chooser | None = None, llm: LLMSettings | None = None,
                 max_candidates: int | None = 8):
        self.model = model
        self._chooser = chooser
        self.llm = llm if llm is not None and llm.configured else None
        self.max_candidates = max_candidates
        self.handle: int | None = None
        self.pending: int | None = None
        self.model_errors = 0

    def reset(self, task: int, observation: str, env: Any = None) -> None:
        self._release([self.handle, self.pending])  # the previous episode's beliefs
        self.task, self.goal, self.env = task, observation, env
        self.chooser = self._chooser or ProgressChooser(env.progress)
        if hasattr(self.chooser, "bind"):
            self.chooser.bind(env)
        self.visited: Counter = Counter()
        try:
            self.forms = list(self.model.action_forms())
        except Exception:
            self.forms = []
        self.handle = self._call(self.model.init, observation)
        self.pending = None

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
        proposed = propose_action(self.llm, self.goal, observation, actions) if self.llm else None
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
        return chosen[0].action


class SearchAgent(_ModelAgent):
    """Depth-k search over predicted beliefs (beyond the paper).

    Expands every candidate action (the root's actions, reused at every depth) from each
    kept belief, keeps the ``beam`` best nodes per depth, scores every node with the
    progress chooser's score (revisits counted along the path too) discounted by
    ``discount ** (depth - 1)``; the first action of the best-valued node is played.
    ``depth=1`` is the lookahead agent with the progress chooser.
    """

    name = "search"

    def __init__(self, model: Any, depth: int = 2, beam: int = 8, discount: float = 0.95,
                 chooser: ProgressChooser | None = None, max_candidates: int | None = 8):
        super().__init__(model, chooser, None, max_candidates)
        if depth < 1:
            raise ValueError(f"SearchAgent: depth must be >= 1, got {depth}")
        self.depth, self.beam, self.discount = depth, beam, discount
        self.name = f"search-d{depth}"

    def act(self, observation: str, actions: Sequence[str]) -> str:
        self._observe(observation)
        cands = self._candidates(observation, actions)
        if not cands:
            return ""
        scorer: ProgressChooser = self.chooser  # type: ignore[assignment]
        roots = [self._predict(self.handle, a) for a in cands]
        value = [0.0] * len(cands)
        frontier: list[tuple[int, int | None, Counter, float, bool]] = []  # (root, handle, visited, score, done)
        spare: list[int | None] = []
        for i, (c, h) in enumerate(roots):
            seen = self.visited.copy()
            s = scorer.score(self.task, c, seen)
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
                    s = scorer.score(self.task, c, seen)
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
        return cands[best]


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
