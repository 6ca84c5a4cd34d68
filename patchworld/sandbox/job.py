"""One replay job, driven in lockstep from the trusted process (see :func:`run_job`).

The worker never holds an answer: round t sends step t of every trajectory still running (the
observation to correct the belief with, the action, a residual-memory hit) and waits for every
prediction; only the next round carries the true observations of step t (teacher mode; rollout
sends none after the first). Every value that comes back is coerced here to plain ``str``/``int``
with length caps, before anything compares or scores it; the residual memory is looked up here.
A frame that breaks the protocol (size, depth, shape) ends the job as ``protocol_error``.
"""

from __future__ import annotations

import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import LoadFailure, Program, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import MAX_TEXT, ReplayRunner
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, take_worker
from patchworld.sandbox.procs import ProtocolError, Worker

__all__ = ["JobResult", "run_job", "in_process_fatal", "NoTimer", "job_message", "OUTCOMES"]

OUTCOMES = ("ok", "load_error", "timeout", "memory", "crashed", "output_limit", "protocol_error")
_ROW_KINDS = ("", "exception", "step_timeout")
_MAX_ERROR, _MAX_BELIEF, _MAX_OUTPUT = 1000, 200, 4000
_NAP = 0.001
"""How long the parent sleeps between checks for a replay worker's next message (see ``Worker.recv``)."""


@dataclass
class JobResult:
    """What came back from a replay job: columns per trajectory index, outcome and output.

    ``columns[index]`` is ``[predicted, error_kind, error, belief, from_memory, lines]``, one list
    per column, already coerced to plain values (``lines``: the program lines each step ran, when
    traced; else empty lists).
    """

    outcome: str  # one of OUTCOMES
    detail: str
    columns: dict[int, list] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    layers: list[str] = field(default_factory=list)


def job_message(kind: str, program: Program, limits: Limits, **extra: Any) -> dict:
    return {"kind": kind, "source": program.source, "limits": asdict(limits), **extra}


def _text(value: Any, cap: int) -> str:
    return value[:cap] if type(value) is str else ""


class _Lockstep:
    """The parent's side of the rounds: what to send next, and the coerced rows that came back."""

    def __init__(self, trajectories: list[list], mode: str, residual: ResidualMemory | None, n_lines: int):
        self.trajs = trajectories
        self.teacher = mode != "rollout"
        self.residual = residual
        self.n_lines = n_lines
        self.t = 0
        self.cols: list[list[list]] = [[[], [], [], [], [], []] for _ in trajectories]
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

    def take(self, reply: Any) -> tuple[list[int], list | None]:
        """Record a reply to the last round: (trajectory positions now complete, stop or None)."""
        slots, acts = self.sent
        if (type(reply) is not list or len(reply) != 9 or reply[0] != "rows"
                or not all(type(c) is list for c in reply[1:8])):
            raise ProtocolError("a round's reply is not ['rows', 7 columns, stop]")
        preds, kinds, errors, beliefs, ckinds, cerrors, lines = reply[1:8]
        m = len(preds)
        if m > len(slots) or any(len(c) != m for c in reply[2:8]):
            raise ProtocolError("a round's reply has columns of different lengths or too many rows")
        stop = reply[8]
        if stop is not None and (type(stop) is not list or len(stop) != 3 or stop[0] not in OUTCOMES):
            raise ProtocolError("a round's stop field is malformed")
        done = []
        for j in range(m):
            k = slots[j]
            col = self.cols[k]
            ckind = ckinds[j] if ckinds[j] in _ROW_KINDS else "exception"
            if ckind and col[1] and col[1][-1] == "":  # a failed correction belongs to the previous step
                col[1][-1], col[2][-1] = ckind, _text(cerrors[j], _MAX_ERROR)
            ran = self._lines(lines[j])
            if acts[j] is None:
                if ran and col[5]:
                    col[5][-1] = sorted(set(col[5][-1]) | set(ran))
                done.append(k)
                continue
            kind = kinds[j] if kinds[j] in _ROW_KINDS else "exception"
            pred = _text(preds[j], MAX_TEXT)
            hit = self.memory[k] is not None and kind == ""
            if hit:
                pred = self.memory[k]  # type: ignore[assignment]
            elif kind:
                pred = ""
            col[0].append(pred)
            col[1].append(kind)
            col[2].append(_text(errors[j], _MAX_ERROR) if kind else "")
            col[3].append(_text(beliefs[j], _MAX_BELIEF))
            col[4].append(hit)
            col[5].append(ran)
            self.last[k] = pred
        return done, stop

    def _lines(self, value: Any) -> list[int]:
        if type(value) is not list or not value:
            return []
        return sorted({v for v in value[: self.n_lines] if type(v) is int and 0 < v <= self.n_lines})


def run_job(
    program: Program,
    trajectories: list[list],
    mode: str,
    residual: ResidualMemory | None = None,
    limits: Limits | None = None,
    sandbox: bool = True,
    on_columns: Any = None,
    lean: bool = False,
    trace: bool = False,
) -> JobResult:
    """Replay ``trajectories`` (``[[index, [[obs, action, next_obs], ...]], ...]``) in lockstep.

    ``on_columns(index, columns)`` is called as each trajectory completes (to score it while the
    worker carries on). ``lean`` skips belief summaries; ``trace`` records the program lines each
    step ran. Limits scale with the number of transitions (:meth:`Limits.for_transitions`).
    Never raises for anything the program does: failures come back as the job outcome.
    """
    n = sum(len(steps) for _, steps in trajectories)
    limits = (limits or Limits()).for_transitions(n)
    start = time.monotonic()
    result = JobResult("ok", "")
    plan = _Lockstep(trajectories, mode, residual, program.source.count("\n") + 1)
    runner = _InProcess(program, limits, lean, trace) if not sandbox else _Boxed(program, limits, lean, trace, plan)
    try:
        result.outcome, result.detail, result.layers = runner.start()
        message = plan.next_round() if result.outcome == "ok" else None
        while message is not None:
            reply = runner.exchange(message, len(message[1]))
            if isinstance(reply, tuple):
                result.outcome, result.detail = reply
                break
            try:
                done, stop = plan.take(reply)
            except ProtocolError as exc:
                result.outcome, result.detail = "protocol_error", str(exc)
                break
            message = plan.next_round() if stop is None else None
            if message is not None:
                runner.post(message)
            for k in done:
                index = trajectories[k][0]
                result.columns[index] = plan.cols[k]
                if on_columns is not None:
                    on_columns(index, plan.cols[k])
            if stop is not None:
                result.outcome, result.detail, result.output = stop[0], _text(stop[1], _MAX_ERROR), _text(
                    stop[2], _MAX_OUTPUT)
    finally:
        runner.close()
    for k, (index, _) in enumerate(trajectories):
        result.columns.setdefault(index, plan.cols[k])
    result.seconds = time.monotonic() - start
    return result


class _InProcess:
    """The rounds run by a :class:`ReplayRunner` in this process (trusted programs only)."""

    def __init__(self, program: Program, limits: Limits, lean: bool, trace: bool):
        self.program, self.limits, self.lean, self.trace = program, limits, lean, trace
        self.pending: list | None = None

    def start(self) -> tuple[str, str, list[str]]:
        model = load_world_model(self.program.source)
        if isinstance(model, LoadFailure):
            return "load_error", model.message, []
        self.runner = ReplayRunner(model, NoTimer(), self.limits.max_step_timeouts, in_process_fatal, self.lean,
                                   self.trace)
        return "ok", "", []

    def post(self, message: list) -> None:
        self.pending = message

    def exchange(self, message: list, n: int) -> Any:
        if self.pending is None:
            self.pending = message
        msg, self.pending = self.pending, None
        cols, stop = self.runner.round(msg[1], msg[2], msg[3], msg[4])
        return ["rows", *cols, None if stop is None else [*stop, ""]]

    def close(self) -> None:
        pass


class _Boxed:
    """The rounds sent to a worker process, each reply read with size and depth caps."""

    def __init__(self, program: Program, limits: Limits, lean: bool, trace: bool, plan: _Lockstep):
        self.program, self.limits, self.lean, self.trace = program, limits, lean, trace
        self.worker: Worker | None = None
        self.posted = False
        self.deadline = time.monotonic() + limits.wall_seconds
        self.line_bytes = 8 * (program.source.count("\n") + 2) if trace else 8

    def start(self) -> tuple[str, str, list[str]]:
        self.worker = take_worker()
        job = job_message("replay", self.program, self.limits, lean=self.lean, trace=self.trace)
        if not self.worker.send(job):
            return "crashed", self.worker.death(), []
        first = self._recv(1 << 16)
        if isinstance(first, tuple):
            return (*first, [])
        if type(first) is list and first and first[0] == "loaded":
            layers = first[1] if len(first) > 1 and type(first[1]) is list else []
            return "ok", "", [str(v)[:40] for v in layers[:16]]
        if type(first) is list and len(first) == 4 and first[0] == "done" and first[1] in OUTCOMES:
            return first[1], _text(first[2], _MAX_ERROR), []
        return "protocol_error", "the worker's first frame is neither 'loaded' nor 'done'", []

    def post(self, message: list) -> None:
        """Send the next round now, so the worker computes while this process scores."""
        self.posted = self.worker.send(message)  # type: ignore[union-attr]

    def exchange(self, message: list, n: int) -> Any:
        if not self.posted and not self.worker.send(message):  # type: ignore[union-attr]
            return self._ended()
        self.posted = False
        per_entry = 6 * (MAX_TEXT + _MAX_BELIEF + 2 * _MAX_ERROR) + self.line_bytes + 64
        return self._recv((1 << 16) + 6 * _MAX_OUTPUT + n * per_entry)

    def _recv(self, max_bytes: int) -> Any:
        msg = self.worker.recv(self.deadline, 0, max_bytes, 4)  # type: ignore[union-attr]
        if msg == "deadline":
            return "timeout", f"wall-clock limit of {self.limits.wall_seconds:g}s reached"
        if isinstance(msg, ProtocolError):
            return "protocol_error", str(msg)
        if msg == "eof":
            return self._ended()
        return msg

    def _ended(self) -> tuple[str, str]:
        worker = self.worker
        cpu = worker.reap()  # type: ignore[union-attr]
        if worker.returncode == -signal.SIGXCPU or cpu >= self.limits.cpu_seconds:  # type: ignore[union-attr]
            return "timeout", f"CPU limit of {self.limits.cpu_seconds:g}s reached"
        return "crashed", worker.death()  # type: ignore[union-attr]

    def close(self) -> None:
        if self.worker is not None:
            release_worker(self.worker)
            self.worker = None


class NoTimer:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def in_process_fatal(exc: BaseException) -> str | None:
    """In-process mode: which exceptions end the job (memory) or the caller (KeyboardInterrupt)."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    return "memory" if isinstance(exc, MemoryError) else None
