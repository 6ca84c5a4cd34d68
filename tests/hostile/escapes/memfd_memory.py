"""Escape: memory outside the address-space limit: memfd pages written with write() are not mapped, so
RLIMIT_AS never sees them (10 x 64 MB here, against a 400 MB budget; thousands of descriptors would do)."""
import os


def _escape():
    fds = []
    chunk = b"x" * (1 << 20)
    try:
        for i in range(10):
            fd = os.memfd_create(f"pw{i}")
            fds.append(fd)
            for _ in range(64):
                os.write(fd, chunk)
        return f"memfd ok {len(fds)} x 64 MB held"
    except OSError as exc:
        return f"memfd blocked after {len(fds)}: {exc}"
