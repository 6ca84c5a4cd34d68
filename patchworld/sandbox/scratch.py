"""Scratch directories of sandbox jobs: made with the owner's pid in the name, removed without ever
raising, and the ones a killed session left behind swept away.

A job's scratch directory is the only place its program may write. Where the kernel gives each job
a small tmpfs over it (:mod:`patchworld.sandbox.mounts`) the tree a program builds there vanishes
with the process; elsewhere the parent removes it, and a program can build a tree that
``shutil.rmtree`` cannot remove (1,500 levels deep: ``RecursionError``; paths past ``PATH_MAX``),
so :func:`remove_tree` falls back to ``rm -rf``, which walks any depth. A parent killed before its
cleanup leaves its directories in the temporary folder; :func:`sweep_stale` removes those whose
owner is gone (and any of the older pid-less names not touched for a day).

:func:`remove_later` hands a finished job's directory to one background thread: removing a directory
that is still a mount point in the dying job's namespace waits for the kernel to detach that mount
(about a millisecond of sleep, not CPU: ``benchmarks/replay_cost.py --teardown``), which would otherwise
sit on the path from a job's last reply to its result. :func:`flush_removals` waits for the queue (at exit, and when the pool shuts down).
"""

from __future__ import annotations

import atexit
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time

from patchworld.runlock import pid_alive

__all__ = ["make_scratch", "remove_tree", "remove_later", "flush_removals", "sweep_stale", "sweep_stale_once"]

_PREFIXES = ("pw-sandbox-", "pw-forkserver-")
_OWNED = re.compile(r"^pw-(?:sandbox|forkserver)-p(\d+)-")
_OLD_AGE = 24 * 3600.0
_SWEPT = threading.Event()


def make_scratch(kind: str = "sandbox") -> str:
    """A new private directory in the temporary folder, named ``pw-<kind>-p<pid>-...``."""
    return tempfile.mkdtemp(prefix=f"pw-{kind}-p{os.getpid()}-")


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it, whatever a program built there; never raises."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except (RecursionError, MemoryError):
        pass
    if os.path.lexists(path):
        try:
            subprocess.run(["rm", "-rf", "--one-file-system", "--", path], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
        except (OSError, subprocess.SubprocessError):
            pass


def sweep_stale(folder: str | None = None, now: float | None = None) -> list[str]:
    """Remove scratch directories of sandbox sessions that are gone from ``folder`` (default: the
    temporary folder); the paths removed."""
    folder = folder or tempfile.gettempdir()
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(_PREFIXES) or not entry.is_dir(follow_symlinks=False):
            continue
        owned = _OWNED.match(entry.name)
        if owned:
            stale = int(owned.group(1)) != os.getpid() and not pid_alive(int(owned.group(1)))
        else:
            try:
                stale = now - entry.stat(follow_symlinks=False).st_mtime > _OLD_AGE
            except OSError:
                continue
        if stale:
            remove_tree(entry.path)
            removed.append(entry.path)
    return removed


def sweep_stale_once() -> None:
    """:func:`sweep_stale` in a background thread, once per process (when the first sandbox starts)."""
    if not _SWEPT.is_set():
        _SWEPT.set()
        threading.Thread(target=sweep_stale, name="pw-sweep", daemon=True).start()


class _Remover:
    """One daemon thread removing queued directories in order, started on first use (a forked child
    starts its own: :meth:`forget` drops the parent's queue there)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def put(self, path: str) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="pw-scratch-remover", daemon=True)
                self.thread.start()
        self.queue.put(path)

    def _run(self) -> None:
        while True:
            path = self.queue.get()
            try:
                remove_tree(path)
            finally:
                self.queue.task_done()

    def flush(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            self.queue.join()

    def forget(self) -> None:
        """In a forked child: the parent's queued paths are the parent's to remove."""
        self.queue, self.thread, self.lock = queue.Queue(), None, threading.Lock()


_REMOVER = _Remover()
atexit.register(_REMOVER.flush)
os.register_at_fork(after_in_child=_REMOVER.forget)


def remove_later(path: str) -> None:
    """Remove ``path`` (as :func:`remove_tree`) in the background; :func:`flush_removals` waits for it."""
    _REMOVER.put(path)


def flush_removals() -> None:
    """Wait until every directory handed to :func:`remove_later` is removed."""
    _REMOVER.flush()
