"""Running untrusted world-model programs in worker processes, with limits and typed outcomes.

Two entry points:

* :func:`run_job` runs one whole replay job in one worker (no per-call round trips) and
  streams back one message per trajectory; used by :mod:`patchworld.replay`.
* :func:`open_model` opens a persistent worker holding beliefs by handle, for planning.

Each job gets a fresh process (see :mod:`patchworld.sandbox_pool`): normally forked in a
millisecond by a long-lived fork server started with a scrubbed environment, else spawned as
``python -m patchworld.sandbox_worker`` with a warm spare. Each runs in its own session and
scratch directory and serves exactly one job. Limits: CPU time
(RLIMIT_CPU), address space (RLIMIT_AS), wall clock (enforced here), per-call time (SIGALRM
in the worker), captured output; see :mod:`patchworld.sandbox_worker` for the guards. When a
job ends, its whole process group is killed, so nothing it started survives. The parent
never blocks without a deadline and never unpickles worker data (frames are JSON).

``sandbox=False`` runs the same code in this process with no limits: for trusted programs
and speed comparisons only.
"""

from __future__ import annotations

import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import LoadFailure, Program, ProgramLoadError, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox_pool import clean_environment, release_worker, shutdown_pool, take_worker, use_fork_server

__all__ = ["Limits", "JobResult", "run_job", "open_model", "ModelClient", "Prediction", "ProgramLoadError",
           "ModelCallError", "clean_environment", "shutdown_pool", "use_fork_server"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed job or model session.

    ``cpu_seconds``: CPU time of the worker; ``memory_mb``: address space added on top of
    the worker's start size; ``wall_seconds``: deadline for the whole job; ``step_seconds``:
    deadline for one call into the program (and for loading it); ``output_bytes``: cap on
    printed text; ``max_step_timeouts``: a replay stops as "timeout" after this many.
    """

    cpu_seconds: float = 60.0
    memory_mb: int = 1024
    wall_seconds: float = 120.0
    step_seconds: float = 2.0
    output_bytes: int = 1_000_000
    max_step_timeouts: int = 3


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


def _job(kind: str, program: Program, limits: Limits, residual: ResidualMemory | None, **extra: Any) -> dict:
    return {"kind": kind, "source": program.source, "limits": asdict(limits),
            "residual": residual.to_dict() if residual is not None else None, **extra}


def run_job(
    program: Program,
    trajectories: list[list],
    mode: str,
    residual: ResidualMemory | None = None,
    limits: Limits | None = None,
    sandbox: bool = True,
    on_columns: Any = None,
) -> JobResult:
    """Replay ``trajectories`` (``[[index, [[obs, action, next_obs], ...]], ...]``) in one job.

    ``on_columns(index, columns)`` is called as each trajectory finishes (to score it while
    the worker carries on). Never raises for anything the program does: failures come back
    as the job outcome.
    """
    limits = limits or Limits()
    start = time.monotonic()
    result = JobResult("ok", "")
    indices = {item[0] for item in trajectories}

    def take(msg: list) -> None:
        if msg and msg[0] == "cols" and len(msg) == 7 and type(msg[1]) is int and msg[1] in indices:
            result.columns[msg[1]] = msg[2:]
            if on_columns is not None:
                on_columns(msg[1], msg[2:])

    if not sandbox:
        from patchworld.sandbox_runner import run_replay

        model = load_world_model(program.source)
        if isinstance(model, LoadFailure):
            return JobResult("load_error", model.message, seconds=time.monotonic() - start)
        result.outcome, result.detail = run_replay(
            model, trajectories, mode, residual, take, _NoTimer(), limits.max_step_timeouts,
            _in_process_fatal,
        )
        result.seconds = time.monotonic() - start
        return result

    worker = take_worker()
    try:
        deadline = start + limits.wall_seconds
        if not worker.send(_job("replay", program, limits, residual, trajectories=trajectories, mode=mode)):
            result.outcome, result.detail = "crashed", worker.death()
            return result
        while True:
            msg = worker.recv(deadline)
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


class _NoTimer:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


from patchworld.sandbox_client import (  # noqa: E402
    ModelCallError,
    ModelClient,
    Prediction,
    _in_process_fatal,
    open_model,
)
