"""Scratch directories of sandbox jobs: made with the owner's pid in the name, removed without ever
raising, and the ones a killed session left behind swept away.

A job's scratch directory is the only place its program may write. Where the kernel gives each job
a small tmpfs over it (:mod:`patchworld.sandbox.mounts`) the tree a program builds there vanishes
with the process; elsewhere the parent removes it, and a program can build a tree that
``shutil.rmtree`` cannot remove (1,500 levels deep: ``RecursionError``; paths past ``PATH_MAX``),
so :func:`remove_tree` falls back to ``rm -rf``, which walks any depth. A parent killed before its
cleanup leaves its directories in the temporary folder; :func:`sweep_stale` removes those whose
owner is gone (and any of the older pid-less names not touched for a day).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from patchworld.runlock import pid_alive

__all__ = ["make_scratch", "remove_tree", "sweep_stale", "sweep_stale_once"]

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
