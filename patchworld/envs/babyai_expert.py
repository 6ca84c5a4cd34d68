"""An expert for the BabyAI text env: a full-state planner mapped onto AgentGym's macro actions.

minigrid 2.3.1 ships no ``BabyAIBot``, so this is our own planner. It reads the live
minigrid state (grid, agent, carried object, the mission's verifier tree), picks the first
unfinished clause (go to / pick up / open / put next to), and plans primitive moves with
Dijkstra over (cell, direction): closed doors cost a toggle, locked doors without the key
and movable objects in the way are "obstacles" that spawn sub-goals (fetch the key,
move the object aside; hands are emptied by dropping away from the path first).
The next move is then expressed as a text action, preferring a macro from the current
action table (``go to <target> k``, ``pickup <target> k``, ``toggle and go through`` /
``go through`` the first door on the path) whenever a simulation on a clone confirms it
does what the plan wants; otherwise the plan's first primitive (``turn left``,
``turn right``, ``move forward``, the facing ``pickup``, ``drop``, ``toggle``).
This module imports the env and registers ``babyai`` with this expert (the registry's
built-in entry for ``babyai`` names this module). Unsolvable by design in the text layer: keys hidden in boxes (no text action toggles a
box) and opening an already-open door; the expert then turns left.
"""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # minigrid imports pygame, which greets on stdout

from minigrid.core.world_object import Ball  # noqa: E402
from minigrid.envs.babyai.core.verifier import (  # noqa: E402
    AfterInstr,
    AndInstr,
    BeforeInstr,
    GoToInstr,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

from patchworld.envs.babyai import DESCRIPTION, BabyAIEnv  # noqa: E402
from patchworld.envs.babyai_text import DIR_TO_VEC  # noqa: E402
from patchworld.envs.base import register  # noqa: E402

__all__ = ["expert_action", "run_expert"]

Cell = tuple[int, int]
State = tuple[int, int, int]
_FALLBACK = "turn left"


@dataclass
class Intent:
    """What the planner wants next: primitive plan, the cell it is about, and how a macro may achieve it."""

    prims: list[int]
    kind: str  # what follows facing a cell of `cells`: "face" (nothing), "pickup", "toggle", "putnext"/"drop" (drop)
    cells: frozenset[Cell]
    door: Cell | None = None  # first door on the path (for go through macros)
    approach: frozenset[Cell] | None = None  # cells a "go to" macro should end facing (default: cells)


def _pending(instr) -> list:
    """The unfinished action clauses of a verifier tree, in the order to do them."""
    if isinstance(instr, BeforeInstr):
        return _pending(instr.instr_b) if instr.a_done == "success" else _pending(instr.instr_a) + _pending(instr.instr_b)
    if isinstance(instr, AfterInstr):
        return _pending(instr.instr_a) if instr.b_done == "success" else _pending(instr.instr_b) + _pending(instr.instr_a)
    if isinstance(instr, AndInstr):
        return [i for i, d in ((instr.instr_a, instr.a_done), (instr.instr_b, instr.b_done)) if d != "success"]
    return [instr]


def _pos(obj) -> Cell | None:
    if obj.cur_pos is None or obj.cur_pos[0] < 0:
        return None
    return (int(obj.cur_pos[0]), int(obj.cur_pos[1]))


def _search(g, goal: frozenset[Cell]) -> list[tuple[list[int], str, Cell]] | None:
    """Cheapest moves from the agent's state to facing a cell of ``goal``.

    Steps are (primitives, kind, cell) with kind "" (free move), "locked" or "object"
    (an obstacle the caller must clear first). None when walls make it impossible.
    """
    start: State = (int(g.agent_pos[0]), int(g.agent_pos[1]), int(g.agent_dir))
    carrying = g.carrying
    best = {start: 0}
    parent: dict[State, tuple[State, list[int], str, Cell]] = {}
    heap = [(0, 0, start)]
    counter = 0
    while heap:
        cost, _, state = heapq.heappop(heap)
        if cost > best[state]:
            continue
        x, y, d = state
        dx, dy = DIR_TO_VEC[d]
        front = (x + dx, y + dy)
        if front in goal:
            steps = []
            while state != start:
                state, prims, kind, cell = parent[state]
                steps.append((prims, kind, cell))
            return steps[::-1]
        moves = [((x, y, (d - 1) % 4), 1, [0], ""), ((x, y, (d + 1) % 4), 1, [1], "")]
        if 0 <= front[0] < g.grid.width and 0 <= front[1] < g.grid.height:
            obj = g.grid.get(*front)
            nxt = (front[0], front[1], d)
            if obj is None or obj.can_overlap():
                moves.append((nxt, 1, [2], ""))
            elif obj.type == "door":
                if not obj.is_locked:
                    moves.append((nxt, 8, [5, 2], ""))
                elif carrying is not None and carrying.type == "key" and carrying.color == obj.color:
                    moves.append((nxt, 8, [5, 2], ""))
                else:
                    moves.append((nxt, 60, [5, 2], "locked"))
            elif obj.type in ("key", "ball", "box"):
                moves.append((nxt, 100, [2], "object"))
        for nxt, step_cost, prims, kind in moves:
            new = cost + step_cost
            if new < best.get(nxt, 1 << 30):
                best[nxt] = new
                parent[nxt] = (state, prims, kind, front if prims != [0] and prims != [1] else (x, y))
                counter += 1
                heapq.heappush(heap, (new, counter, nxt))
    return None


def _face(g, cells: frozenset[Cell], kind: str, depth: int) -> Intent | None:
    """Plan to face one of ``cells`` (kind says what comes after); clears obstacles first."""
    steps = _search(g, cells)
    if steps is None:
        return None
    prims: list[int] = []
    door = None
    for step_prims, obstacle, cell in steps:
        if obstacle == "locked":
            color = g.grid.get(*cell).color
            keys = [o for o in _objects(g) if o.type == "key" and o.color == color]
            return _pickup(g, keys, depth + 1)
        if obstacle == "object":
            if g.carrying is not None:
                return _drop(g, [cells])
            return _face(g, frozenset({cell}), "pickup", depth + 1) if depth < 4 else None
        if door is None and step_prims in ([5, 2], [2]) and _is_door(g, cell):
            door = cell
        prims.extend(step_prims)
    final = {"pickup": [3], "drop": [4], "putnext": [4], "toggle": [5]}.get(kind, [])
    return Intent(prims + final, kind, cells, door)


def _is_door(g, cell: Cell) -> bool:
    obj = g.grid.get(*cell)
    return obj is not None and obj.type == "door"


def _objects(g) -> list:
    return [o for o in g.grid.grid if o is not None and o.type in ("key", "ball", "box")]


def _pickup(g, objs: list, depth: int, keep: frozenset[Cell] = frozenset()) -> Intent | None:
    """Pick up one of ``objs`` (emptying the hands first)."""
    if depth > 4:
        return None
    cells = frozenset(c for c in (_pos(o) for o in objs) if c is not None)
    if g.carrying is not None:
        if not cells:
            return None
        steps = _search(g, cells) or []
        for _, kind, cell in steps:  # a locked door the carried key opens: open it before dropping the key
            obj = g.grid.get(*cell)
            if not kind and obj is not None and obj.type == "door" and obj.is_locked:
                return _face(g, frozenset({cell}), "toggle", depth + 1)
            if kind == "locked":  # its key may lie behind a door our key opens
                keys = [o for o in _objects(g) if o.type == "key" and o.color == obj.color]
                sub = _pickup(g, keys, depth + 1) if keys else None
                if sub is not None and sub.kind == "toggle":
                    return sub
                break
            if kind:
                break
        return _drop(g, [cells, keep])
    if not cells:
        return None
    return _face(g, cells, "pickup", depth)


def _cost(g, goal: frozenset[Cell]) -> int:
    """Cost of the cheapest route to face ``goal`` (the weights used by :func:`_search`)."""
    steps = _search(g, goal)
    if steps is None:
        return 1 << 20
    return sum(100 if kind == "object" else 60 if kind == "locked" else 8 if prims == [5, 2] else 1
               for prims, kind, _ in steps)


def _distances(g, sources) -> dict[Cell, int]:
    """Cell distances ignoring headings, doors and movable objects (only walls block)."""
    dist = {c: 0 for c in sources}
    queue = list(dist)
    for x, y in queue:
        for dx, dy in DIR_TO_VEC:
            nxt = (x + dx, y + dy)
            if nxt in dist or not (0 <= nxt[0] < g.grid.width and 0 <= nxt[1] < g.grid.height):
                continue
            obj = g.grid.get(*nxt)
            if obj is not None and obj.type in ("wall", "lava"):
                continue
            dist[nxt] = dist[(x, y)] + 1
            queue.append(nxt)
    return dist


def _corridor(g, keep: frozenset[Cell]) -> set[Cell]:
    """Cells on some shortest wall-only route from the agent to ``keep``: never drop there."""
    from_agent = _distances(g, [(int(g.agent_pos[0]), int(g.agent_pos[1]))])
    from_keep = _distances(g, keep)
    both = {c: from_agent[c] + from_keep[c] for c in from_agent if c in from_keep}
    if not both:
        return set()
    best = min(both.values())
    return {c for c, d in both.items() if d == best}


def _drop(g, keeps: list[frozenset[Cell]]) -> Intent | None:
    """Drop the carried object out of the way (strict rules first, then relaxed ones)."""
    keeps = [k for k in keeps if k]
    for strict in (True, False):
        intent = _drop_where(g, keeps, strict)
        if intent is not None:
            return intent
    return None


def _drop_where(g, keeps: list[frozenset[Cell]], strict: bool) -> Intent | None:
    """Drop the carried object on a nearby free cell that leaves every group in ``keeps`` as reachable as before.

    Candidates are free cells not next to a door and off the shortest routes to the groups,
    nearest first (by position, not heading, so the choice is stable while turning).
    """
    doors = {(x, y) for x in range(g.grid.width) for y in range(g.grid.height) if _is_door(g, (x, y))}
    ax, ay = int(g.agent_pos[0]), int(g.agent_pos[1])
    avoid = set().union(*keeps, *(_corridor(g, k) for k in keeps if strict))
    free = []
    for x in range(1, g.grid.width - 1):
        for y in range(1, g.grid.height - 1):
            if g.grid.get(x, y) is not None or (x, y) in avoid or abs(x - ax) + abs(y - ay) > (6 if strict else 12):
                continue
            if strict and any((x + dx, y + dy) in doors for dx, dy in DIR_TO_VEC):
                continue
            free.append((abs(x - ax) + abs(y - ay), x, y))
    free.sort()
    baseline = [_cost(g, k) for k in keeps]
    chosen: set[Cell] = set()
    for _, x, y in free[: 12 if strict else 40]:
        g.grid.set(x, y, Ball())
        try:
            worse = any(_cost(g, k) > b + 2 for k, b in zip(keeps, baseline, strict=True))
        finally:
            g.grid.set(x, y, None)
        if not worse:
            chosen.add((x, y))
        if len(chosen) >= 3:
            break
    if not chosen:
        return None
    steps = _search(g, frozenset(chosen))
    if steps is None or any(kind for _, kind, _ in steps):
        return None
    return Intent([p for s, _, _ in steps for p in s] + [4], "drop", frozenset(chosen))


def _intent(g) -> Intent | None:
    """The plan for the first unfinished clause of the mission."""
    pending = _pending(g.instrs)
    if not pending:
        return None
    instr = pending[0]
    if isinstance(instr, GoToInstr):
        return _face(g, frozenset((int(x), int(y)) for x, y in instr.desc.obj_poss), "face", 0)
    if isinstance(instr, PickupInstr):
        return _pickup(g, list(instr.desc.obj_set), 0)
    if isinstance(instr, OpenInstr):
        doors = [d for d in instr.desc.obj_set if not d.is_open]
        if not doors:
            return None
        locked = [d for d in doors if d.is_locked]
        holding = g.carrying
        usable = [d for d in doors if not d.is_locked or (holding is not None and holding.type == "key"
                                                          and holding.color == d.color)]
        if not usable:
            cells = frozenset(_pos(d) for d in doors)
            for _, kind, cell in _search(g, cells) or []:  # clear a blocked doorway before fetching the key
                if kind == "object":
                    if g.carrying is not None:
                        return _drop(g, [cells])
                    return _face(g, frozenset({cell}), "pickup", 1)
            keys = [o for o in _objects(g) if o.type == "key" and o.color in {d.color for d in locked}]
            return _pickup(g, keys, 1, keep=cells)
        return _face(g, frozenset(_pos(d) for d in usable), "toggle", 0)
    if isinstance(instr, PutNextInstr):
        move = list(instr.desc_move.obj_set)
        targets = {(int(x), int(y)) for x, y in instr.desc_fixed.obj_poss}
        cells = frozenset(
            (x + dx, y + dy) for x, y in targets for dx, dy in DIR_TO_VEC if g.grid.get(x + dx, y + dy) is None
        )
        if g.carrying is None or not any(g.carrying is o for o in move):
            for _, kind, cell in _search(g, cells) or []:  # clear the way to the target before fetching
                if kind == "object" and not any(g.grid.get(*cell) is o for o in move):
                    if g.carrying is not None:
                        return _drop(g, [cells])
                    return _face(g, frozenset({cell}), "pickup", 1)
                if kind:
                    break
            return _pickup(g, move, 0, keep=cells)
        intent = _face(g, cells, "putnext", 0) if cells else None
        if intent is not None and intent.kind == "putnext":
            intent.approach = frozenset(targets)  # approach macros aim at the fixed object
        return intent
    return None


def _macro_ok(env, action: str, intent: Intent, door: bool) -> bool:
    if not env.rendered.actions.get(action):
        return False
    sim = env.clone()
    step = sim.step(action)
    if step.done:
        return True
    if "The task is completed." in step.observation:  # a mission failure (or a late success)
        return False
    g = sim.minigrid_env
    if door or intent.approach is not None:  # only if it shortens the remaining plan
        after = _intent(g)
        return after is not None and len(after.prims) < len(intent.prims)
    if intent.kind == "pickup":
        return g.carrying is not None and env.minigrid_env.carrying is None
    return (int(g.front_pos[0]), int(g.front_pos[1])) in intent.cells


def expert_action(env) -> str:
    """The expert's next text action for a live :class:`BabyAIEnv` (see the module docstring)."""
    g = env.minigrid_env
    intent = _intent(g)
    if intent is None or not intent.prims:
        return _FALLBACK
    table = env.rendered
    macros = []
    if len(intent.prims) > 1:
        prefixes = {"pickup": ("pickup ",), "face": ("go to ",), "toggle": ("go to ",), "putnext": ("go to ",)}
        for name, cell in table.targets.items():
            if cell in (intent.approach or intent.cells) and name.startswith(prefixes.get(intent.kind, ())):
                macros.append((name, False))
        if intent.door is not None:
            for name, cell in table.targets.items():
                if cell == intent.door and name.startswith(("toggle and go through", "go through")):
                    macros.append((name, True))
    for name, door in macros:
        if _macro_ok(env, name, intent, door):
            return name
    first = intent.prims[0]
    if first == 3:
        for name, prims in table.actions.items():
            if prims == [3]:
                return name
        return _FALLBACK
    return {0: "turn left", 1: "turn right", 2: "move forward", 4: "drop", 5: "toggle"}[first]


def run_expert(task: int, max_steps: int = 60) -> tuple[bool, int]:
    """Play ``task`` with the expert; returns (success, number of text actions)."""
    env = BabyAIEnv(n_tasks=task + 1)
    env.reset(task)
    for n in range(1, max_steps + 1):
        if env.step(expert_action(env)).done:
            return True, n
    return False, max_steps


register("babyai", BabyAIEnv, expert=expert_action, description=DESCRIPTION)
