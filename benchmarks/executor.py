"""Executor overhead: the same candidate replay through the local pool and a local Dask cluster.

Run: ``.venv/bin/python benchmarks/executor.py [--runs 7] [--jobs 16]``

Measures, interleaved (local, dask, local, dask, ...), the wall time of ``--jobs`` replays of
distinct maze children on val (every child really changes behaviour: a different constant in
the program) through each executor with 2 workers, and prints medians with min-max, the parent's
CPU time, the per-job overhead of Dask over local, and the cluster start-up time.

Then a model of a 256-candidate round on N nodes of 2 cores each (printed, documented here):

    T(N) = start + ship + ceil(256 / (2 N)) * (t_job + o_job)

where ``t_job`` is one replay's median wall time on a free core (from the local runs), ``o_job``
the measured Dask overhead per job, ``start`` the cluster start-up (0 for an existing cluster),
``ship`` the one-off broadcast of the val data (measured). It assumes candidates are independent
and equally long (true for screening replays of one parent), and ignores scheduler saturation
(Dask's scheduler handles thousands of tasks a second, far above this load).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from patchworld.data import load_trajectories  # noqa: E402
from patchworld.executors import DaskExecutor, LocalExecutor  # noqa: E402
from patchworld.program import Program  # noqa: E402
from patchworld.replay import replay  # noqa: E402


def replay_job(program: Program, trajectories: list, mode: str) -> float:
    """One candidate replay; returns its token F1 (what the gate reads)."""
    return replay(program, trajectories, mode=mode, sandbox=True).metrics["token_f1"]


def children(n: int) -> list[Program]:
    base = Program.from_file("data/programs/maze_flawed.py")
    out = []
    for i in range(n):  # each child renders a different trailing text: distinct behaviour, distinct hash
        out.append(Program.from_source(base.source + f"\n\n_BENCH_CHILD = {i}\n"))
    return out


def run_round(executor: object, programs: list[Program], shared: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    futures = [executor.submit(replay_job, p, shared, "teacher") for p in programs]  # type: ignore[attr-defined]
    for fut in futures:
        fut.result()
    return time.perf_counter() - wall, time.process_time() - cpu


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=16)
    args = parser.parse_args()
    val = load_trajectories("data/trajectories/maze/maze_traj_val.jsonl")
    programs = children(args.jobs)
    local = LocalExecutor(workers=2)
    start = time.perf_counter()
    dask = DaskExecutor(workers=2)
    start_s = time.perf_counter() - start
    ship = time.perf_counter()
    shared = dask.share(val)
    dask.submit(len, shared).result()
    ship_s = time.perf_counter() - ship
    results: dict[str, list[tuple[float, float]]] = {"local": [], "dask": []}
    try:
        run_round(local, programs[:2], val)  # warm the fork servers
        run_round(dask, programs[:2], shared)
        for _ in range(args.runs):
            results["local"].append(run_round(local, programs, val))
            results["dask"].append(run_round(dask, programs, shared))
    finally:
        local.close()
        dask.close()
    one_job = []
    for name, rows in results.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(f"{name:5s} {args.jobs} jobs, 2 workers: wall {fmt(walls)}; parent CPU median {statistics.median(cpus):.3f} s")
        one_job.append(statistics.median(walls) / math.ceil(args.jobs / 2))
    t_job, dask_job = one_job
    overhead = dask_job - t_job
    print(f"per job (wall per job slot): local {t_job * 1000:.1f} ms, dask {dask_job * 1000:.1f} ms, "
          f"overhead {overhead * 1000:+.1f} ms ({dask_job / t_job:.2f}x)")
    print(f"dask local cluster start {start_s:.2f} s; val broadcast {ship_s * 1000:.0f} ms")
    print("model of a 256-candidate round on N nodes x 2 cores (existing cluster, start = 0):")
    for nodes in (1, 2, 4, 8, 16, 32):
        t = ship_s + math.ceil(256 / (2 * nodes)) * (t_job + max(overhead, 0.0))
        print(f"  N={nodes:2d}: {t:7.2f} s  (speed-up vs N=1: "
              f"{(ship_s + 128 * (t_job + max(overhead, 0.0))) / t:5.1f}x)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (wall times are upper bounds under load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
