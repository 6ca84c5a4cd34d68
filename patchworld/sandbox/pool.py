"""Which worker process a job gets: the fork server's pre-forked spare, a new forked child, or a
spawned interpreter when the fork server cannot run (thread-safe, one pool per process).

A spare never holds anything of a job (no trajectories, no program): it only waits, isolated.
"""

from __future__ import annotations

import atexit
import os
import threading

from patchworld.sandbox.kernel import warn_missing
from patchworld.sandbox.procs import ForkedWorker, ForkServer, SpawnedWorker, Worker
from patchworld.sandbox.scratch import flush_removals

__all__ = ["take_worker", "release_worker", "replenish_spares", "shutdown_pool", "use_fork_server", "worker_cpu"]

_SPARES = 2


class _Pool:
    """The fork server with one pre-forked spare when it works, else spawned workers with one warm spare."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.server: ForkServer | None = None
        self.server_failed = False
        self.spare: SpawnedWorker | None = None
        self.ready: list[ForkedWorker] = []  # pre-forked spares (two: a sharded job takes both)
        self.warned = False
        self.refill = _Refill(self)

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

    def take(self) -> Worker:
        if not self.warned:  # once per process: say which kernel layers workers will lack
            self.warned = True
            warn_missing()
        server = self._server()
        if server is not None:
            try:
                with self.lock:
                    worker = self.ready.pop(0) if self.ready else None
                if worker is not None and (worker.server is not server or worker.poll() is not None):
                    worker.kill()
                    worker = None
                return worker or server.request()
            except OSError:
                with self.lock:
                    self.server_failed = True
        with self.lock:
            spawned, self.spare = self.spare, None
        if spawned is None or spawned.poll() is not None:
            if spawned is not None:
                spawned.kill()
            spawned = SpawnedWorker()
        return spawned

    def release(self, worker: Worker, replace: bool = True) -> None:
        worker.kill()
        if not replace:
            return
        if isinstance(worker, SpawnedWorker):
            with self.lock:
                if self.spare is None:
                    self.spare = SpawnedWorker()
        elif isinstance(worker, ForkedWorker) and worker.server is self.server:
            self.refill.ask(1)

    def replenish(self) -> None:
        """Pre-fork one spare if fewer than ``_SPARES`` wait (on the refill thread: :class:`_Refill`)."""
        with self.lock:
            current = self.server if len(self.ready) < _SPARES else None
        if current is None:
            return
        try:
            spare: ForkedWorker | None = current.request()
        except OSError:
            return
        with self.lock:  # a shutdown while asking stopped ``current``: its child must not wait in the new list
            if self.server is current and len(self.ready) < _SPARES:
                self.ready.append(spare)  # type: ignore[arg-type]
                spare = None
        if spare is not None:  # closing its pipes ends it even when its fork server is gone
            spare.kill()

    def shutdown(self) -> None:
        with self.lock:
            workers = [w for w in (self.spare, *self.ready) if w is not None]
            self.spare, self.ready = None, []
            server, self.server = self.server, None
        for worker in workers:
            worker.kill()
        if server is not None:
            server.stop()
        flush_removals()

    def forget(self) -> None:
        """In a forked copy of this process: drop the parent's workers without touching them."""
        self.lock = threading.Lock()
        self.server = None
        self.spare, self.ready = None, []
        self.refill = _Refill(self)


class _Refill:
    """Pre-forks spares on a thread of its own (started once), so a job's end never waits for it.

    Asking the fork server for a spare makes a scratch directory and two pipes; on the releasing
    thread that sat on every job's path to its result, and a new thread per request cost as much
    again: it takes the GIL for the request before ``Thread.start`` returns."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.cond = threading.Condition(threading.Lock())
        self.wanted = 0
        self.thread: threading.Thread | None = None

    def ask(self, n: int) -> None:
        """Pre-fork up to ``n`` spares soon (never more than the pool keeps)."""
        with self.cond:
            self.wanted = max(self.wanted, n)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._serve, name="pw-replenish", daemon=True)
                self.thread.start()
            self.cond.notify()

    def _serve(self) -> None:
        while True:
            with self.cond:
                while not self.wanted:
                    self.cond.wait()
                n, self.wanted = self.wanted, 0
            for _ in range(n):
                self.pool.replenish()


_POOL = _Pool()
atexit.register(_POOL.shutdown)
os.register_at_fork(after_in_child=_POOL.forget)


def take_worker() -> Worker:
    """A fresh, isolated worker process, ready for one job."""
    return _POOL.take()


def release_worker(worker: Worker, replace: bool = True) -> None:
    """Kill a worker after its job and, with ``replace``, pre-fork a spare for the next one (a shard of a
    job passes False: a spare isolating itself would take CPU from the shards still running; the job
    calls :func:`replenish_spares` when all are done)."""
    _POOL.release(worker, replace)


def replenish_spares(n: int = _SPARES) -> None:
    """Pre-fork up to ``n`` spares (never more than the pool keeps), on the pool's refill thread."""
    _POOL.refill.ask(n)


def worker_cpu() -> float:
    """CPU seconds of the job processes the fork server has reaped so far (0.0 without one)."""
    server = _POOL.server
    try:
        return server.reaped_cpu() if server is not None else 0.0
    except OSError:
        return 0.0


def shutdown_pool() -> None:
    """Stop the fork server and any spare worker (they restart on the next job)."""
    _POOL.shutdown()


def use_fork_server(enabled: bool) -> None:
    """Switch between the fork server (default) and spawned workers, e.g. to compare them."""
    _POOL.shutdown()
    _POOL.server_failed = not enabled
