"""One writer per run folder: an advisory lock file holding the writer's pid, host and start time.

The lock is ``<run>/writer.lock``, held with ``flock`` on an open descriptor for as long as the
writer lives, so the kernel drops it when the process dies (also on SIGKILL). ``flock`` locks
belong to an open file description, so two sessions in ONE process (two notebook tabs served
by the same ``marimo run`` server) exclude each other too. The file's content says who holds it:
a second writer gets :class:`RunLockedError` naming the holder; a lock left by a dead process
(same host, pid gone) is taken over with a warning. A clean release empties the file.

One exception: a new writer in the SAME thread that already holds the folder (a notebook cell
run again, a script that resumes its own run) takes the lock over from the older object, which
is then superseded: its next write raises :class:`RunLockedError` instead of racing. Likewise a
lock held in this process by a session whose thread has ended (a closed notebook tab not yet
garbage collected) is stale and taken over with a warning.

Readers (``load_run``, the report, the notebooks' tables) never take the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import Any

__all__ = ["LOCK_NAME", "RunLock", "RunLockedError", "lock_holder", "StaleLockWarning", "pid_alive"]

LOCK_NAME = "writer.lock"


class RunLockedError(RuntimeError):
    """Another live session writes this run folder; the message names its pid and host."""


class StaleLockWarning(UserWarning):
    """A lock left by a process that no longer exists was taken over."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (ours or someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # exists, owned by someone else
        return True
    return True


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"raw": text[:200]}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "another session (holder unknown)"
    since = f", since {holder['since']}" if holder.get("since") else ""
    what = f" ({holder['what']})" if holder.get("what") else ""
    return f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}{what}{since}"


def lock_holder(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who writes ``run_dir`` right now (``{"pid", "host", "since", ...}``), or ``None`` when nobody
    does. Takes nothing: the probe lock is released at once."""
    path = Path(run_dir) / LOCK_NAME
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        if _held_by_dead_thread(path):
            return None   # the next writer takes it over (see RunLock.acquire)
        return _read_holder(path) or {"pid": "?", "host": "?"}
    finally:
        os.close(fd)   # closing our own description drops only our probe lock
    return None


def _release(fd: int, path: Path) -> None:
    """Empty the lock file and drop the lock (runs on close, garbage collection or interpreter exit)."""
    try:
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            os.ftruncate(fd, 0)
    except OSError:
        pass
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_HELD: dict[str, tuple[int, weakref.ref]] = {}   # lock path -> (thread id, the RunLock holding it in this process)


def _thread_alive(ident: int | None) -> bool:
    return ident is not None and any(t.ident == ident for t in threading.enumerate())


def _held_by_dead_thread(path: Path) -> bool:
    """Whether this process holds ``path``'s lock through a session whose thread has ended."""
    thread, ref = _HELD.get(os.path.realpath(path), (None, None))
    older = ref() if ref is not None else None
    return older is not None and older.held and not _thread_alive(thread)


class RunLock:
    """The writer lock of one run folder. :meth:`acquire` raises :class:`RunLockedError` when a live
    session holds it; :meth:`release` (or garbage collection, or exit) gives it back."""

    _guard = threading.Lock()

    def __init__(self, run_dir: str | os.PathLike[str], what: str = ""):
        self.path = Path(run_dir) / LOCK_NAME
        self.what = what
        self._finalizer: weakref.finalize | None = None
        self._superseded = False

    @property
    def held(self) -> bool:
        return self._finalizer is not None and self._finalizer.alive

    def acquire(self) -> RunLock:
        if self.held:
            return self
        if self._superseded:
            raise RunLockedError(f"{self.path.parent}: a newer session in this thread took this run folder over; "
                                 "write through that one")
        with self._guard:
            key = os.path.realpath(self.path)
            thread, ref = _HELD.get(key, (None, None))
            older = ref() if ref is not None else None
            if older is not None and older is not self and older.held and not _thread_alive(thread):
                # its thread is gone (a closed notebook tab whose session was not collected yet): stale
                warnings.warn(f"{self.path.parent}: taking over the lock of a session whose thread has ended",
                              StaleLockWarning, stacklevel=3)
                thread = threading.get_ident()
            if older is not None and older is not self and older.held and thread == threading.get_ident():
                older.release()
                older._superseded = True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _read_holder(self.path)
                if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) \
                        and not pid_alive(holder["pid"]):
                    # the writer died but a process it forked still holds the old file: replace it
                    fd = self._take_over(holder)
                else:
                    raise RunLockedError(
                        f"{self.path.parent} is being written by {_describe(holder)}; close that session "
                        "(or let that command finish) before writing this run folder") from None
            else:
                previous = _read_holder(self.path)
                if previous:
                    warnings.warn(f"{self.path.parent}: taking over a stale lock from {_describe(previous)} "
                                  "(that process is gone)", StaleLockWarning, stacklevel=3)
            self._write_holder(fd)
            self._finalizer = weakref.finalize(self, _release, fd, self.path)
            _HELD[key] = (threading.get_ident(), weakref.ref(self))
        return self

    def _take_over(self, holder: dict[str, Any]) -> int:
        """Swap in a fresh, already locked lock file (rename is atomic); lose cleanly to a racing taker."""
        tmp = self.path.with_name(f".{LOCK_NAME}.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(tmp, self.path)
        if os.fstat(fd).st_ino != os.stat(self.path).st_ino:   # someone else replaced it after us
            os.close(fd)
            raise RunLockedError(f"{self.path.parent} is being written by {_describe(_read_holder(self.path))}")
        warnings.warn(f"{self.path.parent}: taking over a stale lock from {_describe(holder)} (that process is "
                      "gone)", StaleLockWarning, stacklevel=4)
        return fd

    def _write_holder(self, fd: int) -> None:
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)

    def release(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
