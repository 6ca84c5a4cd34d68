"""One replay job, driven in lockstep from the trusted process (see :func:`run_job`).

The worker never holds an answer: round t sends step t of every trajectory still running (the
observation to correct the belief with, the action, a residual-memory hit) and waits for every
prediction; only the next round carries the true observations of step t (teacher mode; rollout
sends none after the first). Every value that comes back is coerced here to plain ``str``/``int``
with length caps, before anything compares or scores it; the residual memory is looked up here.
A frame that breaks the protocol (size, depth, shape) ends the job as ``protocol_error``.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import LoadFailure, Program, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import MAX_TEXT, ReplayRunner
from patchworld.sandbox.cores import spare_core_now
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.lockstep import MAX_BELIEF, MAX_ERROR, MAX_OUTPUT, OUTCOMES, Lockstep, plain_text
from patchworld.sandbox.pool import release_worker, replenish_spares, take_worker
from patchworld.sandbox.precompiled import code_field, precompile
from patchworld.sandbox.procs import ProtocolError, Worker

__all__ = ["JobResult", "run_job", "in_process_fatal", "NoTimer", "job_message", "OUTCOMES"]

@dataclass
class JobResult:
    """What came back from a replay job: columns per trajectory index, outcome and output.

    ``columns[index]`` is ``[predicted, error_kind, error, belief, from_memory, lines, post]``, one
    list per column, already coerced to plain values (``lines``: the program lines each step ran,
    when traced; else empty lists; ``post``: with ``run_job(post=True)``, each step's readout after
    correction with its true observation, else empty; it may be one short when the job stopped).
    """

    outcome: str  # one of OUTCOMES
    detail: str
    columns: dict[int, list] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0
    layers: list[str] = field(default_factory=list)


def job_message(kind: str, program: Program, limits: Limits, **extra: Any) -> dict:
    return {"kind": kind, "source": program.source, "limits": asdict(limits), **extra}


_CALLS_PER_ENTRY = 6
"""Calls into the program one entry of a round can make, each under the step limit: correct, predict,
read out, read out after correcting (post), the belief summary and an error message."""

_ACTIVE = [0]  # sandbox jobs running in this process (all threads)
_ACTIVE_LOCK = threading.Lock()


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
    shards: int | None = None,
    post: bool = False,
) -> JobResult:
    """Replay ``trajectories`` (``[[index, [[obs, action, next_obs], ...]], ...]``) in lockstep.

    ``on_columns(index, columns)`` is called as each trajectory completes (to score it while the
    worker carries on; never from two threads at once). ``lean`` skips belief summaries; ``trace``
    records the program lines each step ran; ``post`` (teacher mode) adds each step's readout after
    correcting with its true observation as a 7th column (``columns[index][6]``). Limits scale with the number of transitions
    (:meth:`Limits.for_transitions`). ``shards`` worker processes share the trajectories, each a
    job of its own (``None``: two when this process runs no other sandbox job, the machine has two
    cores or more with one and a half left free by everything else (:func:`.cores.spare_core_now`: the
    cores other work used since the last decision), and the job has 200 transitions or more; else one);
    the first failing shard's outcome is the job's. Never raises for anything the program does: failures come back as the
    job outcome.
    """
    n = sum(len(steps) for _, steps in trajectories)
    if shards is None:
        shards = 2 if sandbox and n >= 200 and _ACTIVE[0] == 0 and spare_core_now() else 1
    shards = max(1, min(int(shards), len(trajectories))) if sandbox else 1
    with active_job():
        if shards == 1:
            return _run_one(program, trajectories, mode, residual, limits, sandbox, on_columns, lean, trace, post)
        return _sharded(program, trajectories, mode, residual, limits, on_columns, lean, trace, shards, post)


@contextlib.contextmanager
def active_job() -> Iterator[None]:
    """Count a sandbox job (a replay or a screening batch) as running in this process while inside:
    a large replay is sharded only when none is (each would want the cores a second shard takes)."""
    with _ACTIVE_LOCK:
        _ACTIVE[0] += 1
    try:
        yield
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE[0] -= 1


def _sharded(program: Program, trajectories: list[list], mode: str, residual: ResidualMemory | None,
             limits: Limits | None, on_columns: Any, lean: bool, trace: bool, shards: int,
             post: bool = False) -> JobResult:
    """The trajectories split into ``shards`` jobs of about equal size, run at once, results merged."""
    start = time.monotonic()
    precompile(program.source)   # once here, not in each shard's freshly forked process
    parts: list[list[list]] = [[] for _ in range(shards)]
    sizes = [0] * shards
    for item in sorted(trajectories, key=lambda item: -len(item[1])):
        k = sizes.index(min(sizes))
        parts[k].append(item)
        sizes[k] += len(item[1])
    lock = threading.Lock()

    def callback(index: int, columns: list) -> None:
        with lock:
            on_columns(index, columns)

    results: list[JobResult | None] = [None] * shards

    def go(k: int) -> None:
        try:
            results[k] = _run_one(program, parts[k], mode, residual, limits, True,
                                  callback if on_columns is not None else None, lean, trace, post, replace=False)
        except Exception as exc:  # an internal failure (no worker process): this shard's outcome
            results[k] = JobResult("crashed", f"shard {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=go, args=(k,), name=f"pw-shard-{k}") for k in range(1, shards)]
    for thread in threads:
        thread.start()
    go(0)
    for thread in threads:
        thread.join()
    replenish_spares(shards)   # not as each shard ends (a spare isolating itself takes CPU from the others)
    done = [r for r in results if r is not None]
    failed = [r for r in done if r.outcome != "ok"]
    merged = JobResult(failed[0].outcome if failed else "ok", failed[0].detail if failed else "",
                       layers=done[0].layers if done else [])
    for r in done:
        merged.columns.update(r.columns)
    merged.output = "".join(r.output for r in done)[:MAX_OUTPUT]
    merged.seconds = time.monotonic() - start
    return merged


def _run_one(program: Program, trajectories: list[list], mode: str, residual: ResidualMemory | None,
             limits: Limits | None, sandbox: bool, on_columns: Any, lean: bool, trace: bool,
             post: bool = False, replace: bool = True) -> JobResult:
    """One job in one worker (or in this process); ``replace``: pre-fork a spare as the worker is released."""
    n = sum(len(steps) for _, steps in trajectories)
    limits = (limits or Limits()).for_transitions(n)
    start = time.monotonic()
    result = JobResult("ok", "")
    plan = Lockstep(trajectories, mode, residual, program.source.count("\n") + 1, post)
    post = plan.post
    runner = _InProcess(program, limits, lean, trace, post) if not sandbox else _Boxed(program, limits, lean, trace,
                                                                                        post, replace)
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
                result.outcome, result.detail, result.output = stop[0], plain_text(stop[1], MAX_ERROR), plain_text(
                    stop[2], MAX_OUTPUT)
    finally:
        result.layers = result.layers or getattr(runner, "layers", [])
        runner.close()
    for k, (index, _) in enumerate(trajectories):
        result.columns.setdefault(index, plan.cols[k])
    result.seconds = time.monotonic() - start
    return result


class _InProcess:
    """The rounds run by a :class:`ReplayRunner` in this process (trusted programs only)."""

    def __init__(self, program: Program, limits: Limits, lean: bool, trace: bool, post: bool = False):
        self.program, self.limits, self.lean, self.trace, self.readout_after = program, limits, lean, trace, post
        self.pending: list | None = None

    def start(self) -> tuple[str, str, list[str]]:
        model = load_world_model(self.program.source)
        if isinstance(model, LoadFailure):
            return "load_error", model.message, []
        self.runner = ReplayRunner(model, NoTimer(), self.limits.max_step_timeouts, in_process_fatal, self.lean,
                                   self.trace, self.readout_after)
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


def layers_of(first: Any) -> list[str] | None:
    """The kernel layers a worker applied, from its first frame ``["layers", [...]]`` (sent before it
    read a job, so no program had run in it), or None if the frame is not that."""
    if type(first) is list and len(first) == 2 and first[0] == "layers" and type(first[1]) is list:
        return [str(v)[:40] for v in first[1][:16]]
    return None


def failed_before_loading(first: Any) -> bool:
    """Whether a worker's first frame ends the job before its program loaded: ``["done", outcome, detail,
    output]`` with a failed outcome (a load error, a crash); ``"ok"`` there is a forged frame."""
    return type(first) is list and len(first) == 4 and first[0] == "done" and first[1] in OUTCOMES and first[1] != "ok"


class _Boxed:
    """The rounds sent to a worker process, each reply read with size and depth caps."""

    def __init__(self, program: Program, limits: Limits, lean: bool, trace: bool, post: bool = False,
                 replace: bool = True):
        self.program, self.limits, self.lean, self.trace, self.readout_after = program, limits, lean, trace, post
        self.replace = replace
        self.worker: Worker | None = None
        self.posted = False
        self.deadline = time.monotonic() + limits.wall_seconds
        self.line_bytes = 8 * (program.source.count("\n") + 2) if trace else 8
        self.loaded = False
        self.layers: list[str] = []

    def start(self) -> tuple[str, str, list[str]]:
        """Send the job; the first round follows at once (the "loaded" answer is read with its reply)."""
        self.worker = take_worker()
        self.loaded = False
        job = job_message("replay", self.program, self.limits, lean=self.lean, trace=self.trace, post=self.readout_after,
                          **code_field(self.program.source))
        if not self.worker.send(job):
            return "crashed", self.worker.death(), []
        return "ok", "", []

    def _await_loaded(self) -> tuple[str, str] | None:
        layers = self._recv(1 << 16)
        if isinstance(layers, tuple):
            return layers
        applied = layers_of(layers)
        if applied is None:
            return "protocol_error", "the worker's first frame is not the layers it applied"
        self.layers = applied
        first = self._recv(1 << 16)
        if isinstance(first, tuple):
            return first
        if type(first) is list and first and first[0] == "loaded":  # its layer list, if any, is not read:
            self.loaded = True                                       # the program ran before it was sent
            return None
        if failed_before_loading(first):
            return first[1], plain_text(first[2], MAX_ERROR)
        return "protocol_error", "the worker's frame after its layers is neither 'loaded' nor a failed 'done'"

    def post(self, message: list) -> None:
        """Send the next round now, so the worker computes while this process scores."""
        self.posted = self.worker.send(message)  # type: ignore[union-attr]

    def exchange(self, message: list, n: int) -> Any:
        sent = self.posted or self.worker.send(message)  # type: ignore[union-attr]
        self.posted = False
        if not self.loaded:
            failed = self._await_loaded()
            if failed is not None:
                return failed
        if not sent:
            return self._ended()
        per_entry = 6 * ((1 + self.readout_after) * MAX_TEXT + MAX_BELIEF + 2 * MAX_ERROR) + self.line_bytes + 64
        return self._recv((1 << 16) + 6 * MAX_OUTPUT + n * per_entry, round_calls=n * _CALLS_PER_ENTRY)

    def _recv(self, max_bytes: int, depth: int = 4, round_calls: int = 0) -> Any:
        """The next frame (at most ``max_bytes``, JSON nested ``depth`` deep), or ``(outcome, detail)``.
        ``round_calls``: the calls into the program the awaited reply takes at most; each is bounded by the
        step limit, so the reply is due within that many step limits (plus a second) or the job ends: a
        program that swallows its step timeouts would otherwise hold the worker until the wall limit."""
        deadline, step = self.deadline, self.limits.step_seconds
        if round_calls and step > 0:
            deadline = min(deadline, time.monotonic() + round_calls * step + 1.0)
        msg = self.worker.recv(deadline, 0, max_bytes, depth)  # type: ignore[union-attr]
        if msg == "deadline" and deadline < self.deadline:
            return "timeout", (f"a round of {round_calls // _CALLS_PER_ENTRY} step(s) took longer than {round_calls} "
                               f"calls of {step:g}s each: a call went on after its step timeout")
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
            release_worker(self.worker, self.replace)
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
