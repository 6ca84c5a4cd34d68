"""Kernel-enforced isolation of a worker process (filled in by the kernel layers)."""

from __future__ import annotations

import os

__all__ = ["isolate"]


def isolate(scratch: str, keep_fds: tuple[int, ...], readable: tuple[str, ...]) -> list[str]:
    """Close every descriptor but ``keep_fds`` (and 0-2); the layers applied."""
    keep = sorted({0, 1, 2, *keep_fds})
    low = 0
    for fd in keep:
        if fd > low:  # os.closerange(a, b) with b <= a closes everything on some Pythons
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)
    return ["fds"]
