"""ALFWorld problems as data: the ``problems.jsonl`` format, its validation, and its PDDL.

A problem (``shared/envspecs/alfworld.md`` section 7) is one JSON object per line: task type,
receptacles (``name``, ``type``, ``openable``, optional ``opened``), objects (``name``,
``type``, ``in``), goal (``obj``, ``recep`` or ``toggle``, ``template``) and ``goal_text``.
The task id of a problem is its index among the file's non-blank lines. Object flags
(cleanable, heatable, ...) come from the object type via ``object_properties.json``, as in
the original generator.

:func:`entity_id` gives the lowercased PDDL id the original engine sorts by (every list it
prints is in sorted-id order, and ``n`` is encoded as ``100 - n``, so ``cabinet 2`` sorts
before ``cabinet 1``). :func:`to_pddl` writes the exact PDDL problem the recordings fed to
the engine (tested byte for byte against the shipped problems), so generated problems can
be played by the original engine too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR", "PROBLEMS_FILE", "TASK_TYPES", "PLACE_TASKS", "ProblemFormatError", "Receptacle", "Thing", "Goal",
    "Problem", "Tables", "tables", "entity_id", "pddl_id", "load_problems", "parse_problem", "problem_to_dict",
    "to_pddl", "goal_text",
]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "alfworld"
PROBLEMS_FILE = DATA_DIR / "problems.jsonl"
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple", "look_at_obj_in_light", "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep", "pick_cool_then_place_in_recep", "pick_two_obj_and_place",
)
PLACE_TASKS = frozenset(TASK_TYPES) - {"look_at_obj_in_light"}
_NAME = re.compile(r"^([a-z]+) ([1-9][0-9]?)$")
_TYPE = re.compile(r"^[A-Za-z]+$")


class ProblemFormatError(ValueError):
    """A problems file is malformed; the message names file, line and field."""

    def __init__(self, path: str, line: int, field_name: str, problem: str) -> None:
        self.path, self.line, self.field = path, line, field_name
        super().__init__(f"{path}:{line}: field '{field_name}': {problem}")


@dataclass(frozen=True)
class Receptacle:
    """A piece of furniture: ``name`` like ``cabinet 1``, its type, whether it opens and starts open."""

    name: str
    type: str
    openable: bool
    opened: bool = False


@dataclass(frozen=True)
class Thing:
    """A portable (or toggleable) object and the receptacle it starts in."""

    name: str
    type: str
    inside: str


@dataclass(frozen=True)
class Goal:
    """Goal object type, goal receptacle type (place tasks) or lamp type (light task), template index."""

    obj: str
    recep: str | None = None
    toggle: str | None = None
    template: int = 0


@dataclass(frozen=True)
class Problem:
    """One playable problem (see the module docstring)."""

    id: str
    task_type: str
    receptacles: tuple[Receptacle, ...]
    objects: tuple[Thing, ...]
    goal: Goal
    goal_text: str


@dataclass(frozen=True)
class Tables:
    """The per-type tables of ``object_properties.json`` and the goal templates."""

    can_contain: dict[str, frozenset[str]]
    cleanable: frozenset[str]
    heatable: frozenset[str]
    coolable: frozenset[str]
    toggleable: frozenset[str]
    sliceable: frozenset[str]
    receptacle_objects: frozenset[str]
    openable: frozenset[str]
    templates: dict[str, tuple[str, ...]]
    pddl_goals: dict[str, str]

    def flags(self, otype: str) -> list[str]:
        """The PDDL flags of an object type, in the order the generator writes them."""
        out = [] if otype in self.toggleable else ["pickupable"]
        for flag, members in (("cleanable", self.cleanable), ("heatable", self.heatable),
                              ("coolable", self.coolable), ("toggleable", self.toggleable),
                              ("sliceable", self.sliceable), ("isReceptacleObject", self.receptacle_objects)):
            if otype in members:
                out.append(flag)
        return out


@lru_cache(maxsize=1)
def tables() -> Tables:
    """The shipped tables (read once)."""
    props = json.loads((DATA_DIR / "object_properties.json").read_text(encoding="utf-8"))
    goals = json.loads((DATA_DIR / "goal_templates.json").read_text(encoding="utf-8"))
    return Tables(
        can_contain={k: frozenset(v) for k, v in props["can_contain"].items()},
        cleanable=frozenset(props["cleanable"]), heatable=frozenset(props["heatable"]),
        coolable=frozenset(props["coolable"]), toggleable=frozenset(props["toggleable"]),
        sliceable=frozenset(props["sliceable"]), receptacle_objects=frozenset(props["receptacle_objects"]),
        openable=frozenset(props["openable_receptacle_types"]),
        templates={k: tuple(v["templates"]) for k, v in goals.items()},
        pddl_goals={k: v["pddl_goal"] for k, v in goals.items()},
    )


def pddl_id(name: str, type_: str) -> str:
    """The PDDL id the generator gives an entity: ``Cabinet_bar_098`` for ``cabinet 2``."""
    number = 100 - int(name.rsplit(" ", 1)[1])
    if type_.endswith("Basin"):
        return f"{type_[:-5]}_bar_{number:03d}_bar_{type_}"
    return f"{type_}_bar_{number:03d}"


def entity_id(name: str, type_: str) -> str:
    """The lowercased id the engine sorts entities by (lists print in this order)."""
    return pddl_id(name, type_).lower()


def goal_text(task_type: str, goal: Goal) -> str:
    """The goal sentence's template filled with lowercased type names."""
    template = tables().templates[task_type][goal.template]
    return template.format(obj=goal.obj.lower(), recep=(goal.recep or "").lower(), toggle=(goal.toggle or "").lower())


def _need(cond: bool, path: str, line: int, field_name: str, problem: str) -> None:
    if not cond:
        raise ProblemFormatError(path, line, field_name, problem)


def _check_name(value: Any, type_: str, path: str, line: int, field_name: str) -> str:
    _need(isinstance(value, str) and _NAME.match(value) is not None, path, line, field_name,
          f"expected '<type lowercased> <n>' with n in 1..99, got {value!r}")
    _need(value.split(" ")[0] == type_.lower(), path, line, field_name,
          f"name {value!r} does not match type {type_!r} (expected '{type_.lower()} <n>')")
    return value


def parse_problem(raw: Any, path: str = "<problem>", line: int = 1) -> Problem:
    """Validate one decoded JSON problem; errors name the file, line and field."""
    _need(isinstance(raw, dict), path, line, "<line>", "expected a JSON object")
    task_type = raw.get("task_type")
    _need(task_type in TASK_TYPES, path, line, "task_type", f"expected one of {', '.join(TASK_TYPES)}, got {task_type!r}")
    recs_raw, objs_raw = raw.get("receptacles"), raw.get("objects")
    _need(isinstance(recs_raw, list) and len(recs_raw) > 0, path, line, "receptacles", "expected a non-empty list")
    _need(isinstance(objs_raw, list) and len(objs_raw) > 0, path, line, "objects", "expected a non-empty list")
    receptacles: list[Receptacle] = []
    for i, rec in enumerate(recs_raw):
        where = f"receptacles[{i}]"
        _need(isinstance(rec, dict), path, line, where, "expected an object")
        rtype = rec.get("type")
        _need(isinstance(rtype, str) and _TYPE.match(rtype) is not None, path, line, f"{where}.type",
              f"expected a type name like 'Cabinet', got {rtype!r}")
        name = _check_name(rec.get("name"), rtype, path, line, f"{where}.name")
        openable = rec.get("openable", rtype in tables().openable)
        opened = rec.get("opened", False)
        _need(isinstance(openable, bool), path, line, f"{where}.openable", f"expected true or false, got {openable!r}")
        _need(isinstance(opened, bool) and (openable or not opened), path, line, f"{where}.opened",
              f"expected true or false (true only for an openable receptacle), got {opened!r}")
        receptacles.append(Receptacle(name, rtype, openable, opened))
    rec_names = [r.name for r in receptacles]
    _need(len(set(rec_names)) == len(rec_names), path, line, "receptacles", "receptacle names must be distinct")
    things: list[Thing] = []
    for i, obj in enumerate(objs_raw):
        where = f"objects[{i}]"
        _need(isinstance(obj, dict), path, line, where, "expected an object")
        otype = obj.get("type")
        _need(isinstance(otype, str) and _TYPE.match(otype) is not None, path, line, f"{where}.type",
              f"expected a type name like 'Apple', got {otype!r}")
        name = _check_name(obj.get("name"), otype, path, line, f"{where}.name")
        _need(obj.get("in") in rec_names, path, line, f"{where}.in", f"expected a receptacle name, got {obj.get('in')!r}")
        things.append(Thing(name, otype, obj["in"]))
    names = rec_names + [t.name for t in things]
    _need(len(set(names)) == len(names), path, line, "objects", "object names must be distinct from each other and "
          "from receptacle names")
    numbers: dict[str, list[int]] = {}
    for entity in (*receptacles, *things):
        numbers.setdefault(entity.type, []).append(int(entity.name.rsplit(" ", 1)[1]))
    for type_, got in numbers.items():
        _need(sorted(got) == list(range(1, len(got) + 1)), path, line, "objects" if type_ in {t.type for t in things}
              else "receptacles", f"{type_} instances must be numbered 1..{len(got)}, got {sorted(got)}")
    goal = _parse_goal(raw.get("goal"), task_type, path, line)
    _check_reachable(task_type, goal, receptacles, things, path, line)
    text = raw.get("goal_text", goal_text(task_type, goal))
    _need(isinstance(text, str) and text.strip() != "", path, line, "goal_text", f"expected a sentence, got {text!r}")
    pid = raw.get("id", f"problem_{line}")
    _need(isinstance(pid, str) and pid != "" and "/" not in pid, path, line, "id", f"expected a name, got {pid!r}")
    return Problem(pid, task_type, tuple(receptacles), tuple(things), goal, text)


def _parse_goal(raw: Any, task_type: str, path: str, line: int) -> Goal:
    _need(isinstance(raw, dict), path, line, "goal", "expected an object with obj, recep/toggle and template")
    obj, template = raw.get("obj"), raw.get("template", 0)
    _need(isinstance(obj, str) and _TYPE.match(obj) is not None, path, line, "goal.obj", f"expected a type, got {obj!r}")
    _need(template in (0, 1) and not isinstance(template, bool), path, line, "goal.template",
          f"expected 0 or 1, got {template!r}")
    key = "recep" if task_type in PLACE_TASKS else "toggle"
    value = raw.get(key)
    _need(isinstance(value, str) and _TYPE.match(value) is not None, path, line, f"goal.{key}",
          f"expected a type for task type {task_type}, got {value!r}")
    return Goal(obj, recep=value, template=template) if key == "recep" else Goal(obj, toggle=value, template=template)


def _check_reachable(task_type: str, goal: Goal, recs: list[Receptacle], things: list[Thing], path: str,
                     line: int) -> None:
    """Refuse a goal that can never hold (the original engine's planner fails to load such a problem)."""
    tab = tables()
    rtypes, otypes = {r.type for r in recs}, [t.type for t in things]
    need = 2 if task_type == "pick_two_obj_and_place" else 1
    _need(otypes.count(goal.obj) >= need, path, line, "goal.obj", f"the problem has fewer than {need} {goal.obj}")
    if task_type == "look_at_obj_in_light":
        _need(goal.toggle in tab.toggleable and goal.toggle in otypes, path, line, "goal.toggle",
              f"no toggleable {goal.toggle} object in the problem")
        return
    _need(goal.recep in rtypes and goal.obj in tab.can_contain.get(goal.recep or "", ()), path, line, "goal.recep",
          f"no {goal.recep} receptacle that can hold a {goal.obj} (object_properties.json can_contain)")
    station, flag = {"pick_clean_then_place_in_recep": ("SinkBasin", tab.cleanable),
                     "pick_heat_then_place_in_recep": ("Microwave", tab.heatable),
                     "pick_cool_then_place_in_recep": ("Fridge", tab.coolable)}.get(task_type, (None, None))
    if station is not None:
        _need(station in rtypes and goal.obj in (flag or ()), path, line, "goal.obj",
              f"{task_type} needs a {station} and a {goal.obj} that it can process")


def load_problems(path: str | Path = PROBLEMS_FILE) -> list[Problem]:
    """Read and validate a problems file (one JSON object per non-blank line)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemFormatError(str(path), 0, "<file>", f"cannot read: {exc}") from exc
    problems = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProblemFormatError(str(path), number, "<line>", f"not valid JSON: {exc.msg}") from exc
        problems.append(parse_problem(raw, str(path), number))
    if not problems:
        raise ProblemFormatError(str(path), 0, "<file>", "no problems in the file")
    return problems


def problem_to_dict(problem: Problem, task: int) -> dict[str, Any]:
    """The JSON line for ``problem`` as task ``task`` (with its PDDL), in the spec's key order."""
    goal: dict[str, Any] = {"obj": problem.goal.obj}
    goal.update({"recep": problem.goal.recep} if problem.goal.recep else {"toggle": problem.goal.toggle})
    goal["template"] = problem.goal.template
    recs = []
    for r in problem.receptacles:
        recs.append({"name": r.name, "type": r.type, "openable": r.openable, **({"opened": True} if r.opened else {})})
    return {
        "task": task, "id": problem.id, "task_type": problem.task_type, "receptacles": recs,
        "objects": [{"name": o.name, "type": o.type, "in": o.inside} for o in problem.objects],
        "goal": goal, "goal_text": problem.goal_text, "pddl_problem": to_pddl(problem),
    }


def to_pddl(problem: Problem) -> str:
    """The PDDL problem the original engine plays for ``problem`` (the recordings' construction)."""
    tab = tables()
    recs, objs = problem.receptacles, problem.objects
    otypes, rtypes = sorted({o.type for o in objs}), sorted({r.type for r in recs})
    loc = {r.name: f"loc_bar_{i}_bar_1_bar_0_bar_30" for i, r in enumerate(recs, start=1)}
    rid = {r.name: pddl_id(r.name, r.type) for r in recs}
    head = [f"(define (problem {problem.id})", "    (:domain alfred)", "    (:objects", "        agent1 - agent"]
    head += [f"        {t}Type - otype" for t in otypes] + [f"        {t}Type - rtype" for t in rtypes]
    head += [f"        {pddl_id(o.name, o.type)} - object" for o in objs]
    head += [f"        {rid[r.name]} - receptacle" for r in recs]
    head += [f"        {loc[r.name]} - location" for r in recs]
    head += ["        loc_bar_0_bar_0_bar_0_bar_30 - location", "        )", "    (:init",
             "        (atLocation agent1 loc_bar_0_bar_0_bar_0_bar_30)"]
    for r in recs:
        head += [f"        (receptacleType {rid[r.name]} {r.type}Type)",
                 f"        (receptacleAtLocation {rid[r.name]} {loc[r.name]})"]
        head += [f"        (openable {rid[r.name]})"] * r.openable + [f"        (opened {rid[r.name]})"] * r.opened
    for rt in rtypes:
        head += [f"        (canContain {rt}Type {ot}Type)" for ot in otypes if ot in tab.can_contain.get(rt, ())]
    for o in objs:
        oid = pddl_id(o.name, o.type)
        head += [f"        (objectType {oid} {o.type}Type)", f"        (inReceptacle {oid} {rid[o.inside]})",
                 f"        (objectAtLocation {oid} {loc[o.inside]})"]
        head += [f"        ({flag} {oid})" for flag in tab.flags(o.type)]
    head.append("        )")
    goal = problem.goal
    fill = {"obj": goal.obj, "recep": goal.recep or "", "toggle": goal.toggle or ""}
    return "\n".join(head) + "\n" + tab.pddl_goals[problem.task_type].format(**fill) + "\n"
