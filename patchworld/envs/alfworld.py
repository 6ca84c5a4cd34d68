"""ALFWorld (text, as AgentGym serves it) on generated problems, as a live :class:`~.base.TextEnv`.

Faithful to ``shared/envspecs/alfworld.md``: a pure-Python re-implementation of TextWorld's
``PddlEnv`` on alfworld 0.3.3's ``alfred.pddl`` + ``alfred.twl2`` (:mod:`.alfworld_rules`)
plus AgentGym's reset/step post-processing. Problems are data (:mod:`.alfworld_problem`):
``AlfworldEnv(problems=PATH)`` plays any ``problems.jsonl`` in the spec's format (task = index
among its non-blank lines); the default is the shipped ``data/envs/alfworld/problems.jsonl``
(100 problems: the 21 the spec's episodes were recorded on, as tasks 0-20, then 79 made by
:mod:`.alfworld_gen` with seed 0; all six task types). :mod:`.alfworld_gen` makes new solvable
problems from any seed (``patchworld generate --env alfworld --problems N``).

Why not drive the original engine: installing it compiles a planner and pulls torch (4 min, 6 GB
on a fresh machine) and a step takes ~0.1 s; this engine matches it byte for byte on every step
recorded from it (the spec's 229 plus 6,038 oracle steps on recorded, generated and hand-written
problems; ``data/envs/alfworld/README.md``, ``benchmarks/alfworld_oracle.py``).

Return values:

* ``reset(task) -> str``: what the AgentGym client shows the agent first: the server's reset
  observation (the intro without its banner, ``"You are in the middle of a room. Looking
  quickly around you, you see a cabinet 2, ...\\nYour task is to: <goal_text>."``) followed by
  ``"\\nAVAILABLE ACTIONS: "`` and the admissible commands joined by ``","``
  (``client_view=False`` returns the bare server observation). ``reset_payload()`` gives the
  server's whole reset JSON (``id``, ``observation``, ``available_actions``, ``task_type`` =
  ``"<task_type>-gen/<problem id>"``). A task the server cannot index raises
  :class:`EnvError` with its text (``list index out of range``; negative ids index from the
  end like the server's Python list); a failed reset leaves the running episode untouched.
* ``step(action) -> Step``: ``observation`` is the server's text byte for byte (``go to``
  answers with the receptacle's examine text, AgentGym having cut ``You arrive at loc N. ``);
  anything that is not an admissible command (after stripping surrounding whitespace, as
  TextWorld does) is ``Nothing happens.`` and still counts as a step. ``reward`` is the
  float 1.0 on the step that reaches the goal, else 0.0; ``done`` is the win or the 50th
  step. ``info`` is ``{"won": bool, "steps": int, "available_actions": list}`` (the last is the
  payload's list, given even on the final step). A step after done raises
  ``EnvError("The task with environment 0 has finished.")``; a non-string action raises the
  text of the exception the server would return (``'int' object has no attribute 'strip'``).
* ``available_actions()``: exactly the server's ``available_actions`` (TextWorld's sorted
  admissible commands); empty before reset and after done.
* ``progress(task, observation)``: 1.0 when won; otherwise ``0.9 * (1 - r / r0)`` where ``r``
  is the length of the privileged expert's shortest plan (:mod:`.alfworld_expert`) from the
  state the observation stands for and ``r0`` its length at reset. That state is the env's
  own after the step that produced ``observation`` (remembered per task), else the state one
  admissible action from the current one would reach if that action yields exactly
  ``observation`` (how planners score predicted observations), else the current state.
  Non-decreasing along expert episodes (tested).
* ``goal_score(goal, observation)`` (static, text only, what planners use): reads the task
  sentence of the first observation with the six goal templates and scores the stage the
  observation text shows (found 0.2, picked up 0.4, processed / lamp on 0.6, put in place up to
  1.0); see :func:`goal_score`.

Speed (``.venv/bin/python benchmarks/alfworld_env.py``, medians on the shared 2-core box): reset
0.06 ms (25x maze's step, most of it the expert plan that scales progress), step 0.016 ms (6.7x
maze's step, including the sorted action list of the payload), clone 0.006 ms, expert action
0.019 ms; loading the 100 shipped problems 11 ms. The original engine on the same box: reset
1.0-1.5 s, step 66-109 ms (``data/envs/alfworld/README.md``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from patchworld.envs.alfworld_expert import expert_command, plan
from patchworld.envs.alfworld_problem import DATA_DIR, PROBLEMS_FILE, Problem, load_problems, tables
from patchworld.envs.alfworld_rules import World, goal_reached
from patchworld.envs.base import EnvError, Step, register

__all__ = ["AlfworldEnv", "MAX_STEPS", "DESCRIPTION", "expert_action", "goal_score", "parse_goal",
           "conversation_start"]

MAX_STEPS = 50
PARTIAL_CAP = 0.9

DESCRIPTION = (
    "ALFWorld (text) is a household: fixed receptacles (cabinet 1, countertop 1, fridge 1, drawer 2, sinkbasin 1, "
    "microwave 1, desk 1, sidetable 1, ...) and portable objects (apple 1, mug 2, ...) inside them. The first "
    "observation lists every receptacle ('You are in the middle of a room. Looking quickly around you, you see a "
    "cabinet 2, a cabinet 1, ...') and the task ('Your task is to: put a clean mug in cabinet.'), then the available "
    "actions. Six task types: put an object in a receptacle type; the same after cleaning it at a sinkbasin, heating "
    "it with a microwave or cooling it with a fridge; put two objects of a type in one receptacle; or hold an object "
    "while standing at a desklamp you turned on ('use desklamp 1'). Commands (exact strings): 'go to R' answers with "
    "what R shows: 'On the R, you see a x 1, and a y 2.' or, for a Fridge/Cabinet/Microwave/Drawer/Safe/Box, 'The R "
    "is closed.' / 'The R is open. In it, you see ...' (closed receptacles hide their contents); 'open R' ('You open "
    "the R. The R is open. In it, you see ...'), 'close R' ('You close the R.'), 'take O from R' ('You pick up the O "
    "from the R.', hands must be empty, at R, R open), 'put O in/on R' ('You put the O in/on the R.'), 'clean O with "
    "R' / 'heat O with R' / 'cool O with R' ('You clean the O using the R.'), 'use O' ('You turn on the O.'), "
    "'examine R', 'examine O' (held only: 'This is a hot O.', 'This is a clean O.', 'This is a cold O.', 'There's "
    "nothing special about O.', 'This is a normal O. In it, you see nothing.' for bowls/cups/mugs/pans/plates/pots), "
    "'inventory' ('You are carrying: a O.' / 'You are not carrying anything.'), 'look' ('You are facing the R. Next "
    "to it, you see nothing.'). Lists use 'a' always, are ordered by type then number descending, 'nothing' when "
    "empty. Any other or inapplicable command answers 'Nothing happens.'. Reaching the goal gives reward 1.0 and "
    "ends the episode; every other step gives 0.0; the 50th step ends it."
)


class AlfworldEnv:
    """A live ALFWorld episode over a problems file (see the module docstring for every return value)."""

    name = "alfworld"

    def __init__(self, problems: str | Path | Sequence[Problem] | None = None, client_view: bool = True,
                 env_id: int = 0, max_steps: int = MAX_STEPS) -> None:
        if problems is None or isinstance(problems, (str, Path)):
            self.problems: list[Problem] = load_problems(problems or PROBLEMS_FILE)
        else:
            self.problems = list(problems)
        self.client_view, self.env_id, self.max_steps = client_view, env_id, max_steps
        self.task: int | None = None
        self.world: World | None = None
        self.steps = 0
        self.done = False
        self.won = False
        self._start_plan = 1
        self._last_seen: dict[int, tuple[str, World]] = {}

    @property
    def tasks(self) -> Sequence[int]:
        return range(len(self.problems))

    def reset_payload(self) -> dict[str, Any]:
        """The server's reset JSON for the current episode."""
        if self.world is None:
            raise EnvError("call reset(task) before reset_payload()")
        problem = self.world.problem
        return {"id": self.env_id, "observation": self.world.intro(), "available_actions": self._admissible(),
                "task_type": f"{problem.task_type}-gen/{problem.id}"}

    def reset(self, task: int) -> str:
        try:
            problem = self.problems[task]
        except Exception as exc:  # the server indexes a Python list with the game id
            raise EnvError(f"{exc}") from exc
        self.task, self.world = task, World.start(problem)
        self.steps, self.done, self.won = 0, False, False
        self._start_plan = max(1, len(plan(self.world)))
        observation = self.world.intro()
        self._last_seen[task] = (observation, self.world.copy())
        if not self.client_view:
            return observation
        return observation + "\nAVAILABLE ACTIONS: " + ",".join(self._admissible())

    def step(self, action: str) -> Step:
        if self.world is None:
            raise EnvError("call reset(task) before step()")
        if self.done:
            raise EnvError(f"The task with environment {self.env_id} has finished.")
        if not isinstance(action, str):
            raise EnvError(f"'{type(action).__name__}' object has no attribute 'strip'")
        observation = self.world.apply(action)
        self.steps += 1
        self.won = goal_reached(self.world)
        self.done = self.won or self.steps >= self.max_steps
        if self.task is not None:
            self._last_seen[self.task] = (observation, self.world.copy())
        info = {"won": self.won, "steps": self.steps, "available_actions": self._admissible()}
        return Step(observation, 1.0 if self.won else 0.0, self.done, info)

    def _admissible(self) -> list[str]:
        return sorted(self.world.admissible()) if self.world is not None else []

    def available_actions(self) -> list[str]:
        if self.world is None or self.done:
            return []
        return self._admissible()

    def is_success(self) -> bool:
        return self.won

    def progress(self, task: int, observation: str) -> float:
        world = self._state_for(task, observation)
        if world is None:
            return 0.0
        if goal_reached(world):
            return 1.0
        start = self._start_plan if task == self.task else max(1, len(plan(World.start(self.problems[task]))))
        return PARTIAL_CAP * max(0.0, 1.0 - len(plan(world)) / start)

    def _state_for(self, task: int, observation: str) -> World | None:
        """The state ``observation`` stands for (see the module docstring)."""
        seen = self._last_seen.get(task)
        if seen is not None and seen[0] == observation:
            return seen[1]
        if task != self.task or self.world is None:
            try:
                return World.start(self.problems[task]) if isinstance(task, int) else None
            except IndexError:
                return None
        for command in sorted(self.world.admissible()):
            trial = self.world.copy()
            if trial.apply(command) == observation:
                return trial
        return self.world

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only progress of ``observation`` for the first observation ``goal`` (module docstring)."""
        return goal_score(goal, observation)

    def clone(self) -> AlfworldEnv:
        other = copy.copy(self)
        other.world = self.world.copy() if self.world is not None else None
        other._last_seen = dict(self._last_seen)
        return other


_TASK_LINE = re.compile(r"Your task is to: (.*?)\.(?:\n|$)")
_PROCESS_VERB = {"pick_clean_then_place_in_recep": "clean", "pick_heat_then_place_in_recep": "heat",
                 "pick_cool_then_place_in_recep": "cool"}


@lru_cache(maxsize=1)
def _goal_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """One regex per goal template of ``goal_templates.json`` (named groups obj/recep/toggle)."""
    out = []
    for task_type, templates in tables().templates.items():
        for template in templates:
            pattern = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
            pattern = re.sub(r"\{(obj|recep|toggle)\}", r"(?P<\1>[a-z]+)", pattern)
            out.append((re.compile(pattern + r"\Z"), task_type))
    return tuple(out)


def parse_goal(goal: str) -> tuple[str, str, str] | None:
    """(task type, object word, receptacle or lamp word) from a first observation, or None."""
    line = _TASK_LINE.search(goal)
    for pattern, task_type in _goal_patterns() if line else ():
        m = pattern.match(line.group(1))
        if m:
            words = m.groupdict()
            return task_type, words["obj"], words.get("recep") or words.get("toggle") or ""
    return None


def goal_score(goal: str, observation: str) -> float:
    """Stage of the task an observation shows, from the goal sentence and that text alone.

    Place tasks: a goal-type object seen in a receptacle 0.2, picked up 0.4, cleaned/heated/
    cooled as asked 0.6, put into a goal-type receptacle 1.0 (simple task; 0.8 when a process
    was asked, which the text of ``put`` cannot confirm; 0.7 for one of two). Light task: object
    or lamp seen 0.2, object picked up 0.4, lamp turned on 0.6. Otherwise 0.0.
    """
    parsed = parse_goal(goal)
    if parsed is None:
        return 0.0
    task_type, obj, where = parsed
    text = observation.strip()
    if task_type == "look_at_obj_in_light":
        if re.fullmatch(rf"You turn on the {where} \d+\.", text):
            return 0.6
        if re.fullmatch(rf"You pick up the {obj} \d+ from the [a-z]+ \d+\.", text):
            return 0.4
        return 0.2 if re.search(rf"you see .*\ba ({obj}|{where}) \d+", text) else 0.0
    if re.fullmatch(rf"You put the {obj} \d+ in/on the {where} \d+\.", text):
        return 0.8 if task_type in _PROCESS_VERB else 0.7 if task_type == "pick_two_obj_and_place" else 1.0
    verb = _PROCESS_VERB.get(task_type)
    if verb and re.fullmatch(rf"You {verb} the {obj} \d+ using the [a-z]+ \d+\.", text):
        return 0.6
    if re.fullmatch(rf"You pick up the {obj} \d+ from the [a-z]+ \d+\.", text):
        return 0.4
    return 0.2 if re.search(rf"you see .*\ba {obj} \d+", text) else 0.0


def conversation_start() -> list[dict[str, Any]]:
    """The two fixed chat turns AgentGym puts before the first observation (its ReAct preamble)."""
    return json.loads((DATA_DIR / "conversation_start.json").read_text(encoding="utf-8"))


def expert_action(env: AlfworldEnv) -> str:
    """The privileged expert's next command (first step of the shortest plan; ``look`` when none)."""
    if env.world is None:
        raise EnvError("call reset(task) before asking the expert")
    return expert_command(env.world)


register("alfworld", AlfworldEnv, expert=expert_action, description=DESCRIPTION)
