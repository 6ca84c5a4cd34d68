"""Where jobs run: this machine (``local``, the default) or a Dask.distributed cluster (``dask``).

One small seam for everything that fans out: candidate replays in :meth:`Session.step`, the
env x program x variant x RQ sweep of ``patchworld evaluate``, and so ``make results``.

* :meth:`Executor.share` ships a large read-only value (trajectories, a residual memory) once
  per node and returns a handle to pass to jobs instead of the value (``local``: the value
  itself; ``dask``: a future scattered with ``broadcast=True``, so each worker holds one copy).
* :meth:`Executor.submit` runs ``fn(*args)`` and returns a :class:`concurrent.futures.Future`
  (``local``: a thread pool whose threads drive sandbox jobs; ``dask``: a cluster task, retried
  ``retries`` times when a worker dies mid-job, so a lost node never loses a candidate).

Every job runs the same sandbox wherever it runs: the task calls :func:`patchworld.replay.replay`
(or the evaluation function) on its node, which forks that node's sandbox workers with the
kernel limits, and returns the same typed results (a :class:`~patchworld.replay.Replay`).
Jobs must be module-level functions of trusted code; programs travel as source text.

Why Dask and not Ray (measured here, 2 cores): a Dask ``LocalCluster`` with 2 worker processes
starts in ~1.6 s under load and holds ~140 MB; a task round trip is ~11 ms; a task may fork and
set rlimits in the child (the sandbox needs both). Ray's local start was ~9 s at moderate load,
~750 MB idle, and failed 4 of 5 starts under heavy load (its fixed 15 s start-up timeout; figures
from the project's TOOLCHAIN notes, not re-measured here). See ``benchmarks/executor.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

__all__ = ["Executor", "LocalExecutor", "DaskExecutor", "make_executor", "EXECUTORS", "ExecutorError"]

EXECUTORS: tuple[str, ...] = ("local", "dask")
ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
"""Dask's standard variable for a scheduler address; ``--address`` overrides it."""


class ExecutorError(RuntimeError):
    """An executor could not be set up (unknown name, engine missing, scheduler unreachable)."""


class Executor(Protocol):
    """Runs jobs somewhere; see the module docstring."""

    name: str
    workers: int

    def share(self, value: Any) -> Any: ...

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Threads on this machine, each driving one sandbox job at a time (today's behaviour)."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pw-exec")

    def share(self, value: Any) -> Any:
        return value

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class DaskExecutor:
    """A Dask.distributed client: to ``address`` (or ``$DASK_SCHEDULER_ADDRESS``), else a local cluster.

    A local cluster has ``workers`` single-threaded worker processes (each job forks its own
    sandbox worker, so more threads per process would only contend for the cores).
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = 2):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ExecutorError("the dask executor needs 'distributed' (pip install 'dask[distributed]')") from exc
        self.retries = retries
        address = address or os.environ.get(ADDRESS_ENV) or None
        self._cluster = None
        try:
            if address:
                self._client = Client(address, timeout="20s")
            else:
                self._cluster = LocalCluster(n_workers=max(1, workers or os.cpu_count() or 1), threads_per_worker=1,
                                             processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0")
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"dask: cannot reach scheduler {address or '(local cluster)'}: {exc}") from None
        self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        self._shared: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (for tests and benchmarks)."""
        return self._client

    def share(self, value: Any) -> Any:
        with self._lock:
            held = self._shared.get(id(value))
            if held is not None and held[0] is value:
                return held[1]
            future = self._client.scatter(value, broadcast=True, hash=False)
            self._shared[id(value)] = (value, future)  # keep the value so its id is not reused
            return future

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        remote = self._client.submit(fn, *args, pure=False, retries=self.retries, **kwargs)
        local: Future = Future()

        def done(fut: Any) -> None:
            try:
                local.set_result(fut.result())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
                local.set_exception(exc)

        remote.add_done_callback(done)
        local.remote = remote  # type: ignore[attr-defined]
        return local

    def close(self) -> None:
        self._shared.clear()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str = "local", address: str | None = None, workers: int | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``dask``); :class:`ExecutorError` for anything else."""
    if name == "local":
        if address:
            raise ExecutorError("--address is for a distributed executor; the local executor has none")
        return LocalExecutor(workers)
    if name == "dask":
        return DaskExecutor(address, workers)
    if name == "ray":
        raise ExecutorError("executor 'ray' is not supported: the workbench's distributed engine is Dask "
                            "(see patchworld/executors.py for the measurements); use --executor dask")
    raise ExecutorError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
