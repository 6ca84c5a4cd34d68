"""AgentGym's BabyAI text layer: view description, macro-action table and its path planner.

Pure functions over the minigrid observation (no minigrid import): :func:`render` turns the
agent-centred 7 x 7 ``image``, the agent direction, position and carried object into the
description text and the ordered action/error tables that AgentGym's ``postprocess_obs``
builds (spec ``envspecs/babyai.md`` sections 2-4, including its quirks: stable distance
sort, numbering of reachable objects only, the dict-repr door error, a breadth-first
planner that re-queues states and overwrites parents).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Rendered", "ViewObject", "render", "plan", "action_list_text", "DIR_TO_VEC"]

IDX_TO_OBJECT = ("unseen", "empty", "wall", "floor", "door", "key", "ball", "box", "goal", "lava", "agent")
IDX_TO_COLOR = ("red", "green", "blue", "purple", "yellow", "grey")
IDX_TO_STATE = ("open", "closed", "locked")
DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
VIEW = 7
_OBJECT_TYPES = ("door", "key", "ball", "box", "goal", "lava", "wall")
_BLOCKING = ("wall", "box", "lava", "ball", "key")

Cell = tuple[int, int]


@dataclass(frozen=True)
class ViewObject:
    """One visible object: its display name, absolute cell and offsets from the agent."""

    name: str
    cell: Cell
    dist: int
    front: int
    right: int


@dataclass
class Rendered:
    """What AgentGym derives from one observation.

    ``description``: the text D; ``actions``: ordered action name -> primitive list;
    ``errors``: action name -> error message for recognised-but-impossible actions;
    ``targets``: action name -> the absolute cell of the object the macro is about
    (our addition, used by the expert; not part of any observation).
    """

    description: str
    actions: dict[str, list[int]]
    errors: dict[str, str]
    targets: dict[str, Cell] = field(default_factory=dict)
    objects: list[ViewObject] = field(default_factory=list)


def _blocked(name: str) -> bool:
    return any(word in name for word in _BLOCKING)


def plan(start: Cell, direction: int, target: Cell, blocked: set[Cell], region: tuple[range, range],
         stand: bool) -> list[int] | None:
    """AgentGym's ``find_path``: primitives from (start, direction) to stand on (``stand``) or face ``target``.

    Breadth-first over (cell, direction) with successors forward/left/right; a state is
    re-queued even if already queued and its parent overwritten; only dequeued states are
    skipped. Returns None when the queue runs dry.
    """
    xrange, yrange = region
    root = (start, direction)
    queue = deque([root])
    dequeued: set[tuple[Cell, int]] = set()
    parent: dict[tuple[Cell, int], tuple[tuple[Cell, int], int]] = {}
    while queue:
        state = queue.popleft()
        dequeued.add(state)
        cell, d = state
        if stand:
            hit = cell == target
        else:
            dx, dy = DIR_TO_VEC[d]
            hit = target[0] - cell[0] == dx and target[1] - cell[1] == dy
        if hit:
            path = []
            while state != root:
                state, action = parent[state]
                path.append(action)
            return path[::-1]
        dx, dy = DIR_TO_VEC[d]
        for action, nxt in ((2, ((cell[0] + dx, cell[1] + dy), d)), (0, (cell, (d - 1) % 4)), (1, (cell, (d + 1) % 4))):
            ncell = nxt[0]
            if ncell[0] not in xrange or ncell[1] not in yrange or nxt in dequeued or ncell in blocked:
                continue
            queue.append(nxt)
            parent[nxt] = (state, action)
    return None


def _region(pos: Cell, f: Cell, r: Cell) -> tuple[range, range]:
    """The planner's allowed box (AgentGym's xrange/yrange, including its off-by-one)."""
    h = VIEW // 2
    top_left = (pos[0] + f[0] * (VIEW - 1) - r[0] * h, pos[1] + f[1] * (VIEW - 1) - r[1] * h)
    border = (top_left[0] + VIEW * (r[0] - f[0]), top_left[1] + VIEW * (r[1] - f[1]))
    ranges = []
    for axis in (0, 1):
        if border[axis] < top_left[axis]:
            ranges.append(range(border[axis], top_left[axis] + 1))
        else:
            ranges.append(range(top_left[axis], border[axis]))
    return ranges[0], ranges[1]


def _scan(image: np.ndarray, pos: Cell, f: Cell, r: Cell) -> tuple[list[ViewObject], list[ViewObject]]:
    """Objects and straight-ahead barriers in the view, each sorted stably by distance."""
    h = VIEW // 2
    objects: list[ViewObject] = []
    barriers: list[ViewObject] = []
    for j in range(VIEW):
        front = VIEW - 1 - j
        for i in range(VIEW):
            right = i - h
            cell = (pos[0] + f[0] * front + r[0] * right, pos[1] + f[1] * front + r[1] * right)
            if cell[0] < 0 or cell[1] < 0 or cell == pos:
                continue
            kind = IDX_TO_OBJECT[int(image[i, j, 0])]
            if kind not in _OBJECT_TYPES:
                continue
            color = IDX_TO_COLOR[int(image[i, j, 1])]
            name = f"{color} {IDX_TO_STATE[int(image[i, j, 2])]} door" if kind == "door" else f"{color} {kind}"
            objects.append(ViewObject(name, cell, front + abs(right), front, right))
            if kind in ("box", "wall") and right == 0:
                barriers.append(ViewObject(kind, cell, front, front, 0))
    objects.sort(key=lambda o: o.dist)
    barriers.sort(key=lambda o: o.dist)
    return objects, barriers


def _describe(objects: list[ViewObject], barriers: list[ViewObject], carrying: tuple[str, str] | None) -> str:
    if objects:
        text = "In front of you in this room, you can see several objects: "
        seen: dict[str, int] = {}
        for obj in objects:
            if "wall" in obj.name:
                continue
            if obj.right == 0:
                where = f"right in front of you {obj.front} steps away. "
            elif obj.right > 0:
                where = f"{obj.front} steps in front of you and {obj.right} steps to your right. "
            else:
                where = f"{obj.front} steps in front of you and {-obj.right} steps to your left. "
            seen[obj.name] = seen.get(obj.name, 0) + 1
            text += f"There is a {obj.name} {seen[obj.name]} {where} "
    else:
        text = "You cannot see any objects within sight."
    text += "The room has walls around you. "
    if barriers:
        text += f"You are facing a {barriers[0].name} {barriers[0].dist} steps away. "
    if carrying is not None:
        text += f"You are carrying a {carrying[0]} {carrying[1]}."
    else:
        text += "You are not carrying anything."
    return text


def render(image: np.ndarray, direction: int, pos: Cell, carrying: tuple[str, str] | None) -> Rendered:
    """Description and action tables for one observation.

    ``carrying`` is ``(colour, type)`` of the carried object or None.
    """
    pos = (int(pos[0]), int(pos[1]))
    f = DIR_TO_VEC[direction]
    r = (-f[1], f[0])
    objects, barriers = _scan(image, pos, f, r)
    description = _describe(objects, barriers, carrying)
    region = _region(pos, f, r)
    blocked = {o.cell for o in objects if _blocked(o.name)}
    actions: dict[str, list[int]] = {"turn left": [0], "turn right": [1]}
    errors: dict[str, str] = {}
    targets: dict[str, Cell] = {}

    def path_to(obj: ViewObject, stand: bool) -> list[int] | None:
        return plan(pos, direction, obj.cell, blocked, region, stand)

    if not barriers or barriers[0].dist > 1:
        actions["move forward"] = [2]
    else:
        errors["move forward"] = "There is a barrier in front of you, you can't move forward."
    if carrying is None:
        counts: dict[str, int] = {}
        for obj in objects:
            if "wall" in obj.name or "door" in obj.name or "goal" in obj.name:
                continue
            path = path_to(obj, False)
            k = 1 if f"pickup {obj.name} 1" not in actions else counts[obj.name] + 1
            if path is not None:
                counts[obj.name] = k
                actions[f"pickup {obj.name} {k}"] = path + [3]
                targets[f"pickup {obj.name} {k}"] = obj.cell
            else:
                errors[f"pickup {obj.name} {k}"] = f"You cannot pickup {obj.name} {k}, as there is no path leading to it."
        errors["drop"] = "You cannot drop the object, as you are not carrying anything."
    else:
        ahead = (pos[0] + f[0], pos[1] + f[1])
        if any(o.cell == ahead and _blocked(o.name) for o in objects):
            errors["drop"] = "You cannot drop the object, as there is already an object in front of you."
        else:
            actions["drop"] = [4]
    _doors(objects, carrying, path_to, actions, errors, targets)
    for obj in objects:
        if "goal" in obj.name:
            path = path_to(obj, True)
            if path is not None:
                actions["go to goal"] = path
                targets["go to goal"] = obj.cell
            else:
                errors["go to goal"] = "You cannot go to the goal, as there is no path leading to it."
    counts = {}
    for obj in objects:
        if "wall" in obj.name or "goal" in obj.name:
            continue
        path = path_to(obj, False)
        k = 1 if f"go to {obj.name} 1" not in actions else counts[obj.name] + 1
        if path is not None:
            counts[obj.name] = k
            actions[f"go to {obj.name} {k}"] = path
            targets[f"go to {obj.name} {k}"] = obj.cell
        else:
            errors[f"go to {obj.name} {k}"] = f"You cannot go to {obj.name} {k}, as there is no path leading to it."
    actions["check available actions"] = []
    return Rendered(description, actions, errors, targets, objects)


def _doors(objects, carrying, path_to, actions, errors, targets) -> None:
    """Section 5 of the action table: go through / toggle and go through / toggle."""
    counts: dict[str, int] = {}
    for obj in objects:
        name = obj.name
        if "door" in name:
            counts[name] = counts.get(name, 0) + 1
        n = counts.get(name)
        if "open door" in name:
            path = path_to(obj, True)
            if path is not None:
                actions[f"go through {name} {n}"] = path
                targets[f"go through {name} {n}"] = obj.cell
            else:
                errors[f"go through {name} {n}"] = f"You cannot go through {name} {n}, as there is no path leading to it."
        if "closed door" in name:
            _toggle_entries(obj, n, counts, path_to, actions, errors, targets)
            errors[f"go through {name} {n}"] = (
                f"You cannot go through {name} {n}, as it is closed. You should toggle it first."
            )
        if "locked door" in name:
            key = f"toggle and go through {name} {n}"
            if carrying is None or carrying[1] != "key":
                errors[key] = f"You cannot toggle and go through {name} {n}, as you are not carrying a key."
                continue
            if carrying[0] != name.split(" ")[0]:
                errors[key] = (
                    f"You cannot toggle and go through {name} {n}, as the color of the key you are carrying "
                    "does not match the color of door."
                )
                continue
            _toggle_entries(obj, n, counts, path_to, actions, errors, targets)


def _toggle_entries(obj, n, counts, path_to, actions, errors, targets) -> None:
    key = f"toggle and go through {obj.name} {n}"
    path = path_to(obj, False)
    if path is not None:
        actions[key] = path + [5, 2]
        targets[key] = obj.cell
    else:
        errors[key] = f"You cannot toggle and go through {obj.name} {counts!r}, as there is no path leading to it."
    if path == []:
        actions["toggle"] = [5]
        targets["toggle"] = obj.cell


def action_list_text(actions: dict[str, list[int]]) -> str:
    """The ``\\nAvailable actions: [...]`` suffix every response carries."""
    text = "\nAvailable actions: ["
    for name in actions:
        text += '"' + name + '", '
    if text[-1] != "[":
        text = text[:-2] + "]"
    return text
