"""TextCraft (ADaPT, as served by AgentGym) as a live :class:`~patchworld.envs.base.TextEnv`.

Faithful to ``shared/envspecs/textcraft.md``; the rules live in :mod:`.textcraft_rules`.

Seeding and tasks: nothing is random. ``tasks`` is ``range(544)``; ``reset(task)`` accepts
any int like the server's ``data_idx`` and plays row ``task % 544`` of ``tasks.jsonl`` (the
goal ``goal_pool[task % 544]`` and the exact initial observation the original produced
with sorted recipe files, CPython 3.11, ``PYTHONHASHSEED=0``). A non-int task raises
:class:`EnvError` with the text of the exception the original raises.

Return values:

* ``reset(task) -> str``: ``"Crafting commands:\\n<commands>\\n\\nGoal: craft <goal>."``; the
  inventory is emptied.
* ``step(action) -> Step``: ``observation`` is the server's text byte for byte (``Got N X``,
  ``Crafted N minecraft:x``, ``Inventory: ...``, ``Could not find ...``, ``Could not execute
  ...``, ``Wrong item format: ...``, ``Could not find a valid recipe for ...``); ``reward`` is
  the int 1 when the step crafts the goal, else the int 0; ``done`` is True exactly then.
  ``info`` is ``{}``. The action is the cleaned string the client sends (no client-side
  cleaning is applied here). Step before any reset raises ``EnvError``. The original server
  never refuses a step after ``done`` (it keeps executing; AgentGym's loop just stops); the
  team protocol wants a refusal, so by default a step after ``done`` raises
  ``EnvError(FINISHED)`` (our text, the original has none), while
  ``TextCraftEnv(continue_after_done=True)`` keeps executing exactly like the server. An
  exception inside the original's step becomes the server's ``{"error": str(exc)}``; here
  ``EnvError(str(exc))``, e.g. ``get <5000 digits> dirt`` -> ``Exceeds the limit (4300
  digits) for integer string conversion: ...`` (CPython 3.11's ``int`` limit). The
  ``KeyError`` the original would raise for a craft that lists the same item twice and uses
  it all up is mirrored too, but no shipped recipe can pair one item twice, so it never fires.
* ``available_actions() -> list[str]``: the original server exposes no action list, so this
  one is derived only from the text this episode has shown the agent (never from the recipe
  tree, the inventory or the expert; :func:`actions_from_text`): ``inventory``; every
  ``craft`` command listed in the first observation; ``get <count> <item>`` for every
  ingredient of a listed command that no listed command makes (nor names a group of, like
  ``planks`` for ``oak planks``); and, for each listed command,
  variants where an ingredient (e.g. the tag ``planks``) is replaced by an item the agent has
  seen named in an observation whose name ends with it (``oak planks``; at most 8 variants
  per command). Deduplicated, deterministic order; empty before reset and after ``done``
  (default mode). ``generation_actions()`` keeps the earlier, privileged list (recipe tree and
  the expert's next action) for trajectory generation only, so ``make data`` is unchanged.
* ``is_success() -> bool``: the goal was crafted during this episode.
* ``progress(task, observation) -> float``: 1.0 when the observation shows the goal obtained
  (``Crafted N <goal id>`` or an inventory listing holding it); else the share of the
  expert's plan already done, ``0.9 * max(0, 1 - len(plan(inventory)) / len(plan({})))``, in
  [0, 0.9) (``plan`` = :func:`plan`: one ``get`` per missing base item plus every craft still
  needed over the whole recipe tree, so it is non-decreasing along expert trajectories,
  unlike a share of the goal's direct ingredients, which drops whenever an intermediate
  consumes an ingredient the goal also needs). The inventory comes from the observation when
  it is an ``Inventory:`` listing; otherwise, if this env returned that very observation on
  its last step of ``task`` (a per-task cache of the last inventory, copied by ``clone``),
  from the env's inventory at that time; otherwise from what the observation alone says
  (``Got N X`` / ``Crafted N x`` -> only that item held; any other text -> empty).
* ``goal_score(goal, observation) -> float`` (static, text only, what planners use; reads the
  first observation's listed commands and ``Goal: craft <item>.`` line, and the observation):
  ``1.0`` for ``Crafted N minecraft:<goal>``; ``0.5`` for crafting an item some listed command
  of the goal's listed recipe chain needs; ``0.25`` for ``Got`` such an item; ``0.0`` otherwise.
* ``clone() -> TextCraftEnv``: an independent copy (inventory and caches copied).

The expert (:func:`expert_action`) plans from the current inventory with
:func:`~patchworld.envs.textcraft_rules.plan`: fetch every missing base item with one ``get``
each, then craft intermediates bottom-up; where an item has several recipes or a tag several
members it takes the option with the shortest sub-plan from the current inventory (first on
ties). It returns the first action of that plan (``inventory`` once the goal is held).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from functools import cache

from patchworld.envs.base import EnvError, Step, register
from patchworld.envs.textcraft_rules import (
    CraftingTree,
    Planner,
    display,
    execute,
    load_tasks,
    load_tree,
    plan,
    to_id,
)

N_TASKS = 544
FINISHED = "The episode has finished; call reset(task) (the original server would keep executing)."
PARTIAL_CAP = 0.9  # progress of a not-yet-solved state is at most this

DESCRIPTION = (
    "TextCraft is a text-only Minecraft crafting game. The first observation lists crafting commands "
    "(every recipe needed for the goal plus some distractors), one per line, e.g. 'craft 4 oak planks using "
    "1 oak logs' or 'craft 1 crafting table using 4 planks', and ends with 'Goal: craft <item>.'. Actions: "
    "'get <N> <item>' fetches N of a base (non-craftable) item, answered 'Got N item' or 'Could not find item'; "
    "'craft <N> <item> using <n1> <item1>, <n2> <item2>, ...' makes one batch of a recipe when the inventory "
    "holds the ingredients and the listed counts equal one recipe's counts exactly (the requested output count is "
    "ignored; a generic ingredient such as 'planks' must be named as a specific member such as 'oak planks'), "
    "answered 'Crafted <count> minecraft:<item_id>' or an error such as 'Could not find enough items to craft "
    "minecraft:<id>' or 'Could not find a valid recipe for ItemTagWithCount(...)'; 'inventory' answers "
    "'Inventory: [item] (count) [item] (count) ' or 'Inventory: You are not carrying anything.'. Anything else "
    "gives 'Could not execute <action>'. Crafting the goal item gives reward 1 and ends the episode; every other "
    "step gives reward 0."
)

_CRAFTED = re.compile(r"Crafted (-?[0-9]+) (\S+)\Z")
_GOT = re.compile(r"Got ([0-9]+) (.*)\Z")
_LISTING = re.compile(r"\[([^\]]*)\] \((-?[0-9]+)\) ")


class TextCraftEnv:
    """A live TextCraft episode (see the module docstring for every return value)."""

    name = "textcraft"

    def __init__(self, continue_after_done: bool = False) -> None:
        self.continue_after_done = continue_after_done
        self._done = False
        self._tree: CraftingTree = load_tree()
        self._rows = list(load_tasks())  # a list, so a bad index fails with the original's text
        self.task: int | None = None
        self.goal: str | None = None
        self.inventory: dict[str, int] = {}
        self._success = False
        self._last_seen: dict[int, tuple[str, dict[str, int]]] = {}
        self._shown: list[str] = []  # every observation this episode returned (what the agent saw)

    @property
    def tasks(self) -> Sequence[int]:
        return range(N_TASKS)

    def reset(self, task: int) -> str:
        try:
            row = self._rows[task % N_TASKS]
        except Exception as exc:  # the original fails the same way on a non-int data_idx
            raise EnvError(f"{exc}") from exc
        self.task, self.goal = task, row["goal"]
        self.inventory = {}
        self._success = self._done = False
        observation: str = row["observation"]
        self._shown = [observation]
        self._remember(observation)
        return observation

    def step(self, action: str) -> Step:
        if self.goal is None:
            raise EnvError("call reset(task) before step()")
        if self._done and not self.continue_after_done:
            raise EnvError(FINISHED)
        try:
            observation, reward, done = execute(self._tree, self.inventory, self.goal, action)
        except Exception as exc:  # the server answers {"error": str(exc)}
            raise EnvError(f"{exc}") from exc
        self._success = self._success or done
        self._done = done
        self._shown.append(observation)
        self._remember(observation)
        return Step(observation, reward, done, {})

    def available_actions(self) -> list[str]:
        if self.goal is None or (self._done and not self.continue_after_done):
            return []
        return actions_from_text(self._shown)

    def generation_actions(self) -> list[str]:
        """Privileged, for trajectory generation only (its random policy; never for planning): ``inventory``,
        ``get`` for every base ingredient of the goal's recipe tree, one ``craft`` per recipe of the tree
        (a tag ingredient replaced by each member held in enough quantity, else the cheapest; at most 8
        combinations per recipe) and the expert's next action. Keeps ``make data`` byte-identical."""
        if self.goal is None or (self._done and not self.continue_after_done):
            return []
        tree, held = self._tree, self.inventory
        actions = ["inventory"]
        recipes = tree.closure(self.goal)
        for recipe in recipes:
            for ing in recipe.inputs:
                if ing.item_id is not None and not tree.is_craftable(ing.item_id):
                    actions.append(f"get {ing.count} {display(ing.item_id)}")
        for recipe in recipes:
            options: list[list[str]] = []
            for ing in recipe.inputs:
                if ing.item_id is not None:
                    options.append([f"{ing.count} {display(ing.item_id)}"])
                    continue
                members = [m for m in tree.tag_members.get(ing.tag or "", []) if held.get(m, 0) >= ing.count]
                members = members or [Planner(tree, dict(held)).member(ing.tag or "", ing.count, set())]
                options.append([f"{ing.count} {display(m)}" for m in members])
            out = f"craft {recipe.output.count} {display(recipe.output.item_id)} using "
            actions.extend(out + ", ".join(combo) for combo in _product(options, limit=8))
        actions.append(expert_action(self))
        return list(dict.fromkeys(actions))

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only value of ``observation`` for the first observation ``goal`` (module docstring)."""
        return goal_score(goal, observation)

    def is_success(self) -> bool:
        return self._success

    def progress(self, task: int, observation: str) -> float:
        goal = self._rows[task % N_TASKS]["goal"]
        crafted = _CRAFTED.match(observation)
        if crafted and crafted.group(2) == goal:
            return 1.0
        inventory = parse_inventory(observation)
        if inventory is None:
            seen = self._last_seen.get(task)
            if seen is not None and seen[0] == observation:
                inventory = seen[1]
            elif crafted:
                inventory = {crafted.group(2): int(crafted.group(1))}
            elif got := _GOT.match(observation):
                inventory = {to_id(got.group(2)): int(got.group(1))}
            else:
                inventory = {}
        if inventory.get(goal, 0) > 0:
            return 1.0
        remaining = len(plan(self._tree, goal, inventory))
        return PARTIAL_CAP * max(0.0, 1.0 - remaining / _plan_length(self._tree, goal))

    def clone(self) -> TextCraftEnv:
        other = copy.copy(self)
        other.inventory = dict(self.inventory)
        other._last_seen = dict(self._last_seen)
        other._shown = list(self._shown)
        return other

    def _remember(self, observation: str) -> None:
        if self.task is not None:
            self._last_seen[self.task] = (observation, dict(self.inventory))


_COMMAND = re.compile(r"craft (\d+) (.+?) using (.+)\Z")
_INGREDIENT = re.compile(r"(\d+) (.+)\Z")
_NAMED = (re.compile(r"Got \d+ (.+)\Z"), re.compile(r"Crafted -?\d+ (\S+)\Z"))


def _listed(first: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """``(count, output, [(count, ingredient)])`` of every ``craft`` line of a first observation."""
    out = []
    for line in first.splitlines():
        m = _COMMAND.match(line.strip())
        if m:
            ings = [g.groups() for g in (_INGREDIENT.match(p.strip()) for p in m.group(3).split(",")) if g]
            out.append((m.group(1), m.group(2), ings))
    return out


def _named_items(observations: Sequence[str]) -> list[str]:
    """Item names the observations mention (``Got``, ``Crafted``, ``Inventory:`` listings), first seen first."""
    names: dict[str, None] = {}
    for text in observations:
        for pattern in _NAMED:
            m = pattern.match(text)
            if m:
                names[display(m.group(1))] = None
        if text.startswith("Inventory: "):
            names.update((display(to_id(n)), None) for n, _ in _LISTING.findall(text[len("Inventory: ") :]))
    return list(names)


def actions_from_text(observations: Sequence[str]) -> list[str]:
    """Well-formed actions derived from what the agent was shown (first observation first); see the module docstring."""
    if not observations:
        return []
    listed = _listed(observations[0])
    made = {out for _, out, _ in listed}
    seen = _named_items(observations[1:])
    actions = ["inventory"]
    groups = {ing for _, _, ings in listed for _, ing in ings if any(m.endswith(" " + ing) for m in made)}
    actions += [f"get {n} {ing}" for _, _, ings in listed for n, ing in ings if ing not in made and ing not in groups]
    for count, out, ings in listed:
        options = [[f"{n} {ing}"] + [f"{n} {s}" for s in seen if s.endswith(" " + ing) or s == ing[:-1]]
                   for n, ing in ings]
        actions.extend(f"craft {count} {out} using " + ", ".join(combo) for combo in _product(options, limit=8))
    return list(dict.fromkeys(actions))


def goal_score(goal: str, observation: str) -> float:
    """1.0 crafted the goal; 0.5 crafted / 0.25 got an item the goal's listed recipe chain needs; else 0.0."""
    m = re.search(r"Goal: craft (.+?)\.\s*\Z", goal)
    if not m:
        return 0.0
    target = m.group(1).strip()
    listed = {out: [ing for _, ing in ings] for _, out, ings in _listed(goal)}
    needed: set[str] = set()
    stack = [target]
    while stack:
        for ing in listed.get(stack.pop(), []):
            if ing not in needed:
                needed.add(ing)
                stack.append(ing)
    crafted = _NAMED[1].match(observation.strip())
    if crafted:
        name = display(crafted.group(1))
        return 1.0 if name == target else (0.5 if name in needed else 0.0)
    got = _NAMED[0].match(observation.strip())
    return 0.25 if got and got.group(1) in needed else 0.0


def _product(options: list[list[str]], limit: int) -> list[list[str]]:
    """Cartesian product of the per-ingredient choices, at most ``limit`` combinations."""
    combos: list[list[str]] = [[]]
    for choice in options:
        combos = [c + [x] for c in combos for x in choice][:limit]
    return combos


def parse_inventory(observation: str) -> dict[str, int] | None:
    """The inventory an ``Inventory: ...`` observation lists (ids -> counts), else None."""
    if not observation.startswith("Inventory: "):
        return None
    return {to_id(name): int(count) for name, count in _LISTING.findall(observation[len("Inventory: ") :])}


@cache
def _plan_length(tree: CraftingTree, goal: str) -> int:
    """Length of the expert's plan for ``goal`` from an empty inventory (>= 2)."""
    return len(plan(tree, goal, {}))


def expert_action(env: TextCraftEnv) -> str:
    """The expert's next action: the first step of :func:`plan` (``inventory`` when nothing is left)."""
    if env.goal is None:
        raise EnvError("call reset(task) before asking the expert")
    steps = plan(env._tree, env.goal, env.inventory)
    return steps[0] if steps else "inventory"


register("textcraft", TextCraftEnv, expert=expert_action, description=DESCRIPTION)
