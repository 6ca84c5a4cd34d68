"""The ALFWorld engine in pure Python: the shipped PDDL domain's actions and grammar's texts.

Re-implements what TextWorld's ``PddlEnv`` does with ``alfred.pddl`` + ``alfred.twl2``
(alfworld 0.3.3) on problems built like the recordings' (one receptacle per location, the
agent starting at an extra empty location). :class:`World` holds the state;
``admissible()`` enumerates every applicable grounded action as ``{command: action}``
(TextWorld's admissible commands are these keys, sorted); ``apply(command)`` looks the
stripped command up in that table (TextWorld's ``_valid_commands.index``), applies the
action's effects and renders its feedback, or answers ``Nothing happens.``.

Entity lists print in sorted PDDL-id order (:func:`~.alfworld_problem.entity_id`), rendered
``a x 1`` / ``a x 1, and a y 1`` / ``a, b, and c`` / ``nothing`` (twl2:405-419).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from patchworld.envs.alfworld_problem import Problem, entity_id, tables

__all__ = ["World", "NOTHING", "render_list", "goal_reached"]

NOTHING = "Nothing happens."
Action = tuple[str, ...]  # (kind, *names)
KNIVES = frozenset({"Knife", "ButterKnife"})
_EXAMINE_RULES: tuple[tuple[tuple[bool, bool, bool, bool], str], ...] = (  # (clean, hot, cool, sliced) required
    ((True, True, False, True), "This is a hot and clean sliced {}."),
    ((True, False, True, True), "This is a cool and clean sliced {}."),
    ((True, False, False, True), "This is a clean sliced {}."),
    ((False, True, False, True), "This is a hot sliced {}."),
    ((False, False, True, True), "This is a cool sliced {}."),
    ((True, True, False, False), "This is a hot and clean {}."),
    ((True, False, True, False), "This is a cool and clean {}."),
    ((False, True, False, False), "This is a hot {}."),
    ((True, False, False, False), "This is a clean {}."),
    ((False, False, True, False), "This is a cold {}."),
)


def render_list(names: list[str]) -> str:
    """The grammar's list rendering (article always ``a``)."""
    items = [f"a {n}" for n in names]
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


@dataclass
class World:
    """The mutable state of one episode plus the problem's static facts."""

    problem: Problem
    location: str | None = None  # receptacle the agent stands at; None = middle of the room
    holding: str | None = None
    inside: dict[str, str] = field(default_factory=dict)  # object -> receptacle (held objects absent)
    opened: set[str] = field(default_factory=set)
    clean: set[str] = field(default_factory=set)
    hot: set[str] = field(default_factory=set)
    cool: set[str] = field(default_factory=set)
    toggled: set[str] = field(default_factory=set)
    is_on: set[str] = field(default_factory=set)
    sliced: set[str] = field(default_factory=set)
    facts: _Facts | None = field(default=None, repr=False, compare=False)  # static lookups, shared by copies

    @classmethod
    def start(cls, problem: Problem) -> World:
        """The initial state of ``problem``."""
        world = cls(problem)
        world.inside = {o.name: o.inside for o in problem.objects}
        world.opened = {r.name for r in problem.receptacles if r.opened}
        return world

    def copy(self) -> World:
        """An independent copy (the problem is shared; it is immutable)."""
        other = copy.copy(self)
        for name in ("inside", "opened", "clean", "hot", "cool", "toggled", "is_on", "sliced"):
            setattr(other, name, copy.copy(getattr(self, name)))
        return other

    # -- static facts -------------------------------------------------------------------
    def _facts(self) -> _Facts:
        if self.facts is None:
            self.facts = _Facts.of(self.problem)
        return self.facts

    def rtype(self, name: str) -> str:
        return self._facts().rtypes[name]

    def otype(self, name: str) -> str:
        return self._facts().otypes[name]

    def openable(self, rec: str) -> bool:
        return rec in self._facts().openable

    def receptacles(self) -> list[str]:
        """Receptacle names in the engine's list order."""
        return self._facts().order

    def problem_objects(self) -> list[str]:
        """Every object name, held or not."""
        return list(self._facts().otypes)

    def sort_key(self, name: str) -> str:
        """The engine's sort key (lowercased PDDL id) of an object."""
        return self._facts().keys[name]

    def accessible(self, rec: str) -> bool:
        """``(or (not (openable r)) (opened r))``."""
        return not self.openable(rec) or rec in self.opened

    def contents(self, rec: str) -> list[str]:
        """Objects in ``rec`` in the engine's list order."""
        key = self._facts().keys
        return sorted((o for o, r in self.inside.items() if r == rec), key=key.__getitem__)

    # -- texts --------------------------------------------------------------------------
    def examine_receptacle(self, rec: str) -> str:
        if self.openable(rec):
            if rec in self.opened:
                return f"The {rec} is open. In it, you see {render_list(self.contents(rec))}."
            return f"The {rec} is closed."
        return f"On the {rec}, you see {render_list(self.contents(rec))}."

    def examine_object(self, obj: str) -> str:
        """``examineObject.feedback``: the first rule whose condition holds (twl2:111-170)."""
        tab, otype = tables(), self.otype(obj)
        if otype in tab.receptacle_objects:
            return f"This is a normal {obj}. In it, you see nothing."
        flags = (obj in self.clean, obj in self.hot, obj in self.cool, obj in self.sliced)
        for (clean, hot, cool, sliced), text in _EXAMINE_RULES:
            if all(not want or have for want, have in zip((clean, hot, cool, sliced), flags, strict=True)):
                return text.format(obj)
        if otype in tab.toggleable:
            return f"This {obj} is on." if obj in self.toggled else f"This {obj} is off."
        if otype in tab.sliceable and obj in self.sliced:
            return f"This is a sliced {obj}."
        return f"There's nothing special about {obj}."

    def look(self) -> str:
        if self.location is None:
            return "You are in the middle of a room. Looking quickly around you, you see nothing."
        return f"You are facing the {self.location}. Next to it, you see nothing."

    def intro(self) -> str:
        """The engine's intro without the banner, as AgentGym shows it at reset."""
        here = render_list(self.receptacles())
        return (f"You are in the middle of a room. Looking quickly around you, you see {here}.\n"
                f"Your task is to: {self.problem.goal_text}.")

    def inventory(self) -> str:
        if self.holding is None:
            return "You are not carrying anything."
        return f"You are carrying: a {self.holding}."

    # -- actions ------------------------------------------------------------------------
    def admissible(self) -> dict[str, Action]:
        """Every applicable grounded action, keyed by its command (unsorted)."""
        tab = tables()
        here, held = self.location, self.holding
        acts: dict[str, Action] = {}
        for rec in self.receptacles():
            if rec != here:
                acts[f"go to {rec}"] = ("goto", rec)
        if here is not None:
            acts[f"examine {here}"] = ("examine_r", here)
            if self.openable(here):
                if here in self.opened:
                    acts[f"close {here}"] = ("close", here)
                else:
                    acts[f"open {here}"] = ("open", here)
            for obj in self.contents(here):
                otype = self.otype(obj)
                if otype in tab.toggleable:
                    acts[f"use {obj}"] = ("use", obj)
                elif held is None and self.accessible(here):
                    acts[f"take {obj} from {here}"] = ("take", obj, here)
            if held is not None:
                otype, rtype = self.otype(held), self.rtype(here)
                if self.accessible(here) and otype in tab.can_contain.get(rtype, ()):
                    acts[f"put {held} in/on {here}"] = ("put", held, here)
                if rtype == "SinkBasin" and otype in tab.cleanable:
                    acts[f"clean {held} with {here}"] = ("clean", held, here)
                if rtype == "Microwave" and otype in tab.heatable:
                    acts[f"heat {held} with {here}"] = ("heat", held, here)
                if rtype == "Fridge" and otype in tab.coolable:
                    acts[f"cool {held} with {here}"] = ("cool", held, here)
                if otype in KNIVES:  # SliceObject: a sliceable object at this location, closed or not
                    for obj in self.contents(here):
                        if self.otype(obj) in tab.sliceable:
                            acts[f"slice {obj} with {held}"] = ("slice", obj, held)
        if held is not None:
            acts[f"examine {held}"] = ("examine_o", held)
        acts["inventory"] = ("inventory",)
        acts["look"] = ("look",)
        return acts

    def apply(self, command: str) -> str:
        """Execute ``command`` (stripped, as TextWorld does) and return the engine's feedback."""
        action = self.admissible().get(command.strip())
        if action is None:
            return NOTHING
        kind, args = action[0], action[1:]
        if kind == "goto":
            self.location = args[0]
            return self.examine_receptacle(args[0])
        if kind == "open":
            self.opened.add(args[0])
            return f"You open the {args[0]}. " + self.examine_receptacle(args[0])
        if kind == "close":
            self.opened.discard(args[0])
            return f"You close the {args[0]}."
        if kind == "take":
            del self.inside[args[0]]
            self.holding = args[0]
            return f"You pick up the {args[0]} from the {args[1]}."
        if kind == "put":
            self.inside[args[0]] = args[1]
            self.holding = None
            return f"You put the {args[0]} in/on the {args[1]}."
        if kind in ("clean", "heat", "cool"):
            self._process(kind, args[0])
            return f"You {kind} the {args[0]} using the {args[1]}."
        if kind == "use":
            self.toggled.add(args[0])
            self.is_on.symmetric_difference_update({args[0]})
            return f"You turn on the {args[0]}."
        if kind == "slice":
            self.sliced.add(args[0])
            return f"You sliced the {args[0]} with the {args[1]}."
        if kind == "examine_r":
            return self.examine_receptacle(args[0])
        if kind == "examine_o":
            return self.examine_object(args[0])
        if kind == "inventory":
            return self.inventory()
        return self.look()

    def _process(self, kind: str, obj: str) -> None:
        if kind == "clean":
            self.clean.add(obj)
        elif kind == "heat":
            self.hot.add(obj)
            self.cool.discard(obj)
        else:
            self.cool.add(obj)
            self.hot.discard(obj)


def goal_reached(world: World) -> bool:
    """The problem's PDDL goal (existential over types) in the current state."""
    goal, task_type, tab = world.problem.goal, world.problem.task_type, tables()
    if task_type == "look_at_obj_in_light":
        lamp_here = any(world.otype(o) == goal.toggle and world.otype(o) in tab.toggleable and o in world.toggled
                        and world.location is not None and r == world.location for o, r in world.inside.items())
        return lamp_here and world.holding is not None and world.otype(world.holding) == goal.obj
    need = {"pick_clean_then_place_in_recep": (tab.cleanable, world.clean),
            "pick_heat_then_place_in_recep": (tab.heatable, world.hot),
            "pick_cool_then_place_in_recep": (tab.coolable, world.cool)}.get(task_type)
    counts: dict[str, int] = {}
    for obj, rec in world.inside.items():
        if world.otype(obj) != goal.obj or world.rtype(rec) != goal.recep:
            continue
        if need is not None and (goal.obj not in need[0] or obj not in need[1]):
            continue
        counts[rec] = counts.get(rec, 0) + 1
    wanted = 2 if task_type == "pick_two_obj_and_place" else 1
    return any(n >= wanted for n in counts.values())


@dataclass(frozen=True)
class _Facts:
    """Per-problem lookups computed once: types, openables, receptacle order, sort keys."""

    rtypes: dict[str, str]
    otypes: dict[str, str]
    openable: frozenset[str]
    order: list[str]
    keys: dict[str, str]

    @classmethod
    def of(cls, problem: Problem) -> _Facts:
        rtypes = {r.name: r.type for r in problem.receptacles}
        otypes = {o.name: o.type for o in problem.objects}
        return cls(rtypes, otypes, frozenset(r.name for r in problem.receptacles if r.openable),
                   sorted(rtypes, key=lambda n: entity_id(n, rtypes[n])), {o: entity_id(o, t) for o, t in otypes.items()})
