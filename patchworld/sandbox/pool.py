"""Which worker process a job gets: the fork server's pre-forked spare, a new forked child, or a
spawned interpreter when the fork server cannot run (thread-safe, one pool per process)."""

from __future__ import annotations

import atexit
import os
import threading

from patchworld.sandbox.procs import Dataset, ForkedWorker, ForkServer, SpawnedWorker, Worker

__all__ = ["take_worker", "release_worker", "shutdown_pool", "use_fork_server"]



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
