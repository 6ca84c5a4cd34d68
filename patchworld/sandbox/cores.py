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

import math
import os
import time

from patchworld.sandbox.pool import worker_cpu

__all__ = ["OtherLoad", "cpu_busy", "usable_cores", "spare_core", "spare_core_now", "MIN_WINDOW", "STALE"]

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


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity (``taskset``, a container's cpuset), not the
    machine's count: a session pinned to one core of two has no spare core to shard onto."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):   # no affinity call on this platform
        return os.cpu_count() or 1


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


class _OwnLoad:
    """This process tree's share of the 1-minute load average, estimated the way the kernel averages:
    its CPU rate (this process, plus the job processes the fork server has reaped) decayed with a
    60 s time constant, updated whenever a sharding decision is made."""

    def __init__(self) -> None:
        self.t: float | None = None
        self.cpu = 0.0
        self.value = 0.0

    def update(self, now: float, cpu: float) -> float:
        if self.t is not None and now > self.t:
            decay = math.exp(-(now - self.t) / 60.0)
            self.value = self.value * decay + max(0.0, (cpu - self.cpu) / (now - self.t)) * (1.0 - decay)
        self.t, self.cpu = now, cpu
        return self.value


_OWN = _OwnLoad()


def spare_core(load: float, own: float, cores: int) -> bool:
    """Whether a second worker would get a core of its own: two cores or more, and the load of
    everything else (the 1-minute load average less this process tree's own share) leaving at
    least one and a half free. On a busy machine a second shard only adds a worker's fixed cost
    (fork, isolation, program load: a few ms of CPU) and the two shards share the same cores; this
    process's own recent work does not count, or a session would stop sharding after a few seconds."""
    return cores >= 2 and load - own <= cores - 1.5


_OTHERS = OtherLoad()
_OTHERS.update(time.monotonic(), cpu_busy(), time.process_time())   # the first window starts at import


def spare_core_now() -> bool:
    """:func:`spare_core` on the cores other work used since the last decision (:class:`OtherLoad`),
    or on the load average less this tree's share where that cannot be measured."""
    now, cpu = time.monotonic(), time.process_time() + worker_cpu()
    own = _OWN.update(now, cpu)
    others = _OTHERS.update(now, cpu_busy(), cpu)
    cores = usable_cores()
    if cores < 2:
        return False
    if others is not None:
        return spare_core(others, 0.0, cores)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return spare_core(load, own, cores)
