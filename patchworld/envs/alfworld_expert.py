"""A privileged ALFWorld planner: the shortest fetch-process-deliver plan from any state.

Like alfworld's handcoded expert it knows where everything is (closed receptacles too). A
plan is: put down a held object that is not useful (where it may go, opening if needed),
then for each object still needed: go to it, open its receptacle if closed, take it,
clean/heat/cool it at the sink/microwave/fridge if the task asks and it is not yet so, go
to the goal receptacle, open it if closed, put it there. The light task fetches the object
and then goes to the lamp and uses it (or just goes there when the lamp is already on).
Every action costs 1; :func:`plan` tries every target receptacle and object choice and keeps
the shortest (first in sorted order on ties), so along the expert's own actions the plan's
length drops by one per step, which makes :func:`plan`'s length a monotone progress measure.
"""

from __future__ import annotations

from itertools import permutations

from patchworld.envs.alfworld_problem import tables
from patchworld.envs.alfworld_rules import World, goal_reached

__all__ = ["plan", "expert_command"]

_PROCESS = {"pick_clean_then_place_in_recep": ("clean", "SinkBasin"),
            "pick_heat_then_place_in_recep": ("heat", "Microwave"),
            "pick_cool_then_place_in_recep": ("cool", "Fridge")}


class _Sim:
    """Tracks location / opened / holding while a candidate plan is written."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.here = world.location
        self.opened = set(world.opened)
        self.holding = world.holding
        self.steps: list[str] = []

    def go(self, rec: str) -> None:
        if self.here != rec:
            self.steps.append(f"go to {rec}")
            self.here = rec

    def access(self, rec: str) -> None:
        if self.world.openable(rec) and rec not in self.opened:
            self.steps.append(f"open {rec}")
            self.opened.add(rec)

    def take(self, obj: str, rec: str) -> None:
        self.go(rec)
        self.access(rec)
        self.steps.append(f"take {obj} from {rec}")
        self.holding = obj

    def put(self, obj: str, rec: str) -> None:
        self.go(rec)
        self.access(rec)
        self.steps.append(f"put {obj} in/on {rec}")
        self.holding = None


def _done_processing(world: World, obj: str) -> bool:
    kind = _PROCESS.get(world.problem.task_type)
    if kind is None:
        return True
    return obj in {"clean": world.clean, "heat": world.hot, "cool": world.cool}[kind[0]]


def _stations(world: World, rtype: str) -> list[str]:
    return [r for r in world.receptacles() if world.rtype(r) == rtype]


def _drop_plans(world: World) -> list[_Sim]:
    """Ways to empty the hands of a useless object (every receptacle that can hold it)."""
    sims = []
    if world.holding is None:
        return [_Sim(world)]
    can = tables().can_contain
    for rec in world.receptacles():
        if world.otype(world.holding) in can.get(world.rtype(rec), ()):
            sim = _Sim(world)
            sim.put(world.holding, rec)
            sims.append(sim)
    return sims


def _deliver(sim: _Sim, obj: str, target: str) -> None:
    world = sim.world
    if sim.holding != obj:
        sim.take(obj, world.inside[obj])
    kind = _PROCESS.get(world.problem.task_type)
    if kind is not None and not _done_processing(world, obj):
        stations = _stations(world, kind[1])
        station = sim.here if sim.here in stations else stations[0]
        sim.go(station)
        sim.steps.append(f"{kind[0]} {obj} with {station}")
    sim.put(obj, target)


def _candidates(world: World) -> list[str]:
    goal = world.problem.goal
    return sorted((o for o in world.problem_objects() if world.otype(o) == goal.obj), key=world.sort_key)


def _place_plans(world: World) -> list[list[str]]:
    goal, task_type, can = world.problem.goal, world.problem.task_type, tables().can_contain
    if goal.obj not in can.get(goal.recep or "", ()):
        return []
    if task_type in _PROCESS and goal.obj not in getattr(tables(), _PROCESS[task_type][0] + "able"):
        return []
    if task_type in _PROCESS and not _stations(world, _PROCESS[task_type][1]):
        return []
    need = 2 if task_type == "pick_two_obj_and_place" else 1
    plans = []
    for target in (r for r in world.receptacles() if world.rtype(r) == goal.recep):
        done = [o for o in _candidates(world) if world.inside.get(o) == target and _done_processing(world, o)]
        todo = [o for o in _candidates(world) if o not in done]
        for chosen in permutations(todo, max(0, need - len(done))):
            holding_useful = world.holding in chosen
            starts = [_Sim(world)] if holding_useful or world.holding is None else _drop_plans(world)
            if holding_useful and chosen[0] != world.holding:
                continue  # deliver what is in hand first
            for sim in starts:
                for obj in chosen:
                    _deliver(sim, obj, target)
                plans.append(sim.steps)
    return plans


def _light_plans(world: World) -> list[list[str]]:
    goal, tab = world.problem.goal, tables()
    lamps = [o for o in world.problem_objects() if world.otype(o) == goal.toggle and goal.toggle in tab.toggleable]
    plans = []
    for lamp in sorted(lamps, key=world.sort_key):
        spot = world.inside[lamp]
        for obj in _candidates(world):
            starts = [_Sim(world)] if world.holding in (obj, None) else _drop_plans(world)
            for sim in starts:
                if sim.holding != obj:
                    sim.take(obj, world.inside[obj])
                sim.go(spot)
                if lamp not in world.toggled:
                    sim.steps.append(f"use {lamp}")
                plans.append(sim.steps)
    return plans


def plan(world: World) -> list[str]:
    """The shortest plan to the goal from ``world`` ([] when the goal holds or none exists)."""
    if goal_reached(world):
        return []
    plans = _light_plans(world) if world.problem.task_type == "look_at_obj_in_light" else _place_plans(world)
    return min(plans, key=len) if plans else []


def expert_command(world: World) -> str:
    """The first action of :func:`plan` (``look`` when there is nothing to do)."""
    steps = plan(world)
    return steps[0] if steps else "look"
