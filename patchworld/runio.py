"""Crash- and disk-safe file writes for run folders: whole files via temp file + ``os.replace``,
JSON-lines appends in one write that is continued after a short write and rolled back (truncated to
the last whole line) on a disk error, and a reader that skips a torn last line."""

from __future__ import annotations

import errno
import json
import os
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["RunDiskError", "write_all", "atomic_write_text", "append_lines", "read_jsonl", "disk_error"]


class RunDiskError(OSError):
    """Writing the run folder failed (full disk, quota, read-only, I/O error): one line naming the file;
    whatever the folder held before the failed write is intact."""


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG}


def disk_error(path: Path, exc: OSError) -> OSError:
    """A one-line :class:`RunDiskError` for disk-level failures; other ``OSError`` values unchanged."""
    if isinstance(exc, RunDiskError) or exc.errno not in _DISK_ERRNOS:
        return exc
    name = errno.errorcode.get(exc.errno or 0, "?")
    return RunDiskError(exc.errno, f"cannot write {path}: {os.strerror(exc.errno or 0)} ({name}); nothing already "
                                   "written was lost: free space and resume the run")


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write is continued, not dropped)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def atomic_write_text(path: str | os.PathLike[str], text: str, fsync: bool = True) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder, fsync (unless ``fsync=False``),
    then ``os.replace``: readers and a SIGKILL see the old file or the new one, never half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            write_all(fd, text.encode("utf-8", errors="backslashreplace"))
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise disk_error(target, exc) from None
        raise
    return target


def append_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append JSON lines with a single write, then fsync. Repairs a torn previous last line first."""
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    if not payload:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
            payload = "\n" + payload  # a kill tore the last line: start ours on a fresh line
        try:
            write_all(fd, payload.encode("utf-8", errors="backslashreplace"))
            os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)   # no half line left behind: the log ends where it did
            except OSError:
                pass
            raise disk_error(path, exc) from None
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON Lines log. A torn LAST line is skipped with a warning; any other bad line is an error."""
    p = Path(path)
    if not p.exists():
        return []
    lines = p.read_text(encoding="utf-8").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            if i == len(lines):
                warnings.warn(f"{p}:{i}: ignoring a torn last line ({exc})", stacklevel=2)
                break
            # a torn line in the middle is only possible if a line was glued after a tear: skip it too
            warnings.warn(f"{p}:{i}: ignoring a corrupt line ({exc})", stacklevel=2)
            continue
        out.append(record)
    return out
