"""Seeded generator of solvable ALFWorld problems (all six task types), with expert solutions.

Rooms come from ``data/envs/alfworld/rooms.json`` (receptacle types with count ranges, the
object types that live there, where a desk lamp may stand); what may go where comes from
``object_properties.json`` (``can_contain``), what may be cleaned/heated/cooled from its
per-type flags. Problem ``i`` of a set gets task type ``TASK_TYPES[i % 6]`` so every type
appears; the room, goal, object counts and placements, opened receptacles and goal
template are drawn from ``random.Random(f"alfworld-gen-{seed}-{i}")``. A draw is kept only
if the goal does not hold at reset and the privileged expert (:mod:`.alfworld_expert`)
solves it within 50 steps on this engine; its plan is stored as ``solution``.

:func:`problem_set` is the env's task list for a seed: the 21 recorded problems (tasks
0-20, so the golden episodes keep their ids) followed by generated ones. The shipped
``data/envs/alfworld/problems.jsonl`` is ``problem_set(0)`` (tested byte for byte);
rewrite it with ``python -m patchworld.envs.alfworld_gen --seed 0 --out PATH``.
"""

from __future__ import annotations

import argparse
import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

from patchworld.envs.alfworld_expert import plan
from patchworld.envs.alfworld_problem import (
    DATA_DIR,
    PLACE_TASKS,
    TASK_TYPES,
    Goal,
    Problem,
    Receptacle,
    Thing,
    goal_text,
    load_problems,
    problem_to_dict,
    tables,
)
from patchworld.envs.alfworld_rules import World, goal_reached

__all__ = ["generate_problem", "generate_problems", "problem_set", "write_problem_set", "DEFAULT_SET_SIZE"]

RECORDED_FILE = DATA_DIR / "recorded_problems.jsonl"
DEFAULT_SET_SIZE = 100
_STATION = {"pick_clean_then_place_in_recep": "SinkBasin", "pick_heat_then_place_in_recep": "Microwave",
            "pick_cool_then_place_in_recep": "Fridge"}
_NEEDS = {"pick_clean_then_place_in_recep": "cleanable", "pick_heat_then_place_in_recep": "heatable",
          "pick_cool_then_place_in_recep": "coolable"}
LAMP = "DeskLamp"


@lru_cache(maxsize=1)
def _rooms() -> dict[str, dict[str, Any]]:
    return json.loads((DATA_DIR / "rooms.json").read_text(encoding="utf-8"))


def _rooms_for(task_type: str) -> list[str]:
    rooms = []
    for name, room in _rooms().items():
        types = {t for t, _, _ in room["receptacles"]}
        if task_type in _STATION and _STATION[task_type] not in types:
            continue
        if task_type == "look_at_obj_in_light" and not room["lamp_on"]:
            continue
        rooms.append(name)
    return rooms


def _goal_options(task_type: str, room: dict[str, Any]) -> list[tuple[str, str]]:
    """(object type, goal receptacle type) pairs that make a playable goal in ``room``."""
    tab = tables()
    rtypes = [t for t, _, _ in room["receptacles"]]
    options = []
    for otype in room["objects"]:
        if task_type in _NEEDS and otype not in getattr(tab, _NEEDS[task_type]):
            continue
        homes = [rt for rt in rtypes if otype in tab.can_contain.get(rt, ())]
        if task_type == "look_at_obj_in_light":
            options += [(otype, LAMP)] if homes else []
            continue
        for goal_rt in homes:
            if goal_rt != _STATION.get(task_type) and any(rt != goal_rt for rt in homes):
                options.append((otype, goal_rt))
    return options


def _draw(task_type: str, pid: str, rng: random.Random) -> Problem:
    tab = tables()
    room_name = rng.choice(_rooms_for(task_type))
    room = _rooms()[room_name]
    receptacles: list[Receptacle] = []
    for rtype, low, high in room["receptacles"]:
        for n in range(1, rng.randint(low, high) + 1):
            openable = rtype in tab.openable
            receptacles.append(Receptacle(f"{rtype.lower()} {n}", rtype, openable, openable and rng.random() < 0.25))
    otype, target = rng.choice(_goal_options(task_type, room))
    counts: dict[str, int] = {}
    things: list[Thing] = []

    def place(kind: str, avoid: str | None) -> None:
        homes = [r for r in receptacles if kind in tab.can_contain.get(r.type, ()) and r.type != avoid]
        if kind == LAMP:
            homes = [r for r in receptacles if r.type in room["lamp_on"]]
        counts[kind] = counts.get(kind, 0) + 1
        things.append(Thing(f"{kind.lower()} {counts[kind]}", kind, rng.choice(homes).name))

    low = 2 if task_type == "pick_two_obj_and_place" else 1
    for _ in range(rng.randint(low, 3)):
        place(otype, None if task_type == "look_at_obj_in_light" else target)
    if task_type == "look_at_obj_in_light":
        place(LAMP, None)
    others = [t for t in room["objects"] if t != otype and any(t in tab.can_contain.get(r.type, ()) for r in receptacles)]
    for _ in range(rng.randint(2, 5)):
        place(rng.choice(others), None)
    goal = Goal(otype, recep=target, template=rng.randint(0, 1)) if task_type in PLACE_TASKS else \
        Goal(otype, toggle=LAMP, template=rng.randint(0, 1))
    return Problem(pid, task_type, tuple(receptacles), tuple(things), goal, goal_text(task_type, goal))


def solution(problem: Problem, limit: int = 50) -> list[str] | None:
    """The expert's commands from reset to the goal on this engine, or None if it fails."""
    world = World.start(problem)
    if goal_reached(world):
        return None
    steps = plan(world)
    for command in steps[:limit]:
        world.apply(command)
    return steps if steps and len(steps) <= limit and goal_reached(world) else None


def generate_problem(seed: int, index: int) -> tuple[Problem, list[str]]:
    """Problem ``index`` of seed ``seed`` and its solution (redrawn until solvable)."""
    task_type = TASK_TYPES[index % len(TASK_TYPES)]
    rng = random.Random(f"alfworld-gen-{seed}-{index}")
    for _ in range(100):
        problem = _draw(task_type, f"gen_s{seed}_{index:03d}", rng)
        steps = solution(problem)
        if steps is not None:
            return problem, steps
    raise RuntimeError(f"no solvable {task_type} problem drawn for seed {seed}, index {index}")


def generate_problems(seed: int, n: int, start: int = 0) -> list[tuple[Problem, list[str]]]:
    """Problems ``start .. start + n - 1`` of seed ``seed`` with their solutions."""
    return [generate_problem(seed, i) for i in range(start, start + n)]


def problem_set(seed: int, size: int = DEFAULT_SET_SIZE) -> list[Problem]:
    """The env's task list for ``seed``: the recorded problems, then generated ones up to ``size``."""
    recorded = load_problems(RECORDED_FILE)
    return recorded + [p for p, _ in generate_problems(seed, max(0, size - len(recorded)), start=len(recorded))]


def write_problem_set(seed: int, path: str | Path, size: int = DEFAULT_SET_SIZE) -> Path:
    """Write :func:`problem_set` as ``problems.jsonl`` (recorded lines verbatim, then generated with ``solution``)."""
    recorded = [line for line in RECORDED_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = list(recorded)
    for problem, steps in generate_problems(seed, max(0, size - len(recorded)), start=len(recorded)):
        row = problem_to_dict(problem, len(lines))
        row["solution"] = steps
        lines.append(json.dumps(row))
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write an ALFWorld problem set (recorded + generated problems).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=DEFAULT_SET_SIZE, help="total problems (>= 21)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(write_problem_set(args.seed, args.out, args.size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
