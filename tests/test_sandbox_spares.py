"""Spare workers: a sharded job pre-forks its spares only when every shard is done, and then does."""

from __future__ import annotations

import time

from patchworld.program import Program
from patchworld.sandbox import Limits, job, pool, run_job

ECHO = Program(source="class M:\n    def init_belief(self): return 0\n    def correct_belief(self, b, o): return b\n"
                      "    def predict_belief(self, b, a): return b\n"
                      "    def readout_observation(self, b, a=''): return 'seen'\n")


def test_a_sharded_job_replaces_its_workers_after_its_last_shard(monkeypatch) -> None:
    released: list[tuple[float, bool]] = []
    replenished: list[float] = []
    release, replenish = pool.release_worker, pool.replenish_spares

    def record_release(worker, replace=True):
        released.append((time.monotonic(), replace))
        release(worker, replace)

    def record_replenish(n=2):
        replenished.append(time.monotonic())
        replenish(n)

    monkeypatch.setattr(job, "release_worker", record_release)
    monkeypatch.setattr(job, "replenish_spares", record_replenish)
    trajectories = [[k, [["o", "a", "seen"]] * 3] for k in range(4)]
    result = run_job(ECHO, trajectories, "teacher", limits=Limits(wall_seconds=60), shards=2)
    assert result.outcome == "ok" and sorted(result.columns) == [0, 1, 2, 3]
    deadline = time.monotonic() + 10
    while not replenished and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(released) == 2 and not any(replace for _, replace in released)  # no spare while a shard ran
    assert replenished and replenished[0] >= max(t for t, _ in released)      # one call, after both shards
    if pool._POOL.server is not None:   # the fork server's pre-forked spares (spawned workers keep one warm)
        deadline = time.monotonic() + 10
        while len(pool._POOL.ready) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(pool._POOL.ready) == 2


def test_a_single_job_replaces_its_worker_as_it_is_released(monkeypatch) -> None:
    released: list[bool] = []
    release = pool.release_worker
    monkeypatch.setattr(job, "release_worker", lambda worker, replace=True: (released.append(replace),
                                                                             release(worker, replace)))
    assert run_job(ECHO, [[0, [["o", "a", "seen"]]]], "teacher", shards=1).outcome == "ok"
    assert released == [True]


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_spare_asked_for_while_the_pool_shuts_down_does_not_outlive_its_fork_server(monkeypatch) -> None:
    """The refill thread asks a fork server for a spare; the pool shuts down (stopping that server)
    before the answer is filed. The spare's process must end, not wait orphaned for a job."""
    assert run_job(ECHO, [[0, [["o", "a", "seen"]]]], "teacher", shards=1).outcome == "ok"
    server = pool._POOL._server()
    if server is None:
        return  # spawned workers only: no fork server to race with
    with pool._POOL.lock:
        ready, pool._POOL.ready = pool._POOL.ready, []
    for spare in ready:
        spare.kill()
    asked = []
    request = server.request

    def request_then_shut_down():
        worker = request()
        asked.append(worker.pid)   # forked: the server answered
        pool.shutdown_pool()       # as another thread would, between the request and its filing
        return worker

    monkeypatch.setattr(server, "request", request_then_shut_down)
    pool._POOL.replenish()
    assert asked and pool._POOL.ready == []
    deadline = time.monotonic() + 10
    while _running(asked[0]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(asked[0])
