"""How much CPU the rest of the machine is using, for the decision to shard a replay over two workers.

The kernel's 1-minute load average is a poor guide for that decision: it lags a minute behind, and
it counts processes that ran a moment ago and are idle now (a benchmark's other side, an editor's
indexing), so a session on an otherwise idle 2-core machine often saw half a core of "load" and ran
large replays on one worker. :class:`OtherLoad` measures instead, between two sharding decisions,
how many cores were busy (``/proc/stat``: every CPU's busy time, steal included) less what this
process tree used in that window (its own CPU plus the job processes reaped meanwhile): the cores
other work used lately. Windows shorter than :data:`MIN_WINDOW` are too coarse (the kernel counts in
ticks of 10 ms): the last estimate stands for :data:`STALE` seconds, after that (or with no
``/proc/stat``) the caller falls back to the load average.
"""

from __future__ import annotations

import os

__all__ = ["OtherLoad", "cpu_busy", "MIN_WINDOW", "STALE"]

MIN_WINDOW = 0.25
"""Seconds a window must last before it gives an estimate (25 ticks per core at 100 Hz)."""

STALE = 10.0
"""Seconds an estimate stands for while later windows are too short."""


def cpu_busy() -> float | None:
    """CPU-seconds every core of the machine has been busy since boot (user, nice, system, irq,
    softirq, steal; guest time is inside user), or None where ``/proc/stat`` cannot be read."""
    try:
        with open("/proc/stat", "rb") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != b"cpu":
        return None
    try:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    except ValueError:
        return None
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Cores busy with other work than this process tree, over the window since the previous update."""

    def __init__(self) -> None:
        self.start: tuple[float, float, float] | None = None   # (time, machine busy, own CPU) at the window's start
        self.value: float | None = None
        self.at = 0.0

    def update(self, now: float, busy: float | None, own: float) -> float | None:
        """The estimate after a sample at ``now`` (monotonic seconds) of the machine's busy CPU-seconds
        (:func:`cpu_busy`) and this tree's own CPU-seconds; None when there is none (yet)."""
        if busy is None:
            return None
        if self.start is None:
            self.start = (now, busy, own)
            return None
        t0, busy0, own0 = self.start
        if now - t0 >= MIN_WINDOW:
            self.value = max(0.0, (busy - busy0) - (own - own0)) / (now - t0)
            self.at = now
            self.start = (now, busy, own)
        elif self.value is not None and now - self.at > STALE:
            self.value = None
        return self.value
