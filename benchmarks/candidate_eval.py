"""Candidate evaluation cost of one maze round: today's greedy round vs the wide search, 1 vs 2 workers.

One round of ``Session.step`` on ``data/programs/maze_flawed.py`` with the mutation proposer and
``--candidates`` candidates (real mutation children: they change what the program predicts):

* ``greedy``: the round as the demo runs it (every child replayed on all of val with belief
  summaries and BLEU, a side-by-side diff rendered for each);
* ``beam``: ``search="beam"`` (children screened on a sample of val, lean replays, full val only
  for survivors, one diff for the accepted child, plus one traced replay for localisation).

Each measured round runs in a fresh process (warm: data loaded, parent replayed, sandbox pool
started) so CPU time can be counted for the whole process tree: the round's own CPU plus every
sandbox worker's (workers are reaped by the fork server, the fork server by the round's process
once the pool is shut down). Configurations are interleaved run by run (``--runs``, default 5);
the table gives medians with min-max for wall seconds, tree CPU seconds, parent-only CPU
seconds and candidates per CPU-second. The load average at the start is printed: wall times on a
shared machine are only comparable within one run of this script.

    .venv/bin/python benchmarks/candidate_eval.py [--runs 5] [--candidates 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = (("greedy", 1), ("greedy", 2), ("beam", 1), ("beam", 2))


def _tree_cpu() -> float:
    """CPU seconds of this process (and reaped children) plus every live descendant (with theirs)."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0.0, list(children.get(os.getpid(), []))
    while stack:
        pid = stack.pop()
        f = stats.get(pid)
        if f:
            total += sum(int(x) for x in f[11:15]) / ticks   # utime stime cutime cstime
        stack += children.get(pid, [])
    own = os.times()
    return total + own.user + own.system + own.children_user + own.children_system


def child(search: str, workers: int, candidates: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.sandbox import shutdown_pool
    from patchworld.synthesis import Session

    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = (load_trajectories(folder / f"maze_traj_{s}.jsonl") for s in ("train", "val"))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("maze", train, val, program=program, proposer=MutationProposer(seed=0), run_dir=tmp,
                          n_candidates=candidates, workers=workers, search=search)
        session.val_replay()     # warm: the parent's replay, the pool and the fork server exist
        cpu0, par0, t0 = _tree_cpu(), time.process_time(), time.perf_counter()
        res = session.step()
        wall, parent = time.perf_counter() - t0, time.process_time() - par0
        session.close()
        shutdown_pool()
        time.sleep(0.2)
        cpu = _tree_cpu() - cpu0
        rec = session.store.rounds()[-1]
    changed = sum(1 for v in res.verdicts if v.fixed or v.broken or "predicts exactly" not in v.reason
                  and v.score_after is not None and v.score_after != v.score_before)
    return {"wall": wall, "cpu": cpu, "parent_cpu": parent, "candidates": res.candidates,
            "full_replays": rec.get("full_replays", res.candidates), "changed": changed,
            "accepted": res.accepted is not None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        search, workers = args.child.split(":")
        print(json.dumps(child(search, int(workers), args.candidates)))
        return 0
    load = os.getloadavg()
    print(f"maze round, {args.candidates} candidates, {args.runs} interleaved runs per configuration; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs at the start")
    results: dict[tuple[str, int], list[dict]] = {c: [] for c in CONFIGS}
    for run in range(args.runs):
        order = CONFIGS if run % 2 == 0 else tuple(reversed(CONFIGS))
        for search, workers in order:
            out = subprocess.run([sys.executable, __file__, "--child", f"{search}:{workers}", "--candidates",
                                  str(args.candidates)], capture_output=True, text=True, check=True, cwd=ROOT)
            results[(search, workers)].append(json.loads(out.stdout.strip().splitlines()[-1]))

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"

    print(f"{'config':10} {'cands':>5} {'full':>4} {'wall s (min-max)':>22} {'tree CPU s':>22} {'parent CPU s':>22} "
          f"{'cands/CPU-s':>22}")
    rate: dict[tuple[str, int], float] = {}
    walls: dict[tuple[str, int], float] = {}
    for key, rows in results.items():
        per_cpu = [r["candidates"] / r["cpu"] for r in rows]
        rate[key], walls[key] = statistics.median(per_cpu), statistics.median(r["wall"] for r in rows)
        print(f"{key[0]}/{key[1]:<3}    {rows[0]['candidates']:>5} {statistics.median(r['full_replays'] for r in rows):>4.0f} "
              f"{med([r['wall'] for r in rows]):>22} {med([r['cpu'] for r in rows]):>22} "
              f"{med([r['parent_cpu'] for r in rows]):>22} {med(per_cpu):>22}")
    for workers in (1, 2):
        print(f"candidates per CPU-second, beam vs greedy ({workers} worker(s)): "
              f"x{rate[('beam', workers)] / rate[('greedy', workers)]:.2f}")
    for search in ("greedy", "beam"):
        print(f"{search}: 2 workers vs 1, wall x{walls[(search, 1)] / walls[(search, 2)]:.2f} (under the load above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
