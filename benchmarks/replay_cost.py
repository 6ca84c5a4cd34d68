"""Where a sandboxed replay's CPU goes, per env: the job's fixed cost, the worker's per-step work, this process.

For each env's shipped test split and hand-written program (``data/programs/handwritten/<env>.py``),
three replays, interleaved run by run (``--runs``, default 12; a pause before each so a spare worker
is ready, as between two edits):

* ``1 transition``: ``replay`` of the first transition alone, one worker: what any job costs
  (fork, kernel layers, audit hook, program load, exit) besides its steps;
* ``all, sandbox``: the whole split, one worker (``shards=1``);
* ``all, in-process``: the whole split with ``sandbox=False`` (the program and the scoring in this
  process, no worker).

CPU is split between the job process (as the fork server reports it on reaping it: from fork to exit)
and this process (``time.process_time``). Medians in ms. ``all, sandbox`` worker CPU less the
``1 transition`` worker CPU is the program's per-step work in the worker; compare it with the
in-process CPU (which also holds the scoring). No asserts: numbers only.

``--teardown`` adds what removing a finished job's scratch directory takes (wall ms, median of
``--runs`` x 5 one-transition jobs): where each job has its own tmpfs over the directory, an ``rmdir``
right after the kill waits for the kernel to detach that mount in the dying job's namespace; a
plain empty directory beside it. Why the removal runs on a background thread (``scratch.remove_later``).

``--precompiled`` adds, per env, an A/B of the program compiled once in this process and sent with
each job (as shipped, ``sandbox/precompiled.py``) against every job compiling it: a sharded replay of
the test split and a replay of the val split with one job per trajectory; wall and CPU (this process
plus the job processes), medians of ``--runs``.

``--edit-replay`` adds, for every env with a hand-written program (all seven), the wall time of
what a hand edit costs: a sandboxed replay of about 1,000 transitions (the env's shipped trajectory
files in name order, whole trajectories until 1,000), median of ``--runs`` after a pause each.

    .venv/bin/python benchmarks/replay_cost.py [--envs wordle,maze] [--runs 12] [--teardown] [--edit-replay]
        [--precompiled]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patchworld.data import load_trajectories  # noqa: E402
from patchworld.program import Program  # noqa: E402
from patchworld.replay import replay  # noqa: E402
from patchworld.sandbox import pool  # noqa: E402

ENVS = ("maze", "wordle", "textcraft", "babyai")


def measure(env: str, runs: int) -> dict[str, tuple[float, float]]:
    """Label -> (median job-process CPU ms, median this-process CPU ms)."""
    test = load_trajectories(next((ROOT / "data" / "trajectories" / env).glob("*_test.jsonl")))
    program = Program.from_file(ROOT / "data" / "programs" / "handwritten" / f"{env}.py")
    first = [dataclasses.replace(test[0], transitions=test[0].transitions[:1])]
    sides = (("1 transition", first, {"shards": 1}), ("all, sandbox", test, {"shards": 1}),
             ("all, in-process", test, {"sandbox": False}))
    replay(program, test, shards=1)   # warm: the fork server is up
    rows: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in sides}
    for _ in range(runs):
        for label, trajs, kw in sides:
            time.sleep(0.25)
            w0, p0 = pool.worker_cpu(), time.process_time()
            replay(program, trajs, **kw)
            parent = time.process_time() - p0
            time.sleep(0.15)   # the job process is reaped and its CPU reported
            rows[label].append(((pool.worker_cpu() - w0) * 1000, parent * 1000))
    return {label: (statistics.median(r[0] for r in vals), statistics.median(r[1] for r in vals))
            for label, vals in rows.items()}


def teardown(runs: int) -> tuple[float, float]:
    """(median ms to remove a job's scratch directory as the job ends, median ms for a plain empty one)."""
    from patchworld.sandbox import procs
    from patchworld.sandbox.scratch import make_scratch, remove_tree

    test = load_trajectories(ROOT / "data" / "trajectories" / "maze" / "maze_traj_test.jsonl")
    first = [dataclasses.replace(test[0], transitions=test[0].transitions[:1])]
    program = Program.from_file(ROOT / "data" / "programs" / "handwritten" / "maze.py")
    job_ms: list[float] = []

    def timed(path: str) -> None:   # instead of the background removal: remove now, and time it
        start = time.perf_counter()
        remove_tree(path)
        job_ms.append((time.perf_counter() - start) * 1000)

    original, procs.remove_later = procs.remove_later, timed
    try:
        for _ in range(runs * 5):
            time.sleep(0.1)
            replay(program, first, shards=1)
    finally:
        procs.remove_later = original
    plain = []
    for _ in range(runs * 5):
        path = make_scratch()
        start = time.perf_counter()
        remove_tree(path)
        plain.append((time.perf_counter() - start) * 1000)
    return statistics.median(job_ms), statistics.median(plain)


def edit_replay(env: str, runs: int) -> tuple[int, float]:
    """(transitions, median wall ms) of a sandboxed replay of about 1,000 transitions of ``env``."""
    trajs = [t for path in sorted((ROOT / "data" / "trajectories" / env).glob("*.jsonl"))
             for t in load_trajectories(path)]
    chosen, n = [], 0
    for traj in trajs:
        if n >= 1000:
            break
        chosen.append(traj)
        n += len(traj.transitions)
    program = Program.from_file(ROOT / "data" / "programs" / "handwritten" / f"{env}.py")
    replay(program, chosen)   # warm
    walls = []
    for _ in range(runs):
        time.sleep(0.3)
        start = time.perf_counter()
        replay(program, chosen)
        walls.append((time.perf_counter() - start) * 1000)
    return n, statistics.median(walls)


def precompiled_ab(env: str, runs: int) -> dict[str, tuple[float, float]]:
    """Side -> (median wall ms, median CPU ms of this process and the job processes) of two replays that load
    one program in several jobs: the test split sharded over two workers, and the val split with one job
    per trajectory (the gate's confirmation), each with the parent's precompiled code (as shipped) and with
    every job compiling the source itself. Sides interleaved run by run, a pause before each."""
    from patchworld.sandbox import job as job_module
    from patchworld.sandbox import precompiled

    folder = ROOT / "data" / "trajectories" / env
    test = load_trajectories(next(folder.glob("*_test.jsonl")))
    val = load_trajectories(next(folder.glob("*_val.jsonl")))
    program = Program.from_file(ROOT / "data" / "programs" / "handwritten" / f"{env}.py")
    replay_module = sys.modules["patchworld.replay"]   # the package's `replay` attribute is the function
    shipped = precompiled.precompile
    rows: dict[str, list[tuple[float, float]]] = {}
    replay(program, test, shards=2)   # warm
    for _ in range(runs):
        for label, trajs, kw in (("sharded test", test, {"shards": 2}), ("one job per val trajectory", val,
                                                                          {"isolate": True})):
            for side, compile_here in (("precompiled", shipped), ("compiled in each job", lambda source: None)):
                job_module.precompile = replay_module.precompile = compile_here   # type: ignore[attr-defined]
                precompiled._CACHE.clear()
                time.sleep(0.3)
                c0, start = time.process_time() + pool.worker_cpu(), time.perf_counter()
                replay(program, trajs, **kw)
                wall = time.perf_counter() - start
                time.sleep(0.3)   # every job process reaped and its CPU reported
                rows.setdefault(f"{label}, {side}", []).append((wall * 1000, (time.process_time() + pool.worker_cpu()
                                                                              - c0) * 1000))
    job_module.precompile = replay_module.precompile = shipped   # type: ignore[attr-defined]
    return {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default=",".join(ENVS))
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--teardown", action="store_true", help="also time removing a finished job's scratch directory")
    parser.add_argument("--edit-replay", action="store_true",
                        help="also time a hand edit's replay of ~1,000 transitions on all seven envs")
    parser.add_argument("--precompiled", action="store_true",
                        help="also compare jobs loading the parent's precompiled code with jobs compiling it")
    args = parser.parse_args()
    print(f"medians of {args.runs} interleaved runs, CPU ms; load average {os.getloadavg()[0]:.1f} at the start")
    print(f"{'env':10} {'replay':18} {'job process':>12} {'this process':>13} {'total':>7}")
    for env in args.envs.split(","):
        for label, (worker, parent) in measure(env, args.runs).items():
            print(f"{env:10} {label:18} {worker:12.1f} {parent:13.1f} {worker + parent:7.1f}")
    if args.edit_replay:
        for env in ("maze", "wordle", "textcraft", "babyai", "alfworld", "webshop", "sciworld"):
            n, wall = edit_replay(env, args.runs)
            print(f"hand-edit replay, {env}: {n} transitions in {wall:.0f} ms wall (median of {args.runs})")
    if args.precompiled:
        for env in args.envs.split(","):
            for label, (wall, cpu) in precompiled_ab(env, args.runs).items():
                print(f"{env:10} {label:50} wall {wall:6.1f} ms  CPU {cpu:6.1f} ms")
    if args.teardown:
        job, plain = teardown(args.runs)
        print(f"removing a finished job's scratch directory: {job:.2f} ms wall; a plain empty directory: {plain:.2f} ms "
              f"(medians of {args.runs * 5})")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
