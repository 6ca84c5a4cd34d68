"""Running untrusted world-model programs in worker processes, with limits and typed outcomes.

Two entry points:

* :func:`run_job` runs one whole replay job in one worker (no per-call round trips) and
  streams back one message per trajectory; used by :mod:`patchworld.replay`.
* :func:`open_model` opens a persistent worker holding beliefs by handle, for planning.

Each job gets a fresh process (see :mod:`patchworld.sandbox_pool`): normally forked ahead of
time by a long-lived fork server started with a scrubbed environment (a spare waits, guards
installed and the latest replay's trajectories decoded), else spawned as ``python -m
patchworld.sandbox_worker`` with a warm spare. Each runs in its own session and scratch
directory and serves exactly one job. Limits: CPU time
(RLIMIT_CPU), address space (RLIMIT_AS), wall clock (enforced here), per-call time (SIGALRM
in the worker), captured output; see :mod:`patchworld.sandbox_worker` for the guards. When a
job ends, its whole process group is killed, so nothing it started survives. The parent
never blocks without a deadline and never unpickles worker data (frames are JSON).

``sandbox=False`` runs the same code in this process with no limits: for trusted programs
and speed comparisons only.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from patchworld.program import LoadFailure, Program, ProgramLoadError, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox_pool import Dataset, ForkedWorker, ForkServer, SpawnedWorker, Worker, clean_environment

__all__ = ["Limits", "JobResult", "run_job", "open_model", "ModelClient", "Prediction", "ProgramLoadError",
           "ModelCallError", "Dataset", "clean_environment", "take_worker", "release_worker", "shutdown_pool",
           "use_fork_server"]


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


_NAP = 0.001
"""How long the parent sleeps between checks for a replay worker's next message (see ``Worker.recv``)."""


def _job(kind: str, program: Program, limits: Limits, residual: ResidualMemory | None, **extra: Any) -> dict:
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
        from patchworld.sandbox_runner import run_replay

        if dataset is not None:
            trajectories = json.loads(dataset.data)
        model = load_world_model(program.source)
        if isinstance(model, LoadFailure):
            return JobResult("load_error", model.message, seconds=time.monotonic() - start)
        result.outcome, result.detail = run_replay(
            model, trajectories, mode, residual, take, _NoTimer(), limits.max_step_timeouts,
            _in_process_fatal,
        )
        result.seconds = time.monotonic() - start
        return result

    dataset = dataset or Dataset(trajectories)  # type: ignore[arg-type]
    worker = take_worker(dataset)
    try:
        deadline = start + limits.wall_seconds
        job = json.dumps(_job("replay", program, limits, residual, mode=mode, dataset=dataset.digest)).encode()
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


class _NoTimer:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


# ---------------------------------------------------------------- which worker a job gets


class _Pool:
    """The fork server with one pre-forked spare when it works, else spawned workers with one
    warm spare (thread-safe). The forked spare preloads the latest replay's dataset, so a
    replay of the same trajectories sends only the program; any other job gets a new child
    (requested without waiting), so a worker never holds trajectories but its own job's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: ForkServer | None = None
        self.server_failed = False
        self.spare: SpawnedWorker | None = None
        self.ready: ForkedWorker | None = None  # the pre-forked spare
        self.last: Dataset | None = None  # the latest replay's dataset, for the next spare

    def _server(self) -> ForkServer | None:
        with self.lock:
            if self.server is not None and not self.server.alive():
                self.server.stop()
                self.server = None
            if self.server is None and not self.server_failed:
                try:
                    self.server = ForkServer()
                except OSError:
                    self.server_failed = True
            return self.server

    def take(self, dataset: Dataset | None = None) -> Worker:
        server = self._server()
        if server is not None:
            try:
                return self._take_forked(server, dataset)
            except OSError:
                with self.lock:
                    self.server_failed = True
        with self.lock:
            worker, self.spare = self.spare, None
        if worker is None or worker.poll() is not None:
            if worker is not None:
                worker.kill()
            worker = SpawnedWorker()
        return worker

    def _take_forked(self, server: ForkServer, dataset: Dataset | None) -> ForkedWorker:
        """The spare if it suits (same server, alive, holding the job's dataset), else a new child."""
        with self.lock:
            worker, self.ready = self.ready, None
            self.last = dataset or self.last
        digest = dataset.digest if dataset is not None else None
        suits = worker is not None and worker.server is server and worker.dataset == digest
        if worker is not None and (not suits or worker.poll() is not None):
            worker.kill()
            worker = None
        return worker or server.request(dataset)

    def release(self, worker: Worker) -> None:
        worker.kill()
        if isinstance(worker, SpawnedWorker):
            with self.lock:
                if self.spare is None:
                    self.spare = SpawnedWorker()
        elif isinstance(worker, ForkedWorker):
            with self.lock:
                server, wanted = (self.server, self.last) if self.ready is None else (None, None)
            if server is None or server is not worker.server:
                return
            try:
                spare = server.request(wanted)
            except OSError:
                return
            with self.lock:
                spare, self.ready = (None, spare) if self.ready is None else (spare, self.ready)
            if spare is not None:
                spare.kill()

    def shutdown(self) -> None:
        with self.lock:
            workers = [w for w in (self.spare, self.ready) if w is not None]
            self.spare = self.ready = None
            self.last = None
            server, self.server = self.server, None
        for worker in workers:
            worker.kill()
        if server is not None:
            server.stop()

    def forget(self) -> None:
        """In a forked copy of this process: drop the parent's workers without touching them."""
        self.lock = threading.Lock()
        self.server = None
        self.spare = self.ready = None
        self.last = None


_POOL = _Pool()
atexit.register(_POOL.shutdown)
os.register_at_fork(after_in_child=_POOL.forget)


def take_worker(dataset: Dataset | None = None) -> Worker:
    """A fresh worker process, ready for one job; ``worker.dataset`` says whether it holds ``dataset``."""
    return _POOL.take(dataset)


def release_worker(worker: Worker) -> None:
    """Kill a worker after its job (and prepare the next one when spawning)."""
    _POOL.release(worker)


def shutdown_pool() -> None:
    """Stop the fork server and any spare worker (they restart on the next job)."""
    _POOL.shutdown()


def use_fork_server(enabled: bool) -> None:
    """Switch between the fork server (default) and spawned workers, e.g. to compare them."""
    _POOL.shutdown()
    _POOL.server_failed = not enabled


from patchworld.sandbox_client import (  # noqa: E402
    ModelCallError,
    ModelClient,
    Prediction,
    _in_process_fatal,
    open_model,
)
