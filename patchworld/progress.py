"""Progress reporting: the callback type every long loop takes, and a terminal bar for CLIs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressCallback = Callable[[int, int, str], None]
"""Called as ``progress(done, total, message)``; ``total`` may be 0 when unknown."""

__all__ = ["ProgressCallback", "TextProgress", "null_progress"]


def null_progress(done: int, total: int, message: str) -> None:
    """A callback that ignores everything."""


class TextProgress:
    """A one-line terminal progress bar, usable as a :data:`ProgressCallback`.

    Redraws at most every ``interval`` seconds (and always on completion) so that a
    tight loop is not slowed by terminal writes. On a non-terminal stream it prints
    one line per completed task label instead of redrawing.
    """

    def __init__(self, label: str = "", stream: TextIO | None = None, width: int = 30, interval: float = 0.1):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self._last = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        finished = total > 0 and done >= total
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        if total > 0:
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"{self.label} [{bar}] {done}/{total} {message}".rstrip()
        else:
            text = f"{self.label} {done} {message}".rstrip()
        if self._tty:
            self.stream.write("\r\033[K" + text + ("\n" if finished else ""))
        elif finished:
            self.stream.write(text + "\n")
        self.stream.flush()
