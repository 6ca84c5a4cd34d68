"""TextCraft game rules: the recipe graph, the server's action semantics, a crafting planner.

Everything here is driven by ``data/envs/textcraft/crafting_tree.json`` (the recipe graph the
original builds from its 860 recipe files in sorted file order) and ``tasks.jsonl`` (the exact
initial observation of each of the 544 tasks); see ``shared/envspecs/textcraft.md``.
:func:`execute` mirrors ``agentenv_textcraft/environment.py`` (``TextCraftEnv.step``) line for
line, including its error texts. :class:`Planner` / :func:`plan` are our own addition
(the expert policy and ``progress``). Nothing here is random.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "textcraft"
PREFIX = "minecraft:"
_ACTION_REGEXES = (("craft", r"craft (.*) using (.*)"), ("get", r"get ([0-9]+) (.*)"), ("inventory", r"inventory"))
_COUNT_REGEX = r"([0-9]+) (.*)"
T = TypeVar("T")


class ActionFailed(Exception):
    """A refused action; its message is the observation the server returns (as upstream)."""


@dataclass(frozen=True)
class Ingredient:
    """An item (``item_id``) or a tag (``tag``) with a count, as in upstream ``ItemTagWithCount``."""

    item_id: str | None
    tag: str | None
    count: int

    @property
    def name(self) -> str:
        """The item id, else the tag (upstream ``ItemTag.name``)."""
        return self.item_id or self.tag or ""


@dataclass(frozen=True)
class Recipe:
    """One recipe: ingredients in order, the output (item id, group tag, count), its command text."""

    inputs: tuple[Ingredient, ...]
    output: Ingredient
    text: str


def display(name: str | None) -> str:
    """Display name of an id or tag: drop every ``minecraft:``, ``_`` -> space (upstream ``item_id_to_str``)."""
    return str(name).replace(PREFIX, "").replace("_", " ")


def to_id(text: str) -> str:
    """The id (or tag) an agent-typed name denotes: ``minecraft:`` + text with spaces -> ``_``."""
    return PREFIX + text.replace(" ", "_")


class CraftingTree:
    """The recipe graph loaded from ``crafting_tree.json`` (read-only after loading)."""

    def __init__(self, raw: dict) -> None:
        def recipe(r: dict) -> Recipe:
            ins = tuple(Ingredient(i["item_id"], i["tag"], int(i["count"])) for i in r["inputs"])
            out = r["output"]
            return Recipe(ins, Ingredient(out["item_id"], out["tag"], int(out["count"])), r["recipe_str"])

        self.itemid_recipes: dict[str, list[Recipe]] = {k: [recipe(r) for r in v] for k, v in raw["itemid_recipes"].items()}
        self.tag_recipes: dict[str, list[Recipe]] = {k: [recipe(r) for r in v] for k, v in raw["tag_recipes"].items()}
        self.tag_set = frozenset(raw["tag_set"])
        self.itemid_set = frozenset(raw["itemid_set"])
        self.item_id_to_tag: dict[str, str] = dict(raw["item_id_to_tag"])
        self.goal_pool: list[str] = [g for g, _depth in raw["goal_pool"]]
        self.tag_members: dict[str, list[str]] = {}
        for item, tag in self.item_id_to_tag.items():
            self.tag_members.setdefault(tag, []).append(item)
        self._cost: dict[str, float] = {}
        self._closure: dict[str, list[Recipe]] = {}

    # -- upstream predicates -------------------------------------------------------------
    def is_craftable(self, name: str | None) -> bool:
        return name in self.itemid_recipes or name in self.tag_recipes

    def recipes_for(self, name: str) -> list[Recipe]:
        """A name's recipes: its ``itemid_recipes`` entry, else its ``tag_recipes`` entry."""
        return self.itemid_recipes.get(name) or self.tag_recipes.get(name) or []

    def parse(self, text: str) -> Ingredient:
        """Upstream ``item_str_to_obj``: a tag if the id is in ``tag_set``, else an item id (count 0)."""
        name = to_id(text)
        return Ingredient(None, name, 0) if name in self.tag_set else Ingredient(name, None, 0)

    def craft(self, output_id: str | None, listed: list[Ingredient]) -> Ingredient | None:
        """Upstream ``CraftingTree.craft``: the output of the first recipe the listed items match."""
        if output_id not in self.itemid_recipes:
            return None
        for recipe in self.itemid_recipes[output_id]:
            rest = list(listed)
            ok = True
            for want in recipe.inputs:
                found = self._find_matching(want, rest)
                if found is None or rest[found].count != want.count:
                    ok = False
                    break
                del rest[found]
            if ok and not rest:
                return recipe.output
        return None

    def _find_matching(self, want: Ingredient, listed: list[Ingredient]) -> int | None:
        for i, got in enumerate(listed):
            if want.item_id is not None:
                if got.item_id == want.item_id:
                    return i
            elif want.tag is not None and (got.tag == want.tag or self.item_id_to_tag.get(got.item_id or "") == want.tag):
                return i
        return None

    # -- planning (ours) -----------------------------------------------------------------
    def closure(self, goal: str) -> list[Recipe]:
        """All recipes in ``goal``'s recipe tree (first-seen order, no duplicates)."""
        if goal not in self._closure:
            seen: dict[str, None] = {}
            out: dict[int, Recipe] = {}
            stack = [goal]
            while stack:
                name = stack.pop(0)
                if name in seen:
                    continue
                seen[name] = None
                for r in self.recipes_for(name):
                    out.setdefault(id(r), r)
                    stack.extend(i.name for i in r.inputs)
            self._closure[goal] = list(out.values())
        return self._closure[goal]


@lru_cache(maxsize=1)
def load_tree() -> CraftingTree:
    """The shared, read-only recipe graph."""
    path = DATA_DIR / "crafting_tree.json"
    return CraftingTree(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def load_tasks() -> tuple[dict, ...]:
    """The 544 rows of ``tasks.jsonl`` (``data_idx``, ``goal``, ``depth``, ``observation``), by index."""
    path = DATA_DIR / "tasks.jsonl"
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        if row.get("data_idx") != n - 1 or not isinstance(row.get("observation"), str):
            raise ValueError(f"{path}:{n}: expected data_idx {n - 1} with an observation string")
        rows.append(row)
    return tuple(rows)


def execute(tree: CraftingTree, inventory: dict[str, int], goal: str, action: str) -> tuple[str, int, bool]:
    """One server step: mutate ``inventory`` and return (observation, reward, done) like upstream.

    Exceptions other than the game's own refusals propagate (the server turns them into
    ``{"error": str(exc)}``; the env raises ``EnvError`` with that text).
    """
    observation = None
    reward, done = 0, False
    try:
        for kind, regex in _ACTION_REGEXES:
            match = re.match(regex, action)
            if not match:
                continue
            if kind == "craft":
                observation, reward, done = _craft(tree, inventory, goal, match.group(1), match.group(2))
            elif kind == "get":
                observation, reward, done = _get(tree, inventory, goal, match.group(2), int(match.group(1)))
            else:
                observation = "Inventory: "
                if not inventory:
                    observation += "You are not carrying anything."
                for item, amt in inventory.items():
                    observation += f"[{display(item)}] ({amt}) "
        if observation is None:
            raise ActionFailed(f"Could not execute {action}")
    except ActionFailed as exc:
        return str(exc.args[0]), 0, False
    return observation, reward, done


def _get(tree: CraftingTree, inventory: dict[str, int], goal: str, text: str, amt: int) -> tuple[str, int, bool]:
    item = tree.parse(text)
    if tree.is_craftable(item.name) or item.item_id in tree.tag_set or item.item_id is None:
        raise ActionFailed(f"Could not find {text}")
    if item.item_id not in tree.itemid_set:
        raise ActionFailed(f"Could not find {text}")
    inventory[item.item_id] = inventory.get(item.item_id, 0) + amt
    done = item.item_id == goal
    return f"Got {amt} {text}", int(done), done


def _craft(tree: CraftingTree, inventory: dict[str, int], goal: str, out_text: str, in_text: str) -> tuple[str, int, bool]:
    m = re.match(_COUNT_REGEX, out_text)
    out = tree.parse(m.group(2)) if m else tree.parse(out_text)
    out_count = int(m.group(1)) if m else 1
    listed: list[Ingredient] = []
    for piece in in_text.split(","):
        pm = re.match(_COUNT_REGEX, piece.strip())
        if not pm:
            raise ActionFailed(f"Wrong item format: {piece.strip()}")
        parsed = tree.parse(pm.group(2))
        listed.append(Ingredient(parsed.item_id, parsed.tag, int(pm.group(1))))
    for ing in listed:
        if ing.item_id not in inventory or inventory[ing.item_id] < ing.count:
            raise ActionFailed(f"Could not find enough items to craft {out.item_id}")
    made = tree.craft(out.item_id, listed)
    if made is None:
        raise ActionFailed(
            "Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag("
            f"tag={out.tag!r}, item_id={out.item_id!r}), count={out_count!r})"
        )
    for ing in listed:
        inventory[ing.item_id] -= ing.count  # type: ignore[index]  # KeyError as upstream if deleted
        if inventory[ing.item_id] == 0:  # type: ignore[index]
            del inventory[ing.item_id]  # type: ignore[arg-type]
    inventory[made.item_id] = inventory.get(made.item_id, 0) + made.count  # type: ignore[index]
    done = made.item_id == goal
    return f"Crafted {made.count} {made.item_id}", int(done), done


@dataclass
class Planner:
    """Greedy crafting planner over a simulated inventory (ours; drives the expert and ``progress``).

    ``require(item, n)`` appends the ``get``s and bottom-up ``craft``s that bring ``n`` of ``item``
    into the simulated inventory, reserving what each craft consumes. Where there is a choice (an
    item with several recipes, a tag with several members) it takes the option whose sub-plan
    from the current simulated inventory is shortest, the first on ties.
    """

    tree: CraftingTree
    sim: dict[str, int]
    gets: dict[str, int] = field(default_factory=dict)
    crafts: list[str] = field(default_factory=list)

    def fork(self) -> Planner:
        return Planner(self.tree, dict(self.sim), dict(self.gets), list(self.crafts))

    def length(self) -> int:
        """Actions planned so far (one ``get`` per item, each craft batch)."""
        return len(self.gets) + len(self.crafts)

    def actions(self) -> list[str]:
        return [f"get {n} {display(item)}" for item, n in self.gets.items()] + self.crafts

    def require(self, item: str, count: int, visiting: frozenset[str] = frozenset()) -> None:
        have = self.sim.get(item, 0)
        if have >= count:
            return
        missing = count - max(have, 0)
        if item not in self.tree.itemid_recipes:
            self.gets[item] = self.gets.get(item, 0) + missing
            self.sim[item] = have + missing
            return
        if item in visiting:
            raise ValueError(f"recipe cycle through {item}")
        recipes = self.tree.itemid_recipes[item]
        self._make(item, self._cheapest(recipes, lambda t, r: t._make(item, r, missing, visiting)), missing, visiting)

    def member(self, tag: str, need: int, avoid: set[str], visiting: frozenset[str] = frozenset()) -> str:
        """The member of ``tag`` whose ``need`` units are quickest to have (held ones cost 0)."""
        members = [m for m in self.tree.tag_members.get(tag, []) if m not in avoid]
        return self._cheapest(members, lambda t, m: t.require(m, need, visiting))

    def _cheapest(self, options: list[T], trial: Callable[[Planner, T], None]) -> T:
        if len(options) == 1:
            return options[0]
        scores = []
        for option in options:
            probe = self.fork()
            trial(probe, option)
            scores.append(probe.length())
        return options[scores.index(min(scores))]

    def _make(self, item: str, recipe: Recipe, missing: int, visiting: frozenset[str]) -> None:
        batches = math.ceil(missing / recipe.output.count)
        parts: list[str] = []
        used: set[str] = set()
        inner = visiting | {item}
        for ing in recipe.inputs:
            need = ing.count * batches
            concrete = ing.item_id or self.member(ing.tag or "", need, used, inner)
            used.add(concrete)
            self.require(concrete, need, inner)
            self.sim[concrete] = self.sim.get(concrete, 0) - need  # reserved for this craft
            parts.append(f"{ing.count} {display(concrete)}")
        self.sim[item] = self.sim.get(item, 0) + recipe.output.count * batches
        self.crafts.extend([f"craft {recipe.output.count} {display(item)} using {', '.join(parts)}"] * batches)


def plan(tree: CraftingTree, goal: str, inventory: dict[str, int]) -> list[str]:
    """Actions that craft ``goal`` from ``inventory``: all ``get``s first, then crafts bottom-up.

    Empty when the goal is already held.
    """
    planner = Planner(tree, dict(inventory))
    if planner.sim.get(goal, 0) <= 0:
        planner.require(goal, 1)
    return planner.actions()
