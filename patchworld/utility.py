"""Planning utility of a world model, three ways, each labelled by what it uses.

* :func:`decision_agreement` (offline, no LLM): at states of test trajectories, the action a
  chooser picks from the program's predictions vs from the env's true next observations,
  under the *same* chooser (the env's privileged ``progress``), so the chooser's privilege
  cancels out and only the model differs. ``decision_agreement`` = share of informative states
  (where the true outcomes do not all score the same) where the model's pick is among the truly
  best; ``decision_regret`` = mean true-score loss of that pick; ``action_accuracy`` /
  ``action_f1`` = exact share / mean token F1 of the predictions for every tried action.
* :func:`model_search_success` (offline, no LLM): live episodes with
  :class:`~patchworld.agents.SearchAgent`, whose only knowledge of dynamics and value is the
  program (its predictions, its ``predict_reward_done``) and the env's text-only
  ``goal_score(goal text, predicted obs)`` (:mod:`patchworld.envs.base`).
* :func:`llm_success` (the paper's RQ3, needs an LLM): the LLM chooser over the program's
  predictions (the LLM's own action offered first); :func:`react_success`: the LLM alone.

Every measure is returned as :class:`Measure` objects (per-unit numerators and denominators),
so :mod:`patchworld.intervals` can bootstrap them paired across programs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchworld.agents import LookaheadAgent, ReActAgent, SearchAgent
from patchworld.data import Trajectory
from patchworld.envs import EnvError, TextEnv, make
from patchworld.envs.base import goal_scorer
from patchworld.metrics import token_f1
from patchworld.planning import Candidate, ChoiceContext, LLMChooser, LLMSettings, ProgressChooser, run_episodes

__all__ = ["Measure", "Constant", "Truth", "decision_agreement", "model_search_success", "llm_success", "react_success",
           "episode_measures", "close_env"]

OpenModel = Callable[[Any], Any]  # live env -> world model (ModelClient interface)


@dataclass
class Measure:
    """A metric as per-unit ratios: value = sum(num) / sum(den); units name what was resampled.

    ``total=True``: a count over the units, value = sum(num) (``den`` still says which units count
    toward ``n``), e.g. the residual memory's hits over the test trajectories."""

    units: list[str] = field(default_factory=list)
    num: list[float] = field(default_factory=list)
    den: list[float] = field(default_factory=list)
    total: bool = False

    def add(self, unit: str, num: float, den: float = 1.0) -> None:
        self.units.append(unit)
        self.num.append(float(num))
        self.den.append(float(den))

    def stat(self, idx: Sequence[int]) -> float | None:
        """The statistic over the units ``idx`` (a bootstrap draw, repeats allowed): the ratio, or the total."""
        if self.total:
            return float(sum(self.num[i] for i in idx)) if idx else None
        den = sum(self.den[i] for i in idx)
        return sum(self.num[i] for i in idx) / den if den else None

    @property
    def value(self) -> float | None:
        return self.stat(range(len(self.units)))

    @property
    def n(self) -> int:
        return sum(1 for d in self.den if d)


@dataclass
class Constant:
    """A metric that does not depend on the test units (the oracle's fidelity, the size of a memory built from
    train): every bootstrap draw gives ``value``, so its interval is ``[value, value]``."""

    constant: float
    units: tuple[str, ...] = ()

    def stat(self, idx: Sequence[int]) -> float:
        return self.constant

    @property
    def value(self) -> float:
        return self.constant

    @property
    def n(self) -> int:
        return 0


def _pick(model: Any, handle: int, actions: Sequence[str]) -> list[tuple[Candidate, int | None]]:
    out = []
    for a in actions:
        p = model.predict(handle, a)
        ph = p.handle if p.handle is not None and p.handle >= 0 else None
        out.append((Candidate(a, p.observation or "", p.reward, p.done, p.error_kind or ""), ph))
    return out


def _live(env: str | TextEnv) -> tuple[TextEnv, bool]:
    """A live env: built from the registry (ours to close afterwards) or the caller's own (e.g. one shared
    SciWorld JVM per test module)."""
    return (make(env), True) if isinstance(env, str) else (env, False)


def close_env(live: Any) -> None:
    """Release what a live env holds (a SciWorld JVM) when it offers ``close()``; other envs hold nothing."""
    close = getattr(live, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - a failed shutdown must not hide the measure
            pass


Truth = dict[str, tuple[list[Candidate], dict[str, float]]]
"""``decision_agreement``'s cache: state id -> (the true outcome of every tried action, progress of each true
observation). The truth is the same for every program, so :func:`patchworld.evaluate.evaluate` computes it once
per env (SciWorld: ~0.3 s per cloned step) and keeps the env's own progress values with it."""


def _true_outcomes(live: TextEnv, state: str, action: str, task: int, truth: Truth | None,
                   max_actions: int) -> tuple[list[Candidate], dict[str, float]]:
    if truth is not None and state in truth:
        return truth[state]
    outcomes = []
    for a in dict.fromkeys(live.available_actions()[:max_actions] + [action]):
        try:
            s = live.clone().step(a)
        except EnvError:
            continue
        outcomes.append(Candidate(a, s.observation, float(s.reward), bool(s.done)))
    known = {}
    for c in outcomes:
        try:
            known[c.observation] = float(live.progress(task, c.observation))
        except Exception:  # noqa: BLE001 - the chooser scores an unreadable observation 0 as well
            known[c.observation] = 0.0
    if truth is not None:
        truth[state] = (outcomes, known)
    return outcomes, known


def decision_agreement(open_model: OpenModel, env: str | TextEnv, trajectories: Sequence[Trajectory],
                       max_states: int = 60, per_trajectory: int = 4, max_actions: int = 8,
                       truth: Truth | None = None) -> dict[str, Measure]:
    """The offline decision measures (module docstring) over at most ``max_states`` states.

    The states (their ids ``<traj>#<step>``) depend only on the trajectories and the env, so every
    program is measured on the same ones. The model's pick is made from its predictions alone.
    ``env``: a registry name (a fresh env, closed afterwards) or a live env to reuse. ``truth``: a
    cache of the true outcomes shared by the programs of one env (:data:`Truth`); the privileged
    chooser reads the progress of a true observation from it, so a history-dependent env (SciWorld)
    scores every program against the same truth.
    """
    live, own = _live(env)
    out = {k: Measure() for k in ("decision_agreement", "decision_regret", "action_accuracy", "action_f1")}
    model, states = None, 0
    known: dict[str, float] = {}  # progress of the current state's true observations

    def progress(task: int, text: str) -> float:
        return known[text] if text in known else live.progress(task, text)

    chooser = ProgressChooser(progress)  # privileged, applied to both sides alike
    try:
        for traj in trajectories:
            if states >= max_states or not traj.transitions:
                break
            obs = live.reset(traj.task_idx)
            if obs != traj.transitions[0].observation:
                continue  # the live env does not reproduce this trajectory
            if model is None:
                model = open_model(live)
            handle = model.init(obs)
            visited: Counter = Counter([obs])
            for k, t in enumerate(traj.transitions):
                if states >= max_states or k >= per_trajectory:
                    break
                unit = f"{traj.id}#{k}"
                truth_k, values = _true_outcomes(live, unit, t.action, traj.task_idx, truth, max_actions)
                known.clear()
                known.update(values)
                actions = [c.action for c in truth_k]
                preds = _pick(model, handle, actions)  # the model sees only its belief and the actions
                exact = sum(c.observation == tr.observation for (c, _), tr in zip(preds, truth_k, strict=True))
                f1 = sum(token_f1(c.observation, tr.observation) for (c, _), tr in zip(preds, truth_k, strict=True))
                out["action_accuracy"].add(unit, exact, len(truth_k))
                out["action_f1"].add(unit, f1, len(truth_k))
                true_scores = [chooser.score("", traj.task_idx, tr, visited) for tr in truth_k]
                if true_scores and max(true_scores) > min(true_scores):
                    picked = chooser.choose(ChoiceContext("", traj.task_idx, obs, [c for c, _ in preds], visited))
                    out["decision_agreement"].add(unit, true_scores[picked] == max(true_scores))
                    out["decision_regret"].add(unit, max(true_scores) - true_scores[picked])
                states += 1
                taken = next((h for (c, h) in preds if c.action == t.action), None)
                model.release([h for (_, h) in preds if h is not None and h != taken])
                try:
                    step = live.step(t.action)
                except EnvError:
                    break
                if step.observation != t.next_observation or step.done:
                    break
                new = model.correct(taken, step.observation) if taken is not None else model.init(step.observation)
                model.release([h for h in (handle, taken) if h is not None and h != new])
                handle, obs = new, step.observation
                visited[obs] += 1
    finally:
        if model is not None and hasattr(model, "close"):
            model.close()
        if own:
            close_env(live)
    return out


def episode_measures(frame: Any, prefix: str) -> dict[str, Measure]:
    """Per-task measures of a :func:`~patchworld.planning.run_episodes` frame, named ``<prefix>_<column>``."""
    out = {f"{prefix}_success": Measure(), f"{prefix}_lenient_success": Measure(), f"{prefix}_steps": Measure(),
           f"{prefix}_chooser_fallbacks": Measure()}
    for row in frame.iter_rows(named=True):
        unit = f"task{row['task']}"
        out[f"{prefix}_success"].add(unit, row["success"])
        out[f"{prefix}_lenient_success"].add(unit, row["lenient_success"])
        out[f"{prefix}_steps"].add(unit, row["steps"])
        out[f"{prefix}_chooser_fallbacks"].add(unit, row["chooser_fallbacks"])
    return out


def _episodes(open_model: OpenModel, env: str | TextEnv, tasks: Sequence[int], max_steps: int,
              agent_of: Callable[[Any], Any]) -> Any:
    live, own = _live(env)
    try:
        model = open_model(live)
        try:
            return run_episodes(live, agent_of(model), tasks, max_steps)
        finally:
            if hasattr(model, "close"):
                model.close()
    finally:
        if own:
            close_env(live)


def model_search_success(open_model: OpenModel, env: str | TextEnv, tasks: Sequence[int], max_steps: int = 30,
                         depth: int = 2, beam: int = 3, max_candidates: int | None = 8) -> dict[str, Measure]:
    """Live success of the depth-``depth`` search planner that knows only the program and the goal text."""
    score = goal_scorer(env)
    frame = _episodes(open_model, env, tasks, max_steps,
                      lambda m: SearchAgent(m, depth=depth, beam=beam, max_candidates=max_candidates, goal_score=score))
    return episode_measures(frame, "model_search")


def llm_success(open_model: OpenModel, env: str | TextEnv, tasks: Sequence[int], llm: LLMSettings, max_steps: int = 30,
                max_candidates: int | None = 8) -> dict[str, Measure]:
    """The paper's RQ3: the LLM picks among the program's predictions (its own proposal offered first)."""
    frame = _episodes(open_model, env, tasks, max_steps,
                      lambda m: LookaheadAgent(m, chooser=LLMChooser(llm), llm=llm, max_candidates=max_candidates))
    return episode_measures(frame, "llm")


def react_success(env: str, tasks: Sequence[int], llm: LLMSettings, max_steps: int = 30) -> dict[str, Measure]:
    """The paper's baseline: ReAct with the LLM alone (no world model); same tasks and step budget."""
    live = make(env)
    try:
        return episode_measures(run_episodes(live, ReActAgent(llm), tasks, max_steps), "llm")
    finally:
        close_env(live)
