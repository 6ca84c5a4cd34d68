"""One replay job in one worker process (see :func:`run_job`)."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import LoadFailure, Program, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import run_replay
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, take_worker
from patchworld.sandbox.procs import Dataset

__all__ = ["JobResult", "run_job", "in_process_fatal", "NoTimer"]


@dataclass
class JobResult:
    """What came back from a replay job: columns per trajectory index, outcome and output.

    ``columns[index]`` is ``[predicted, error_kind, error, belief, from_memory]``, one list per
    column as :func:`patchworld.sandbox_runner.run_replay` emits them (unvalidated when they
    come from a worker: the reader checks shapes and types).
    """

    outcome: str  # "ok" | "load_error" | "timeout" | "memory" | "crashed" | "output_limit"
    detail: str
    columns: dict[int, list] = field(default_factory=dict)
    output: str = ""
    seconds: float = 0.0


_NAP = 0.001
"""How long the parent sleeps between checks for a replay worker's next message (see ``Worker.recv``)."""


def job_message(kind: str, program: Program, limits: Limits, residual: ResidualMemory | None, **extra: Any) -> dict:
    return {"kind": kind, "source": program.source, "limits": asdict(limits),
            "residual": residual.to_dict() if residual is not None else None, **extra}


def run_job(
    program: Program,
    trajectories: list[list] | Dataset,
    mode: str,
    residual: ResidualMemory | None = None,
    limits: Limits | None = None,
    sandbox: bool = True,
    on_columns: Any = None,
) -> JobResult:
    """Replay ``trajectories`` (``[[index, [[obs, action, next_obs], ...]], ...]``) in one job.

    Pass a :class:`Dataset` (the same trajectories encoded once) to replay them again cheaply:
    a pre-forked worker may already hold them, so only the program is sent. ``on_columns(index,
    columns)`` is called as each trajectory finishes (to score it while the worker carries on).
    Never raises for anything the program does: failures come back as the job outcome.
    """
    limits = limits or Limits()
    start = time.monotonic()
    result = JobResult("ok", "")
    dataset = trajectories if isinstance(trajectories, Dataset) else None
    indices = dataset.indices if dataset is not None else {item[0] for item in trajectories}

    def take(msg: list) -> None:
        if msg and msg[0] == "cols" and len(msg) == 7 and type(msg[1]) is int and msg[1] in indices:
            result.columns[msg[1]] = msg[2:]
            if on_columns is not None:
                on_columns(msg[1], msg[2:])

    if not sandbox:
        if dataset is not None:
            trajectories = json.loads(dataset.data)
        model = load_world_model(program.source)
        if isinstance(model, LoadFailure):
            return JobResult("load_error", model.message, seconds=time.monotonic() - start)
        result.outcome, result.detail = run_replay(
            model, trajectories, mode, residual, take, NoTimer(), limits.max_step_timeouts,
            in_process_fatal,
        )
        result.seconds = time.monotonic() - start
        return result

    dataset = dataset or Dataset(trajectories)  # type: ignore[arg-type]
    worker = take_worker(dataset)
    try:
        deadline = start + limits.wall_seconds
        job = json.dumps(job_message("replay", program, limits, residual, mode=mode, dataset=dataset.digest)).encode()
        if worker.dataset != dataset.digest:  # a spawned worker: the trajectories go with the job
            job = job[:-1] + b', "trajectories": ' + dataset.data + b"}"
        if not worker.send_bytes(job):
            result.outcome, result.detail = "crashed", worker.death()
            return result
        while True:
            msg = worker.recv(deadline, _NAP)
            if msg == "deadline":
                result.outcome, result.detail = "timeout", f"wall-clock limit of {limits.wall_seconds}s reached"
                break
            if msg == "eof" or not isinstance(msg, list) or not msg:
                cpu = worker.reap()
                if worker.returncode == -signal.SIGXCPU or cpu >= limits.cpu_seconds:
                    result.outcome, result.detail = "timeout", f"CPU limit of {limits.cpu_seconds}s reached"
                else:
                    result.outcome, result.detail = "crashed", worker.death()
                break
            if msg[0] == "done":
                result.outcome, result.detail = str(msg[1]), str(msg[2])
                result.output = str(msg[3]) if len(msg) > 3 else ""
                break
            take(msg)
    finally:
        release_worker(worker)
    result.seconds = time.monotonic() - start
    return result


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
