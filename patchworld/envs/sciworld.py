"""SciWorld (ScienceWorld as served by AgentGym) as a live :class:`~patchworld.envs.base.TextEnv`.

Spec: ``shared/envspecs/sciworld.md``. The world is the real ``scienceworld==1.2.3`` jar in a JVM
(needs Java >= 8; 17 here); :mod:`.sciworld_engine` wraps it exactly like AgentGym's server and this
module adds the client's view. Tasks are AgentGym's ``data_idx`` over the 4,639 games
(23 task types x all their variations; the games table comes from ``data/envs/sciworld/games.json``,
not from a throw-away JVM).

Engines and reproducibility. An env owns one engine (one JVM, ``-Xmx512m``, 2 processors, started lazily at its
first reset) and reuses it across resets; pass ``engine=`` to share one (tests do). Inside a JVM,
outputs depend on its history (spec §9: listing orders, even circuit scores), so a fixed task and
action sequence reproduce byte for byte only with the same history: a fresh env (fresh engine) fed
the same resets and actions in the same order. ``generate`` builds one fresh env per call and plays
its tasks in a fixed order, so a seed gives byte-identical files (gold paths missing from the
shipped table are computed on the env's own gold JVM in that same fixed order). Planning is
reproducible by the same rule: ``make`` gives the live env a fresh JVM, and a deterministic
planner's clones replay the same rebuilds on their scratch JVM. Clones never touch the original's
engine: they share one lazily started *scratch* engine per family and rebuild their state there
(reload + the spec's §8 fast path), so planning with clones does not perturb the live episode.
Clones step on the spec's §8 fast path (no per-step valid-action listing): a clone's listing order
(rarely a circuit's score) may differ from what the original would print.

Return values:

* ``reset(task) -> str``: the client's first observation, ``task_description + "\\n" + <look around>``
  (``client_prompt=False``: the bare ``look around`` text). Errors (``EnvError``, previous episode
  kept): ``task >= 4639`` or ``< -4639`` -> ``list index out of range``; a non-int -> Python's text
  (``list indices must be integers or slices, not str``); negative tasks index from the end. No
  ``java`` on PATH: ``FileNotFoundError`` saying so (the CLI prints it as one line).
* ``step(action) -> Step``: ``observation`` is the jar's text byte for byte (``No known action
  matches that input.`` for anything unparsed, including ``""``; ``Ambiguous request: ...`` then a
  digit to choose); ``reward`` is the server's int ``reward`` = change of the score since the
  previous step (can be negative, e.g. -108 for a wrong focus after a reset that scored 8);
  ``info == {"score": <int -100..100>}`` (the client shows this score as the reward); ``done``
  when the score reaches 100 (success) or turns negative, or after the jar's 100th move. A step
  after done raises ``EnvError("The task with environment {env_id} has finished.")``. The action is
  the string the client posts after its ReAct parsing (the text after the last ``Action:``, stripped),
  passed to the jar unchanged; a non-str
  action or a step before reset raise ``EnvError`` too (our texts: the server never sees them).
* ``available_actions() -> list[str]``: AgentGym shows the agent no valid-action list, only the
  action templates of its prompt, so this fills those templates with what the agent has seen:
  ``look around``, ``inventory``, ``task``, ``wait1``; ``go to R`` / ``open door to R`` for every
  room named in this episode's observations; ``look at``/``pick up``/``focus on``/``open``/
  ``look in``/``activate`` + every object named in them. Empty before reset and after done.
* ``is_success()``: the score reached 100 in this episode.
* ``progress(task, observation)``: the episode's best score so far / 100 (0 once the score is
  negative) for an observation this env family (the env and its clones) returned for ``task``,
  preferring this env's latest one; 0.0 for unseen text. Non-decreasing along gold-path episodes.
* ``goal_score(goal, observation) -> float`` (static, text only, what planners may use): reads the
  task sentence of the first observation ``goal`` and ``observation``: 0.0 for ``No known action``,
  ambiguity prompts and the finished text; 0.5 for ``You focus on the X.`` when X is named in the
  task; else 0.25 x the share of the task's content words (4+ letters) the observation mentions.
* ``clone()``: an independent copy (history, score, caches), stepped on the scratch engine.

The expert (:func:`expert_action`) follows the task's gold path (:mod:`.sciworld_gold`): the next
gold action not yet taken in order, ``look around`` when the path is exhausted.

Speed (``.venv/bin/python benchmarks/sciworld_env.py``: medians, gold-path play on 12 tasks, this
2-core box shared by other jobs at load average ~13, so wall times vary 2x between runs): JVM start
5.1 s; ``reset`` 144 ms; ``step`` 81 ms wall / 29 ms of this process's CPU, i.e. ~28,500x maze's
step (2.8 us); a clone's step (reload + fast replay of its history + fast step) 305 ms. At load ~6
the golden replay measured a 33 ms median step and 67 ms median reset. Almost all of a step is the
valid-action list ``ScienceWorldEnv.step`` computes and AgentGym discards, which cannot be skipped
without changing outputs (spec §8; skipping even the Python-side copy of that list changed outputs).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from functools import cache

from patchworld.envs.base import EnvError, Step, register
from patchworld.envs.sciworld_engine import DATA_DIR, N_GAMES, Engine
from patchworld.envs.sciworld_gold import GoldSource

__all__ = ["SciWorldEnv", "expert_action", "goal_score", "conversation_start", "seen_names", "N_GAMES", "DESCRIPTION"]

DESCRIPTION = (
    "SciWorld (ScienceWorld) is a text simulator of science experiments in a house (hallway, kitchen, "
    "greenhouse, workshop, foundry, outside, ...). The first observation is the task ('Your task is to boil "
    "water. ...') then the current room's description ('This room is called the hallway. In it, you see: \\n\\t"
    "the agent\\n\\ta substance called air\\n...You also see:\\n\\tA door to the kitchen (that is closed)'). "
    "Actions are free text: open/close OBJ, activate/deactivate OBJ, connect OBJ to OBJ, disconnect OBJ, "
    "use OBJ [on OBJ], look around, look at OBJ, look in OBJ, read OBJ, move OBJ to OBJ, pick up OBJ, "
    "put down OBJ, pour OBJ into OBJ, dunk OBJ into OBJ, mix OBJ, go to LOC, eat OBJ, flush OBJ, "
    "focus on OBJ, wait (10 ticks), wait1, examine OBJ, task, inventory. Answers: 'The door is now open.', "
    "'You move to the kitchen.', 'You move the thermometer to the inventory.', 'You focus on the water.', "
    "'In your inventory, you see:\\n\\tan orange', 'No known action matches that input.' for anything "
    "unparsed, or 'Ambiguous request: Please enter the number for the action you intended (or blank to "
    "cancel):\\n0:\\t<action>\\n1:\\t<action>\\n' after which a bare number picks an option. Time passes: "
    "heating, freezing, growth happen over steps. The reward is the change of the task score (0-100): it "
    "rises as sub-goals are met; the episode ends at score 100 (success), at a wrong 'focus on' (score -100, "
    "reward -100 minus the previous score) or after 100 moves."
)

_ROOM_LINE = re.compile(r"A door to the (.+?) \(that is (?:open|closed)\)")
_MOVED = re.compile(r"You move to the (.+?)\.")
_ARTICLE = re.compile(r"^(?:a|an|the|A|An|The) ")
_HEAD_END = re.compile(r" \(|\. |, which|\.$|,")
_CONTENTS = re.compile(r"\(containing (.*)\)|is: (.*?)\.?$")
_FOCUS = re.compile(r"You focus on the (.+)\.\Z")
_WORD = re.compile(r"[a-z]{4,}")
_NO_VALUE = ("No known action matches", "Ambiguous request", "The task with environment")
_STOPWORDS = frozenset("your task then that this with which first focus take actions will cause change state "
                       "substance matter into from them there have should when what".split())
_CONSTANT_ACTIONS = ("look around", "inventory", "task", "wait1")
_OBJECT_TEMPLATES = ("look at {}", "pick up {}", "focus on {}", "open {}", "look in {}", "activate {}")


@cache
def conversation_start() -> tuple[dict[str, str], ...]:
    """AgentGym's ReAct chat preamble for SciWorld (the action template list the agent is shown)."""
    return tuple(json.loads((DATA_DIR / "conversation_start.json").read_text(encoding="utf-8")))


def _name(phrase: str) -> str:
    """An object phrase without article, contents or trailing clause (``a bowl (containing x)`` -> ``bowl``)."""
    phrase = _ARTICLE.sub("", phrase.strip())
    match = _HEAD_END.search(phrase)
    head = phrase[: match.start()] if match else phrase
    return head.removeprefix("substance called ").strip()


def _split_items(text: str) -> list[str]:
    """Split ``a, b (containing c, d), e`` at top-level commas."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def seen_names(observation: str) -> tuple[list[str], list[str]]:
    """(rooms, objects) an observation names: doors/moves for rooms; listed items and their contents."""
    rooms = _ROOM_LINE.findall(observation) + _MOVED.findall(observation)
    objects: list[str] = []
    pending = [line[1:] for line in observation.split("\n") if line.startswith("\t") and "A door to" not in line]
    while pending:  # depth first: an item, then what it contains, then the next item
        phrase = pending.pop(0)
        name = _name(phrase)
        if name and name not in ("nothing", "agent") and len(name) < 60:
            objects.append(name)
        inner = [item for m in _CONTENTS.finditer(phrase[len(name):]) for item in _split_items(m.group(1) or m.group(2) or "")]
        pending[0:0] = inner
    return rooms, objects


class _Family:
    """What an env shares with its clones: the scratch engine, the gold paths and the progress cache."""

    def __init__(self, env_id: int) -> None:
        self.env_id = env_id
        self._scratch: Engine | None = None
        self.gold = GoldSource()
        self.seen: dict[tuple[int, str], float] = {}

    @property
    def scratch(self) -> Engine:
        if self._scratch is None:
            self._scratch = Engine(self.env_id)
        return self._scratch


class SciWorldEnv:
    """A live SciWorld episode (see the module docstring for every return value)."""

    name = "sciworld"

    def __init__(self, engine: Engine | None = None, env_id: int = 0, client_prompt: bool = True) -> None:
        self.env_id = engine.env_id if engine is not None else env_id
        self.client_prompt = client_prompt
        self._engine = engine
        self._family = _Family(self.env_id)
        self._clone = False
        self.task: int | None = None
        self.history: tuple[str, ...] = ()
        self.score = 0
        self._best = 0
        self._done = False
        self._success = False
        self._rooms: dict[str, None] = {}
        self._objects: dict[str, None] = {}
        self._last: dict[int, tuple[str, float]] = {}

    @property
    def engine(self) -> Engine:
        """The engine this env plays on (its own, a shared one, or the family's scratch engine for a clone)."""
        if self._clone:
            return self._family.scratch
        if self._engine is None:
            self._engine = Engine(self.env_id)
        return self._engine

    @property
    def tasks(self) -> Sequence[int]:
        return range(N_GAMES)

    def reset(self, task: int) -> str:
        payload = self.engine.reset(task)
        if "error" in payload:
            raise EnvError(payload["error"])
        self.task = task % N_GAMES
        self.history, self.score, self._done = (), payload["score"], payload["done"]
        self._best, self._success = max(self.score, 0), self.score >= 100
        self._rooms, self._objects = {}, {}
        observation = payload["observation"]
        if self.client_prompt:
            observation = payload["task_description"] + "\n" + observation
        self._observe(observation)
        return observation

    def step(self, action: str) -> Step:
        if self.task is None:
            raise EnvError("call reset(task) before step()")
        if not isinstance(action, str):
            raise EnvError(f"action must be a string, got {type(action).__name__}")
        if self._done:
            raise EnvError(f"The task with environment {self.env_id} has finished.")
        try:  # the jar's gateway sends UTF-8: refuse here rather than break (and log) the connection
            action.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise EnvError(f"action is not UTF-8 text: {exc.reason} at position {exc.start}") from None
        engine = self.engine
        if self._clone:
            engine.sw  # noqa: B018 - start the scratch JVM outside the try: a missing Java is FileNotFoundError
            try:
                engine.restore(self.task, self.history)
                payload = engine.fast_step(action)
            except Exception as exc:  # noqa: BLE001 - surfaced as the env's error text, never a traceback
                raise EnvError(str(exc)) from exc
        else:
            if engine.state != (self.task, self.history):  # another env stepped a shared engine
                try:
                    engine.restore(self.task, self.history)
                except Exception as exc:  # noqa: BLE001 - surfaced as the env's error text, never a traceback
                    raise EnvError(str(exc)) from exc
            payload = engine.step(action)
        if "error" in payload:
            raise EnvError(payload["error"])
        self.history = (*self.history, action)
        self.score, self._done = payload["score"], payload["done"]
        self._best = max(self._best, self.score)
        self._success = self._success or self.score >= 100
        self._observe(payload["observation"])
        return Step(payload["observation"], payload["reward"], payload["done"], {"score": payload["score"]})

    def available_actions(self) -> list[str]:
        if self.task is None or self._done:
            return []
        actions = list(_CONSTANT_ACTIONS)
        for room in self._rooms:
            actions += [f"go to {room}", f"open door to {room}"]
        for obj in self._objects:
            actions += [template.format(obj) for template in _OBJECT_TEMPLATES]
        return list(dict.fromkeys(actions))

    def is_success(self) -> bool:
        return self._success

    def progress(self, task: int, observation: str) -> float:
        task = task % N_GAMES
        last = self._last.get(task)
        if last is not None and last[0] == observation:
            return last[1]
        return self._family.seen.get((task, observation), 0.0)

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only value of ``observation`` for the first observation ``goal`` (module docstring)."""
        return goal_score(goal, observation)

    def clone(self) -> SciWorldEnv:
        other = copy.copy(self)
        other._clone = True
        other._rooms, other._objects, other._last = dict(self._rooms), dict(self._objects), dict(self._last)
        return other

    def _observe(self, observation: str) -> None:
        """Remember the names the agent has seen and the progress this observation stands for."""
        rooms, objects = seen_names(observation)
        self._rooms.update(dict.fromkeys(rooms))
        self._objects.update(dict.fromkeys(objects))
        value = 0.0 if self.score < 0 else self._best / 100
        task = self.task if self.task is not None else -1
        self._last[task] = (observation, value)
        key = (task, observation)
        self._family.seen[key] = max(self._family.seen.get(key, 0.0), value)


def goal_score(goal: str, observation: str) -> float:
    """Text-only value of ``observation`` for the task named in ``goal`` (see the module docstring)."""
    task = goal.split("\n", 1)[0].lower()
    text = observation.strip()
    if not text or text.startswith(_NO_VALUE):
        return 0.0
    focus = _FOCUS.match(text)
    if focus:
        return 0.5 if focus.group(1).lower() in task else 0.0
    words = {w for w in _WORD.findall(task) if w not in _STOPWORDS}
    if not words:
        return 0.0
    lowered = text.lower()
    return 0.25 * sum(w in lowered for w in words) / len(words)


def expert_action(env: SciWorldEnv) -> str:
    """The next action of the task's gold path not yet taken (in order); ``look around`` after the path."""
    if env.task is None:
        raise EnvError("call reset(task) before asking the expert")
    gold = env._family.gold(env.task)
    k = 0
    for action in env.history:
        if k < len(gold) and action == gold[k]:
            k += 1
    return gold[k] if k < len(gold) else "look around"


register("sciworld", SciWorldEnv, expert=expert_action, description=DESCRIPTION)
