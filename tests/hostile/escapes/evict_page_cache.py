"""Escape: evict the shared page cache of a file every process uses (posix_fadvise DONTNEED on the
standard library's os.py): with reads that load pages, a re-writable bit per file for a job running
beside it, and a slower parent."""
import os


def _escape():
    fd = os.open(os.__file__, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return "fadvise ok"
    except OSError as exc:
        return f"fadvise blocked {exc}"
