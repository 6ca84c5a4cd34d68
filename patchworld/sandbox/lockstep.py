"""The parent's side of a lockstep replay: what each round sends, and the coerced rows that come back.

Round t carries, for every trajectory still running, the observation to correct the belief with
(the first observation at t = 0; then the true observation of step t-1 in teacher mode, ``None``
in rollout), action t and the residual-memory hit; a trajectory's last round carries only its final
correction. A reply is checked for shape and every value coerced to a plain, capped ``str`` /
``int`` / ``bool`` before anything compares it; a broken reply raises :class:`ProtocolError`.
With ``post`` (teacher mode only) a reply has an eighth column: for each entry, the program's
readout after correcting with the true observation of the slot's previous step; it is recorded
for that previous step (``cols[k][6]``), whose prediction was recorded a round earlier.
"""

from __future__ import annotations

from typing import Any

from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import MAX_TEXT
from patchworld.sandbox.wire import ProtocolError

__all__ = ["Lockstep", "OUTCOMES", "MAX_ERROR", "MAX_BELIEF", "MAX_OUTPUT", "plain_text"]

OUTCOMES = ("ok", "load_error", "timeout", "memory", "crashed", "output_limit", "protocol_error")
_ROW_KINDS = ("", "exception", "step_timeout")
MAX_ERROR, MAX_BELIEF, MAX_OUTPUT = 1000, 200, 4000


def plain_text(value: Any, cap: int) -> str:
    return value[:cap] if type(value) is str else ""


class Lockstep:
    """The parent's side of the rounds: what to send next, and the coerced rows that came back."""

    def __init__(self, trajectories: list[list], mode: str, residual: ResidualMemory | None, n_lines: int,
                 post: bool = False):
        self.trajs = trajectories
        self.teacher = mode != "rollout"
        self.post = post and self.teacher  # replies carry an 8th column: post-correction readouts
        self.residual = residual
        self.n_lines = n_lines
        self.t = 0
        self.cols: list[list[list]] = [[[], [], [], [], [], [], []] for _ in trajectories]  # 7th: post readouts
        self.last = [steps[0][0] if steps else "" for _, steps in trajectories]  # rollout: own last text
        self.memory: list[str | None] = [None] * len(trajectories)
        self.sent: list = []

    def next_round(self) -> list | None:
        """The message for round ``t`` (``None`` when every trajectory is done)."""
        t, slots, obs, acts, mems = self.t, [], [], [], []
        for k, (_, steps) in enumerate(self.trajs):
            n = len(steps)
            if t > n or not n:
                continue
            slots.append(k)
            obs.append(steps[0][0] if t == 0 else (steps[t - 1][2] if self.teacher else None))
            if t < n:
                action = steps[t][1]
                hit = None
                if self.residual is not None:
                    hit = self.residual.lookup(steps[t][0] if self.teacher else self.last[k], action)
                self.memory[k] = hit
                acts.append(action)
                mems.append(None if hit is None else ("" if self.teacher else hit))
            else:
                acts.append(None)
                mems.append(None)
        self.sent = [slots, acts]
        self.t += 1
        last = all(a is None for a in acts)  # only final corrections: the worker ends the job after it
        return ["round", slots, obs, acts, mems, last] if slots else None

    def follow(self, leader: Lockstep) -> None:
        """Take ``leader``'s round as this plan's own (a screening batch: every candidate gets the same
        round in teacher mode, so it is built once); call right after ``leader.next_round()``."""
        self.t, self.sent, self.memory = leader.t, leader.sent, list(leader.memory)

    def take(self, reply: Any) -> tuple[list[int], list | None]:
        """Record a reply to the last round: (trajectory positions now complete, stop or None)."""
        slots, acts = self.sent
        width = 8 if self.post else 7
        if (type(reply) is not list or len(reply) != width + 2 or reply[0] != "rows"
                or not all(type(c) is list for c in reply[1:width + 1])):
            raise ProtocolError(f"a round's reply is not ['rows', {width} columns, stop]")
        preds, kinds, errors, beliefs, ckinds, cerrors, lines = reply[1:8]
        posts = reply[8] if self.post else None
        m = len(preds)
        if m > len(slots) or any(len(c) != m for c in reply[2:width + 1]):
            raise ProtocolError("a round's reply has columns of different lengths or too many rows")
        stop = reply[width + 1]
        if stop is not None and (type(stop) is not list or len(stop) != 3 or stop[0] not in OUTCOMES):
            raise ProtocolError("a round's stop field is malformed")
        if stop is None and m != len(slots):  # a row held back would shift later answers onto it
            raise ProtocolError("a round's reply left out rows without ending the job")
        done = []
        for j in range(m):
            k = slots[j]
            col = self.cols[k]
            ckind = ckinds[j] if ckinds[j] in _ROW_KINDS else "exception"
            if ckind and col[1] and col[1][-1] == "":  # a failed correction belongs to the previous step
                col[1][-1], col[2][-1] = ckind, plain_text(cerrors[j], MAX_ERROR)
            if posts is not None and col[0] and len(col[6]) == len(col[0]) - 1:  # the previous step's, coerced
                col[6].append(plain_text(posts[j], MAX_TEXT))
            ran = self._lines(lines[j])
            if acts[j] is None:
                if ran and col[5]:
                    col[5][-1] = sorted(set(col[5][-1]) | set(ran))
                done.append(k)
                continue
            kind = kinds[j] if kinds[j] in _ROW_KINDS else "exception"
            pred = plain_text(preds[j], MAX_TEXT)
            hit = self.memory[k] is not None and kind == ""
            if hit:
                pred = self.memory[k]  # type: ignore[assignment]
            elif kind:
                pred = ""
            col[0].append(pred)
            col[1].append(kind)
            col[2].append(plain_text(errors[j], MAX_ERROR) if kind or hit else "")  # a hit keeps a predict failure
            col[3].append(plain_text(beliefs[j], MAX_BELIEF))
            col[4].append(hit)
            col[5].append(ran)
            self.last[k] = pred
        return done, stop

    def _lines(self, value: Any) -> list[int]:
        if type(value) is not list or not value:
            return []
        return sorted({v for v in value[: self.n_lines] if type(v) is int and 0 < v <= self.n_lines})
