"""Where a maze round's CPU goes, phase by phase: the table behind ``candidate_eval.py``'s ratio.

Runs the same round as ``benchmarks/candidate_eval.py`` (``maze_flawed.py``, mutation proposer,
``--candidates``, one worker so jobs never overlap), each run in a fresh process, and charges CPU
to phases by wrapping the functions that do them: parent CPU as the CPU time of the thread that ran
the phase (the confirmation's jobs are driven by two helper threads, so it is charged the process's
CPU while it runs), job-process CPU as what the fork server reports for the jobs reaped meanwhile
(each wrapped call waits 0.1 s after it returns, so its jobs are reaped before the next one starts;
wall times here mean nothing). What no wrapper claims is listed as the rest: in the parent the
gate, the beam, counterexample selection, thread hand-offs; in job processes the pre-forked spare
workers. Medians over ``--runs`` rounds, milliseconds.

    .venv/bin/python benchmarks/round_cpu.py [--search beam|greedy] [--runs 3] [--candidates 64]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _measure(search: str, candidates: int) -> dict[str, list[float]]:
    """One round in this process; phase -> [parent CPU s, job-process CPU s, calls]."""
    from candidate_eval import _proc_cpu, _tree_cpu

    import patchworld.candidate_jobs as candidate_jobs
    import patchworld.localise
    import patchworld.population as population
    import patchworld.replay
    import patchworld.sandbox.batch
    import patchworld.screening as screening
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.sandbox import pool, shutdown_pool
    from patchworld.synthesis import Session

    rows: dict[str, list[float]] = {}
    lock = threading.Lock()

    def reaped() -> float:
        server = pool._POOL.server
        return server.reaped_cpu() if server is not None else 0.0

    def wrap(owner: Any, name: str, label: str | Any, clock: Any = time.thread_time, jobs: bool = True) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            tag = label(*args, **kwargs) if callable(label) else label
            if tag is None:
                return fn(*args, **kwargs)
            j0, c0 = (reaped() if jobs else 0.0), clock()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu = clock() - c0
                if jobs:
                    time.sleep(0.1)
                with lock:
                    row = rows.setdefault(tag, [0.0, 0.0, 0])
                    row[0] += cpu
                    row[1] += (reaped() - j0) if jobs else 0.0
                    row[2] += 1

        setattr(owner, name, timed)

    def replay_kind(program: Any, trajectories: Any, *args: Any, **kwargs: Any) -> str | None:
        if kwargs.get("isolate"):
            return None   # the confirmation (or the warm-up): charged by the Session._confirm wrapper
        if kwargs.get("trace_lines"):
            return "localisation: traced val replay"
        return "full val replays (survivors; greedy: every child)" if len(trajectories) > 20 else \
            "screens of single children"

    replay_mod = sys.modules["patchworld.replay"]
    wrap(MutationProposer, "propose", "proposer: mutation generation", jobs=False)
    wrap(patchworld.localise, "localise", "localisation: ranking", jobs=False)
    wrap(patchworld.sandbox.batch, "run_batch", "screening batches (sandbox jobs)")
    wrap(screening.Screener, "rows", "screen: sample rows and verdicts", jobs=False)
    wrap(screening.Screener, "judge", "screen: sample rows and verdicts", jobs=False)
    wrap(candidate_jobs, "write_candidate", "candidate files (writer thread)", jobs=False)
    wrap(Session, "_persist", "round records (summaries, candidate lines)", jobs=False)
    wrap(population, "_persist", "round records (summaries, candidate lines)", jobs=False)
    wrap(population, "_render_diff", "the accepted child's diffs", jobs=False)
    wrap(Session, "_confirm", "confirm: isolated val replay of the accepted child", time.process_time)
    wrap(replay_mod, "replay", replay_kind)

    population.FIRST_POOL = 1   # a round of exactly --candidates (not the first round's wider pool)
    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = (load_trajectories(folder / f"maze_traj_{s}.jsonl") for s in ("train", "val"))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("maze", train, val, program=program, proposer=MutationProposer(seed=0), run_dir=tmp,
                          n_candidates=candidates, workers=1, search=search)
        session.val_replay()   # warm: the parent's replay, the pool and the fork server exist
        rows.clear()
        server = pool._POOL.server
        tree0, parent0, server0 = _tree_cpu(), time.process_time(), _proc_cpu(server.proc.pid)
        session.step()
        parent = time.process_time() - parent0
        server_cpu = _proc_cpu(server.proc.pid) - server0
        session.close()
        shutdown_pool()
        time.sleep(0.2)
        tree = _tree_cpu() - tree0
    claimed = sum(v[0] for v in rows.values())
    jobs = sum(v[1] for v in rows.values())
    rows["the rest of the parent (gate, beam, counterexamples, threads)"] = [parent - claimed, 0.0, 1]
    rows["fork server"] = [0.0, server_cpu, 1]
    rows["the rest of the job processes (spare workers)"] = [0.0, tree - parent - server_cpu - jobs, 1]
    rows["total (process tree)"] = [parent, tree - parent, 1]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", choices=("beam", "greedy"), default="beam")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.search, args.candidates)))
        return 0
    load = os.getloadavg()
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--child", "--search", args.search, "--candidates",
                              str(args.candidates)], capture_output=True, text=True, check=True, cwd=ROOT)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"maze round, {args.search}, {args.candidates} candidates, 1 worker, median of {args.runs} runs; load average "
          f"{load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; ms of CPU")
    print(f"{'phase':62} {'calls':>5} {'parent':>8} {'jobs':>8} {'total':>8} {'share':>6}")
    order = Counter()
    for r in runs:
        for k, v in r.items():
            order[k] += v[0] + v[1]
    total = statistics.median(r["total (process tree)"][0] + r["total (process tree)"][1] for r in runs)
    for key, _ in sorted(order.items(), key=lambda kv: (kv[0].startswith("total"), -kv[1])):
        vals = [r.get(key, [0.0, 0.0, 0]) for r in runs]
        par, job = (statistics.median(v[i] for v in vals) * 1000 for i in (0, 1))
        calls = statistics.median(v[2] for v in vals)
        print(f"{key:62} {calls:5.0f} {par:8.1f} {job:8.1f} {par + job:8.1f} {100 * (par + job) / (total * 1000):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
