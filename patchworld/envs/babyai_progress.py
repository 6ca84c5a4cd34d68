"""Task progress for the BabyAI text env: mission clauses, what an observation shows, live facts.

A mission is a list of clauses (go to / pick up / open / put next to), each in an order
*group*: every clause of a lower group must be done before a higher group counts
(``A, then B``: A in group 0, B in 1; ``A after you B``: the reverse; ``A and B``: same group).
Progress is ``CAP * (clauses done + credit of the best pending clause of the current group)
/ clauses`` in [0, CAP], or 1.0 on success. The credit of a pending clause is a milestone
that an agent following a plan does not lose (so progress is non-decreasing along expert
play): its target located (visible now, or seen before in the live episode), the needed
key held, the target faced, the object to move held, facing a free cell next to the fixed
object. Distances are deliberately not used: they fall whenever the agent turns or detours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    AndInstr,
    BeforeInstr,
    GoToInstr,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

__all__ = ["CAP", "Clause", "Facts", "Mission", "View", "clause_status", "facing_door", "mission_from_goal",
           "mission_from_instrs", "read_view", "score", "seen_targets"]

CAP = 0.95  # the most progress short of success
# clause milestones: target located, key for its locked door held, door faced, object to move held,
# its fixed object located, facing a free cell next to the fixed object, clause shown done
SEEN, KEY, FACING, HOLD, NEAR, READY, DONE = 0.3, 0.5, 0.6, 0.5, 0.6, 0.8, 0.9
_OBJECTS = ("key", "ball", "box")

Desc = tuple[str | None, str | None]  # (colour, type); None = any


@dataclass(frozen=True)
class Clause:
    """One action clause: verb "goto" | "pickup" | "open" | "putnext", its object(s) and order group."""

    verb: str
    target: Desc
    fixed: Desc | None = None  # putnext: the object to put the target next to
    group: int = 0


@dataclass(frozen=True)
class Mission:
    """The clauses of a mission in doing order."""

    clauses: tuple[Clause, ...]

    @property
    def last_group(self) -> int:
        return max((c.group for c in self.clauses), default=0)


@dataclass(frozen=True)
class Entry:
    """One visible object of a description: colour, state ("" unless a door), type, offsets."""

    color: str
    state: str
    type: str
    front: int
    right: int


@dataclass(frozen=True)
class View:
    """What an observation text says: visible objects, what is carried, the completion sentence."""

    entries: tuple[Entry, ...]
    carrying: Desc | None
    completed: bool


@dataclass(frozen=True)
class Facts:
    """What the live env knew when it returned an observation.

    ``done``: indices of the clauses its verifier had completed; ``success``: AgentGym's done
    flag; ``seen``: targets (``Desc``) and locked door colours (``("locked", colour)``) that
    some observation of the episode so far has shown; ``facing``: the door right in front
    (``"red closed door"``, else ``""``), so that a prediction showing it open means a toggle.
    """

    done: frozenset[int] = frozenset()
    success: bool = False
    seen: frozenset = field(default_factory=frozenset)
    facing: str = ""


# --------------------------------------------------------------------------- missions


def _leaves(instr, done: bool, group: int) -> tuple[list[tuple[object, bool, int]], int]:
    """(action clause, done, group) in doing order, and the next free group number."""
    if isinstance(instr, (BeforeInstr, AfterInstr, AndInstr)):
        a_done = done or instr.a_done == "success"
        b_done = done or instr.b_done == "success"
        if isinstance(instr, AndInstr):
            first, g1 = _leaves(instr.instr_a, a_done, group)
            second, g2 = _leaves(instr.instr_b, b_done, group)
            return first + second, max(g1, g2)
        order = [(instr.instr_a, a_done), (instr.instr_b, b_done)]
        if isinstance(instr, AfterInstr):
            order.reverse()
        first, g1 = _leaves(order[0][0], order[0][1], group)
        second, g2 = _leaves(order[1][0], order[1][1], g1)
        return first + second, g2
    return [(instr, done, group)], group + 1


def _desc(obj_desc) -> Desc:
    return (obj_desc.color, obj_desc.type)


def mission_from_instrs(instrs) -> Mission:
    """The clauses of a minigrid verifier tree (``env.instrs``)."""
    clauses = []
    for leaf, _, group in _leaves(instrs, False, 0)[0]:
        if isinstance(leaf, PutNextInstr):
            clauses.append(Clause("putnext", _desc(leaf.desc_move), _desc(leaf.desc_fixed), group))
        else:
            verb = {GoToInstr: "goto", PickupInstr: "pickup", OpenInstr: "open"}[type(leaf)]
            clauses.append(Clause(verb, _desc(leaf.desc), None, group))
    return Mission(tuple(clauses))


def clause_status(instrs) -> frozenset[int]:
    """Indices of the clauses the live verifier has completed (same order as :func:`mission_from_instrs`)."""
    return frozenset(i for i, (_, done, _) in enumerate(_leaves(instrs, False, 0)[0]) if done)


_COLOURS = "red|green|blue|purple|yellow|grey"
_DESC = rf"(?:the|a)\s+(?:({_COLOURS})\s+)?(ball|box|key|door|object)"
_CLAUSE = re.compile(rf"^(go to|pick up|open|put)\s+{_DESC}(?:.*?\bnext to\s+{_DESC})?")


def _text_desc(color: str, kind: str) -> Desc:
    return (color or None, None if kind == "object" else kind)


def mission_from_goal(goal: str) -> Mission:
    """Clauses parsed from a goal line (AgentGym turned ``then``/``after you`` into ``and``: one group)."""
    clauses = []
    for part in re.split(r",?\s+and\s+|,\s*", goal.strip()):
        m = _CLAUSE.match(part.strip())
        if not m:
            continue
        verb = {"go to": "goto", "pick up": "pickup", "open": "open", "put": "putnext"}[m.group(1)]
        fixed = _text_desc(m.group(4), m.group(5)) if verb == "putnext" and m.group(5) else None
        if verb == "putnext" and fixed is None:
            continue
        clauses.append(Clause(verb, _text_desc(m.group(2), m.group(3)), fixed, 0))
    return Mission(tuple(clauses))


# --------------------------------------------------------------------------- observations

_ENTRY = re.compile(
    r"There is a (\w+) (?:(open|closed|locked) )?(\w+) \d+ (?:right in front of you (\d+) steps away"
    r"|(\d+) steps in front of you and (\d+) steps to your (left|right))\."
)
_CARRY = re.compile(r"You are carrying a (\w+) (\w+)\.")


def read_view(observation: str) -> View:
    """Parse an observation text (description, optional goal line and action list)."""
    entries = []
    for color, state, kind, ahead, front, side, lr in _ENTRY.findall(observation):
        if ahead:
            entries.append(Entry(color, state, kind, int(ahead), 0))
        else:
            entries.append(Entry(color, state, kind, int(front), int(side) * (1 if lr == "right" else -1)))
    carry = _CARRY.search(observation)
    return View(tuple(entries), (carry.group(1), carry.group(2)) if carry else None,
                "The task is completed." in observation)


def _fits(desc: Desc, color: str, kind: str, doors: bool = True) -> bool:
    want_color, want_kind = desc
    if want_color and color != want_color:
        return False
    if want_kind is None:
        return kind in _OBJECTS or (doors and kind == "door")
    return kind == want_kind


def _visible(desc: Desc, view: View) -> list[Entry]:
    return [e for e in view.entries if _fits(desc, e.color, e.type)]


def _facing(desc: Desc, view: View) -> Entry | None:
    return next((e for e in _visible(desc, view) if e.front == 1 and e.right == 0), None)


def _holding(desc: Desc, view: View) -> bool:
    return view.carrying is not None and _fits(desc, *view.carrying, doors=False)


def seen_targets(mission: Mission, view: View) -> frozenset:
    """The mission's targets (and locked door colours) this view shows, for :attr:`Facts.seen`."""
    descs = {c.target for c in mission.clauses} | {c.fixed for c in mission.clauses if c.fixed}
    seen = {d for d in descs if _visible(d, view)}
    return frozenset(seen | {("locked", e.color) for e in view.entries if e.state == "locked"})


def facing_door(view: View) -> str:
    """The door right in front as ``"<colour> <state> door"``, or ``""`` (for :attr:`Facts.facing`)."""
    door = next((e for e in view.entries if e.type == "door" and e.front == 1 and e.right == 0), None)
    return f"{door.color} {door.state} door" if door else ""


def _satisfied(clause: Clause, view: View, before: Facts | None = None) -> bool:
    """Does the text show the clause just done (what the verifier checks, as far as text tells)?

    ``before``: the live facts the view follows from; an open door then counts only if it was
    faced closed there (else it may have been open all along). With the completion sentence, a
    put-next counts once the object lies in front (its neighbour may be out of sight).
    """
    if clause.verb == "goto":
        return _facing(clause.target, view) is not None
    if clause.verb == "pickup":
        return _holding(clause.target, view)
    if clause.verb == "open":
        door = _facing(clause.target, view)
        if door is None or door.state != "open":
            return False
        return before is None or before.facing in (f"{door.color} closed door", f"{door.color} locked door")
    moved = _facing(clause.target, view)
    return (moved is not None and not _holding(clause.target, view) and clause.fixed is not None
            and (view.completed or any(abs(e.front - 1) + abs(e.right) == 1 for e in _visible(clause.fixed, view))))


def _credit(clause: Clause, view: View, seen: frozenset) -> float:
    """Milestone credit in [0, DONE] for a pending clause."""
    located = SEEN if clause.target in seen or _visible(clause.target, view) else 0.0
    if clause.verb == "goto":
        return DONE if _facing(clause.target, view) else located
    if clause.verb == "pickup":  # no credit for facing it: the pickup macro walks there and picks it up
        return DONE if _holding(clause.target, view) else located
    if clause.verb == "open":
        carried = view.carrying
        key = carried[0] if carried and carried[1] == "key" else None
        door = _facing(clause.target, view)
        if door is not None and (door.state == "closed" or (door.state == "locked" and door.color == key)):
            return FACING  # ready to toggle (an open door faced is no progress: toggling closes it)
        locked = {e.color for e in view.entries if e.state == "locked"} | {c for t, c in seen if t == "locked"}
        if key in locked and clause.target[0] in (None, key):
            return KEY
        return located
    if not _holding(clause.target, view):  # putnext: fetch the object first
        return SEEN * HOLD if located else 0.0
    fixed = clause.fixed or (None, None)
    if any(abs(e.front - 1) + abs(e.right) == 1 for e in _visible(fixed, view)):
        return READY
    return NEAR if fixed in seen or _visible(fixed, view) else HOLD


def score(mission: Mission, view: View, facts: Facts | None, known: bool) -> float:
    """Progress in [0, 1] of one observation.

    ``known``: ``facts`` are exactly the live facts of this observation (the env returned it);
    otherwise ``facts`` (if any) are those of the live state the observation follows from (a
    prediction): clauses done there stay done, pending clauses the text shows done count too,
    and the completion sentence counts as success only when every remaining clause shows done.
    Without facts, a completion counts when a clause of the mission's last group shows done.
    """
    clauses = mission.clauses
    if known and facts is not None:
        if facts.success:
            return 1.0
        done, seen = set(facts.done), facts.seen
    else:
        done = set(facts.done) if facts else set()
        seen = (facts.seen if facts else frozenset()) | seen_targets(mission, view)
        while True:  # clauses of the current group that the text shows done
            pending = [i for i, c in enumerate(clauses) if i not in done]
            if not pending:
                break
            group = min(clauses[i].group for i in pending)
            now = {i for i in pending if clauses[i].group == group and _satisfied(clauses[i], view, facts)}
            if not now:
                break
            done |= now
        if view.completed:
            if not clauses:
                return 1.0
            if facts is not None and len(done) == len(clauses):
                return 1.0
            last = [c for c in clauses if c.group == mission.last_group]
            if facts is None and any(_satisfied(c, view) for c in last):
                return 1.0
    if not clauses:
        return 0.0
    pending = [i for i, c in enumerate(clauses) if i not in done]
    credit = 0.0
    if pending:
        group = min(clauses[i].group for i in pending)
        credit = max(_credit(clauses[i], view, seen) for i in pending if clauses[i].group == group)
    return CAP * (len(done) + credit) / len(clauses)
