"""A job's own view of the filesystems (the ``mounts`` kernel layer): applied by
:func:`patchworld.sandbox.kernel.isolate` before any program code runs, where the process may mount
(root with ``CAP_SYS_ADMIN``; most containers drop it: then a warning, and the layers that remain).

* a private mount namespace: nothing below propagates back to the host;
* every mount holding something the program may read (the Python installation, shared libraries,
  ``/dev/null``) remounted in that namespace **read-only and noatime**: reading a file updated its
  access time (relatime), which any later job could ``os.stat`` (allowed anywhere), a channel of one
  bit per file across jobs: the gate's isolated confirmation read back, bit by bit, what the
  candidate's first val replay had seen;
* a tmpfs of :data:`SCRATCH_MB` MiB and 1,024 inodes over the scratch directory: what a program writes
  cannot fill the host's disk, and vanishes with the process (the parent never walks a tree the
  program built: a 1,000-deep one crashed its ``shutil.rmtree`` with ``RecursionError``).

About 0.3 ms per job (unshare and a few mounts). Stdlib and ctypes only: it runs in the worker.
"""

from __future__ import annotations

import ctypes
import os
import re

__all__ = ["SCRATCH_MB", "can_mount", "private_mounts"]

SCRATCH_MB = 64
"""Size of a job's scratch tmpfs."""

_LIBC = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS, _CAP_SYS_ADMIN = 0x00020000, 21
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_NOATIME = 1, 2, 4, 8, 32, 1024
_MS_BIND, _MS_REC, _MS_PRIVATE = 4096, 0x4000, 1 << 18
_KEPT = (("nosuid", _MS_NOSUID), ("nodev", _MS_NODEV), ("noexec", _MS_NOEXEC))
_OCTAL = re.compile(r"\\([0-7]{3})")


def can_mount() -> bool:
    """Root with CAP_SYS_ADMIN in effect, so a job can have mounts of its own."""
    try:
        with open("/proc/self/status") as fh:
            caps = next((line.split()[1] for line in fh if line.startswith("CapEff:")), "0")
        return os.geteuid() == 0 and bool(int(caps, 16) >> _CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        return False


def _mount_table() -> list[tuple[str, int]]:
    """Every mount point (unescaped) with the nosuid/nodev/noexec flags it has, in mount order."""
    table = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 6:
                continue
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
            options = fields[5].split(",")
            table.append((point, sum(bit for name, bit in _KEPT if name in options)))
    return table


def _under(path: str, base: str) -> bool:
    return base == "/" or path == base or path.startswith(base + "/")


def _holding(paths: tuple[str, ...], table: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The mounts a path of ``paths`` lies on (the deepest mount point above it) or that lie below one."""
    chosen: dict[str, int] = {}
    for path in (os.path.realpath(p) for p in paths):
        above = [(point, flags) for point, flags in table if _under(path, point)]
        if above:
            point, flags = max(above, key=lambda item: len(item[0]))
            chosen[point] = flags
        chosen.update((point, flags) for point, flags in table if _under(point, path))
    return sorted(chosen.items(), key=lambda item: len(item[0]))  # parents before the mounts below them


def private_mounts(scratch: str, readable: tuple[str, ...]) -> bool:
    """Apply the layer to this process (see the module docstring); False where the kernel refused a step
    (the namespace, if made, then holds what succeeded). Call before dropping privileges."""
    try:
        table = _mount_table()
    except OSError:
        return False
    if _LIBC.unshare(_CLONE_NEWNS) != 0 or _LIBC.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return False
    ok = True
    for point, flags in _holding((*readable, "/dev/null", "/dev/urandom"), table):
        if _LIBC.mount(None, os.fsencode(point), None,
                       _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOATIME | flags, None) != 0:
            ok = False
    options = f"size={SCRATCH_MB}m,nr_inodes=1024,mode=0700".encode()
    if _LIBC.mount(b"pw-scratch", os.fsencode(scratch), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options) != 0:
        return False
    os.chdir(scratch)  # the tmpfs, not the directory under it
    return ok
