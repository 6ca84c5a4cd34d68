"""Screening batches seen from the trusted process: several candidates replayed in one job process.

:func:`run_batch` replays the same trajectories (teacher mode) through up to a few dozen candidate
programs in one worker (:mod:`patchworld.sandbox.multi`), driven in lockstep exactly like
:func:`patchworld.sandbox.run_job`: round t carries step t of every trajectory once, and the reply
holds one part per candidate, each checked and coerced by that candidate's own
:class:`~patchworld.sandbox.lockstep.Lockstep`. Round t+1 leaves as soon as the reply to round t has
arrived (never before: it carries round t's true observations) and before that reply's parts are
checked and recorded, so the worker computes while this process records. A candidate that fails
to load or stops on its own step timeouts or output budget gets its own outcome; anything that ends
the whole process (memory, CPU, a crash, a malformed frame, the wall deadline) is the batch's
outcome, and the caller replays those candidates one job each instead.

Candidates in a batch are not isolated from each other (one interpreter): use the result only to
decide which candidates deserve a job of their own, never as a score (``docs/SECURITY.md``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import Program
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import MAX_TEXT
from patchworld.sandbox.job import _Boxed, active_job, failed_before_loading, layers_of
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.lockstep import MAX_BELIEF, MAX_ERROR, MAX_OUTPUT, OUTCOMES, Lockstep, plain_text
from patchworld.sandbox.pool import take_worker
from patchworld.sandbox.wire import ProtocolError

__all__ = ["BatchResult", "run_batch", "MAX_BATCH"]

MAX_BATCH = 64
"""Candidates per batch at most (a job's reply grows with it)."""


@dataclass
class BatchResult:
    """A batch's outcome and, per candidate, what a job of its own would have returned:
    ``outcomes[k]`` / ``details[k]`` (its job outcome) and ``columns[k]`` (trajectory index ->
    the job columns, as :attr:`patchworld.sandbox.JobResult.columns`). Meaningful per candidate
    only when ``outcome`` is "ok"."""

    outcome: str
    detail: str
    outcomes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    columns: list[dict[int, list]] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _BoxedBatch(_Boxed):
    """The batch's worker: one "screen" job, one frame per round with a part per candidate."""

    def __init__(self, programs: list[Program], limits: Limits, lean: bool):
        super().__init__(programs[0], limits, lean, False, False)
        self.programs = programs
        self.failures: list[str | None] = [None] * len(programs)

    def start(self) -> tuple[str, str, list[str]]:
        self.worker = take_worker()
        job = {"kind": "screen", "sources": [p.source for p in self.programs], "limits": asdict(self.limits),
               "lean": self.lean}
        if not self.worker.send(job):
            return "crashed", self.worker.death(), []
        layers = self._recv(1 << 16)
        if isinstance(layers, tuple):
            return layers[0], layers[1], []
        applied = layers_of(layers)
        if applied is None:
            return "protocol_error", "the worker's first frame is not the layers it applied", []
        self.layers = applied
        first = self._recv(1 << 20)
        if isinstance(first, tuple):
            return first[0], first[1], self.layers
        if failed_before_loading(first):
            return first[1], plain_text(first[2], MAX_ERROR), self.layers
        if (type(first) is not list or len(first) != 3 or first[0] != "loaded" or type(first[2]) is not list
                or len(first[2]) != len(self.programs)):
            return ("protocol_error", "the worker's frame after its layers is neither 'loaded' for every candidate "
                    "nor a failed 'done'", self.layers)
        self.failures = [None if f is None else plain_text(f, MAX_ERROR) or "the candidate did not load"
                         for f in first[2]]
        return "ok", "", self.layers

    def round(self, message: list) -> Any:
        """The reply to ``message``, sent now unless :meth:`post` already sent it."""
        sent = self.posted or self.worker.send(message)  # type: ignore[union-attr]
        self.posted = False
        if not sent:
            return self._ended()
        per_entry = 6 * (MAX_TEXT + MAX_BELIEF + 2 * MAX_ERROR) + self.line_bytes + 64
        size = (1 << 16) + len(self.programs) * (6 * MAX_OUTPUT + len(message[1]) * per_entry)
        return self._recv(size, 5)


def run_batch(programs: list[Program], trajectories: list[list], residual: ResidualMemory | None = None,
              limits: Limits | None = None, lean: bool = True) -> BatchResult:
    """Replay ``trajectories`` (``[[index, [[obs, action, next_obs], ...]], ...]``, teacher mode)
    through every program of ``programs`` in one worker; see the module docstring. Counts as a running
    sandbox job (:func:`patchworld.sandbox.job.active_job`) while it runs."""
    with active_job():
        return _run_batch(programs, trajectories, residual, limits, lean)


def _run_batch(programs: list[Program], trajectories: list[list], residual: ResidualMemory | None,
               limits: Limits | None, lean: bool) -> BatchResult:
    if not programs or len(programs) > MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} programs, not {len(programs)}")
    start = time.monotonic()
    n = sum(len(steps) for _, steps in trajectories) * len(programs)
    limits = (limits or Limits()).for_transitions(n)
    k = len(programs)
    plans = [Lockstep(trajectories, "teacher", residual, p.source.count("\n") + 1) for p in programs]
    leader = Lockstep(trajectories, "teacher", residual, 1)   # builds each round once; every plan follows it
    result = BatchResult("ok", "", ["ok"] * k, [""] * k, [{} for _ in programs])
    runner = _BoxedBatch(programs, limits, lean)
    alive = [True] * k
    try:
        result.outcome, result.detail, result.layers = runner.start()
        for j, failure in enumerate(runner.failures):
            if failure is not None:
                alive[j], result.outcomes[j], result.details[j] = False, "load_error", failure
        message = leader.next_round() if result.outcome == "ok" else None
        while message is not None:
            for plan in plans:
                plan.follow(leader)  # the same round for every candidate (teacher mode)
            reply = runner.round(message)
            if isinstance(reply, tuple):
                result.outcome, result.detail = reply
                break
            if (type(reply) is not list or len(reply) != 3 or reply[0] != "batch" or type(reply[1]) is not list
                    or len(reply[1]) != k):
                result.outcome, result.detail = "protocol_error", "a batch reply is not ['batch', parts, stop]"
                break
            stop = reply[2]
            if stop is not None and (type(stop) is not list or len(stop) != 3 or stop[0] not in OUTCOMES):
                result.outcome, result.detail = "protocol_error", "a batch's stop field is malformed"
                break
            if stop is not None and stop[0] != "ok":   # the process is spent: no candidate's rows count
                result.outcome, result.detail = stop[0], plain_text(stop[1], MAX_ERROR)
                break
            # the reply is in, so the next round (this round's true observations) may go: the worker
            # computes it while this process checks and records every candidate's rows
            message = leader.next_round() if stop is None else None   # None: the worker ended the job
            if message is not None:
                runner.post(message)
            try:
                for j, plan in enumerate(plans):
                    if alive[j]:
                        _, own = plan.take(reply[1][j])
                        if own is not None:
                            alive[j], result.outcomes[j], result.details[j] = False, own[0], plain_text(
                                own[1], MAX_ERROR)
            except ProtocolError as exc:
                result.outcome, result.detail = "protocol_error", str(exc)
                break
    finally:
        runner.close()
    for j, plan in enumerate(plans):
        result.columns[j] = {index: plan.cols[pos] for pos, (index, _) in enumerate(trajectories)}
    result.detail = plain_text(result.detail, MAX_OUTPUT)
    result.seconds = time.monotonic() - start
    return result
