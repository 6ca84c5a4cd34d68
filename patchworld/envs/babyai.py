"""BabyAI as AgentGym serves it: 40 minigrid levels behind a text wrapper with macro actions.

World generation and physics come from ``minigrid==2.3.1`` (with ``gymnasium==0.29.1``);
the text layer (``babyai_text``) re-implements AgentGym's wrapper from
``envspecs/babyai.md``. Minigrid is imported only by the babyai modules.

Seeding and tasks: task id ``n`` (any int >= 0; AgentGym's ``babyai_<n>``) selects level
``levels[n % 40]`` from ``data/envs/babyai/levels.json`` and minigrid seed ``n // 40``;
``tasks`` lists ``range(n_tasks)`` (default 400 = 10 seeds of every level). Nothing else
is random, so a task and an action sequence fix every output.

Return values:

* ``reset(task) -> str``: ``"Your goal: <mission, 'then'/'after you' -> 'and'>\\n" + D + AL``
  where D is the view description and AL is ``"\\nAvailable actions: [...]"``. A negative
  task raises ``EnvError`` with gymnasium's seed error text.
* ``step(action) -> Step``: ``observation`` = D (+ ``"\\n The task is completed."`` on a
  minigrid termination), or an error/``check``/``No change in state.`` text, + AL;
  ``reward`` = the last executed primitive's minigrid reward (``int`` 0 or a float,
  kept from the previous step for texts that do not touch the world);
  ``done`` = terminated with reward > 0.5; ``info = {"score": running sum of rewards}``
  (the value the AgentGym client reports as the step reward). Stepping a finished
  episode raises ``EnvError("The task with environment <env_id> has finished.")``
  (``env_id``, the AgentGym server's env slot, defaults to 0).
* ``available_actions()``: the action names listed in AL (``[]`` once done).
* ``is_success()``: AgentGym's ``done`` flag (mission completed with reward > 0.5).
* ``progress(task, obs)``: 1.0 only when ``obs`` shows the mission completed successfully;
  else ``0.95 * (clauses done + milestone credit of the next pending clause) / clauses``
  (rules in :mod:`patchworld.envs.babyai_progress`; clauses and their order come from the
  level's verifier tree, as ``then``/``after you`` are lost in the goal line). The env keeps,
  per task, the facts of its live state for every observation it returned in the task's
  latest episode (clauses its verifier completed, AgentGym's done flag, targets seen so far;
  copied by ``clone``, dropped by the task's next ``reset``). An observation it returned is
  scored from those facts: 1.0 exactly when that step ended the episode successfully (not
  on a mission failure or a late success, which also print ``The task is completed.``).
  Any other observation (e.g. a model's prediction) is read as a successor of the task's
  latest live state: clauses done there stay done, and the completion sentence counts
  only if the text shows every remaining clause done. Without any episode of the task,
  the mission's clauses and the text alone are used. Along the expert's episodes of tasks
  0-399 it is non-decreasing on 398 (the milestones never use distances; the two others
  drop an object being moved to fetch a key) and 1.0 exactly at the successful step.
  ``progress`` reads live facts, so planners must not use it.
* ``goal_score(goal, observation)`` (static, text only, what planners use):
  :func:`progress_from_text` with the goal line of the first observation ``goal``.
* ``clone()``: an independent deep copy (minigrid env included).

Expert: :func:`patchworld.envs.babyai_expert.expert_action`, a full-state planner over the
macro actions (minigrid 2.3.1 has no ``BabyAIBot``). The expert module imports this one and
registers the env with its expert (this module never imports the expert).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # minigrid imports pygame, which greets on stdout

import gymnasium  # noqa: E402
import minigrid  # noqa: F401,E402  (importing registers the BabyAI-* ids with gymnasium)

from patchworld.envs.babyai_progress import (
    Facts,
    Mission,
    clause_status,
    facing_door,
    mission_from_goal,
    mission_from_instrs,
    read_view,
    score,
    seen_targets,
)
from patchworld.envs.babyai_text import Rendered, action_list_text, render
from patchworld.envs.base import EnvError, Step

__all__ = ["BabyAIEnv", "DATA_DIR", "DESCRIPTION", "LEVELS", "goal_text", "progress_from_text"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "babyai"
LEVELS: list[str] = json.loads((DATA_DIR / "levels.json").read_text())["levels"]
COMPLETED = "\n The task is completed."


def goal_text(mission: str) -> str:
    """AgentGym's goal line: every ``then`` and then every ``after you`` becomes ``and``."""
    if "then" in mission:
        mission = mission.replace("then", "and")
    if "after you" in mission:
        mission = mission.replace("after you", "and")
    return mission


def _make(level: str):
    """A fresh unwrapped minigrid level (the gymnasium wrappers do not change behaviour)."""
    return gymnasium.make(level).unwrapped


class BabyAIEnv:
    """AgentGym's BabyAI text environment on top of minigrid (see the module docstring)."""

    name = "babyai"

    def __init__(self, n_tasks: int = 400, env_id: int = 0) -> None:
        self.n_tasks = n_tasks
        self.env_id = env_id
        self.task: int | None = None
        self.level: str = ""
        self.goal: str = ""
        self._env = None
        self._view: Rendered | None = None
        self._image = None
        self._reward: float = 0
        self._score: float = 0
        self._done = False
        self._missions: dict[int, Mission] = {}
        self._known: dict[int, dict[str, Facts]] = {}  # task -> observation returned in its latest episode -> facts
        self._latest: dict[int, Facts] = {}  # task -> facts of its latest live state

    @property
    def tasks(self) -> list[int]:
        """``range(n_tasks)``; ``reset`` accepts any task >= 0, as upstream does."""
        return list(range(self.n_tasks))

    @property
    def minigrid_env(self):
        """The live (unwrapped) minigrid level, for experts and debugging."""
        if self._env is None:
            raise EnvError("call reset(task) first")
        return self._env

    @property
    def rendered(self) -> Rendered:
        """The current description and action/error tables."""
        if self._view is None:
            raise EnvError("call reset(task) first")
        return self._view

    @property
    def done(self) -> bool:
        """AgentGym's done flag for the current episode."""
        return self._done

    @property
    def score(self) -> float:
        """The running score (sum of the rewards reported so far)."""
        return self._score

    def reset(self, task: int) -> str:
        task = int(task)
        level = LEVELS[task % len(LEVELS)]
        env = _make(level)  # fresh, as upstream: a reused level keeps state (LevelGen.locked_room)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints rejected samples
                obs, _ = env.reset(seed=task // len(LEVELS))
        except Exception as exc:  # the original answers {"error": str(exc)}
            raise EnvError(str(exc)) from exc
        self.task, self.level, self._env = task, level, env
        self.goal = goal_text(env.mission)
        self._view = self._render(obs)
        self._image = obs["image"]
        self._reward, self._score, self._done = 0, 0, False
        mission = self._missions[task] = mission_from_instrs(env.instrs)
        self._known[task] = {}
        text = "Your goal: " + self.goal + "\n" + self._view.description + action_list_text(self._view.actions)
        view = read_view(text)
        self._remember(text, Facts(clause_status(env.instrs), False, seen_targets(mission, view), facing_door(view)))
        return text

    def _remember(self, observation: str, facts: Facts) -> None:
        """Record the live facts behind an observation this env returned (for :meth:`progress`)."""
        self._latest[self.task] = facts
        self._known[self.task][observation] = facts

    def _render(self, obs) -> Rendered:
        env = self._env
        carrying = None if env.carrying is None else (env.carrying.color, env.carrying.type)
        return render(obs["image"], int(obs["direction"]), env.agent_pos, carrying)

    def step(self, action: str) -> Step:
        if self._env is None:
            raise EnvError("call reset(task) before step(action)")
        if self._done:
            raise EnvError(f"The task with environment {self.env_id} has finished.")
        view = self._view
        a = action.lower().strip()
        stepped = False
        if "check" in a:
            text = "You can take the following actions: " + ", ".join(view.actions)
        elif a == "":
            text = "No change in state."
        elif a not in view.actions:
            text = view.errors.get(a, "The action is not recognized. Please check valid actions.")
        elif not view.actions[a]:
            text = "No change in state."
        else:
            text = self._execute(view.actions[a])
            stepped = True
        self._score = self._score + self._reward
        observation = text + action_list_text(self._view.actions)
        facts = self._latest[self.task]
        if stepped:
            view = read_view(text)
            seen = facts.seen | seen_targets(self._missions[self.task], view)
            facts = Facts(clause_status(self._env.instrs), self._done, seen, facing_door(view))
        self._remember(observation, facts)
        return Step(observation, self._reward, self._done, {"score": self._score})

    def _execute(self, primitives: list[int]) -> str:
        env = self._env
        for primitive in primitives:
            obs, reward, terminated, _, _ = env.step(primitive)
            if not (obs["image"] != self._image).any():
                break
            self._image = obs["image"]
        self._view = self._render(obs)
        text = self._view.description
        if terminated:
            text += COMPLETED
        self._reward = reward
        self._done = bool(terminated) and reward > 0.5
        if self._reward == 1 and not self._done:
            self._done = True
            text += COMPLETED
        self._image = obs["image"]
        return text

    def available_actions(self) -> list[str]:
        if self._view is None or self._done:
            return []
        return list(self._view.actions)

    def is_success(self) -> bool:
        return self._done

    def progress(self, task: int, observation: str) -> float:
        """Task progress of ``observation`` in [0, 1] (rules and the per-task facts: module docstring)."""
        mission = self._missions.get(task) or _task_info(task)[1]
        view = read_view(observation)
        facts = self._known.get(task, {}).get(observation)
        if facts is not None:
            return score(mission, view, facts, known=True)
        return score(mission, view, self._latest.get(task), known=False)

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only task progress of ``observation`` for the first observation ``goal``."""
        return progress_from_text(goal, observation)

    def clone(self) -> BabyAIEnv:
        other = copy.copy(self)
        other._env = copy.deepcopy(self._env)
        other._view = copy.deepcopy(self._view)
        other._missions = dict(self._missions)
        other._latest = dict(self._latest)
        other._known = dict(self._known)
        if self.task is not None:
            other._known[self.task] = dict(self._known[self.task])
        return other


@lru_cache(maxsize=4096)
def _task_info(task: int) -> tuple[str, Mission]:
    """The goal line and mission clauses of a task (generates the level once; cached)."""
    env = BabyAIEnv(n_tasks=task + 1)
    env.reset(task)
    return env.goal, env._missions[task]


def mission_of(task: int) -> str:
    """The goal line of a task (generates the level once; cached)."""
    return _task_info(task)[0]


def progress_from_text(goal: str, observation: str) -> float:
    """Text-only task progress in [0, 1]: no live facts, so clauses count done only while the text shows them.

    The goal is the observation's ``Your goal:`` line if it has one, else ``goal``; its
    clauses form one order group (the goal line has lost ``then``/``after you``), and the
    completion sentence counts as success when the text shows some clause done.
    """
    match = re.match(r"Your goal: (.*)\n", observation)
    return score(mission_from_goal(match.group(1) if match else goal), read_view(observation), None, known=False)


DESCRIPTION = (
    "BabyAI (AgentGym text version of 40 minigrid levels): the agent is in a grid world of rooms "
    "with walls, doors (open, closed or locked) and coloured keys, balls and boxes, and must carry out "
    "the mission on the first line, 'Your goal: ...' (go to an object, pick it up, open a door, put an "
    "object next to another, or a sequence joined by 'and'). Each observation describes the agent's "
    "7x7 forward view: 'There is a <colour> [<state>] <type> <k> right in front of you N steps away.' or "
    "'N steps in front of you and M steps to your left/right.' (objects sorted by distance, numbered per "
    "name), then 'The room has walls around you.', optionally 'You are facing a wall|box N steps away.', "
    "and what the agent carries; it ends with 'Available actions: [...]', the exact actions allowed now. "
    "Actions: 'turn left', 'turn right', 'move forward', 'go to <obj> <k>' (walk to face it), "
    "'pickup <obj> <k>', 'drop', 'toggle' (open the door just in front), 'go through <open door> <k>', "
    "'toggle and go through <closed/locked door> <k>' (a locked door needs a key of its colour), "
    "'check available actions'. A macro action is expanded to primitive moves by a planner inside the "
    "view and stops early when a move changes nothing. Invalid actions return an error sentence and "
    "leave the world unchanged. On success the text gains '\\n The task is completed.' and the reward is "
    "1 - 0.9 * primitive_steps / max_steps; the episode ends when that reward is above 0.5."
)
