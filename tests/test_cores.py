"""The sharding decision reads how many cores other work used lately, not the lagging load average."""

from __future__ import annotations

import pytest

from patchworld.sandbox import cores
from patchworld.sandbox.cores import MIN_WINDOW, STALE, OtherLoad, cpu_busy


def test_other_load_is_the_machines_busy_time_less_our_own_over_the_window() -> None:
    load = OtherLoad()
    assert load.update(100.0, 500.0, 10.0) is None                 # the first sample only opens a window
    assert load.update(101.0, 501.5, 11.2) == pytest.approx(0.3)   # 1.5 core-s busy, 1.2 of them ours
    assert load.update(101.0 + MIN_WINDOW / 2, 509.0, 11.2) == pytest.approx(0.3)  # too short: the last stands
    assert load.update(102.0, 502.3, 11.4) == pytest.approx(0.6)   # the window runs from 101.0: 0.8 - 0.2
    assert load.update(103.0, 502.8, 12.4) == 0.0                  # ours used more than was counted: never negative


def test_an_old_estimate_lapses_while_windows_stay_short() -> None:
    load = OtherLoad()
    load.update(0.0, 0.0, 0.0)
    assert load.update(1.0, 0.5, 0.0) == pytest.approx(0.5)
    load.start = (1.0 + STALE, 0.5, 0.0)           # a window opened much later and is still short
    assert load.update(1.0 + STALE + MIN_WINDOW / 2, 0.5, 0.0) is None
    assert load.update(0.0, None, 0.0) is None     # no /proc/stat: no estimate


def test_cpu_busy_reads_this_machine() -> None:
    first = cpu_busy()
    assert first is not None and first > 0
    sum(i * i for i in range(200_000))
    assert cpu_busy() >= first


def test_a_large_replay_is_sharded_when_other_work_left_the_cores_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """A load average inflated by a process that ran a moment ago does not stop sharding when the
    machine was measured idle since the last decision; measured other work does."""
    busy = iter([0.0, 0.1, 0.1 + 1.6])
    clock = iter([0.0, 1.0, 2.0])
    monkeypatch.setattr(cores, "_OTHERS", OtherLoad())
    monkeypatch.setattr(cores, "cpu_busy", lambda: next(busy))
    monkeypatch.setattr(cores.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(cores.time, "process_time", lambda: 0.0)
    monkeypatch.setattr(cores, "worker_cpu", lambda: 0.0)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.9, 1.9, 1.9))
    monkeypatch.setattr(cores, "usable_cores", lambda: 2)
    assert cores.spare_core_now() is False   # no window yet: the load average (1.9 on 2 cores) decides
    assert cores.spare_core_now() is True    # 0.1 core of other work in the last second
    assert cores.spare_core_now() is False   # 1.6 cores of other work since



def test_a_process_pinned_to_one_core_has_no_spare_core_on_an_idle_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Affinity (taskset, a container's cpuset) bounds the cores a shard could get, not the machine's count."""
    monkeypatch.setattr(cores, "_OTHERS", OtherLoad())
    monkeypatch.setattr(cores, "cpu_busy", lambda: 0.0)        # nothing else runs
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {0, 1})
    assert cores.usable_cores() == 2 and cores.spare_core_now() is True
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {1})
    assert cores.usable_cores() == 1 and cores.spare_core_now() is False
