"""Candidate evaluation cost of one maze round: today's greedy round vs the wide search, 1 vs 2 workers.

One round of ``Session.step`` on ``data/programs/maze_flawed.py`` with the mutation proposer and
``--candidates`` candidates (real mutation children: they change what the program predicts):

* ``greedy``: the round as the demo runs it (every child replayed on all of val with belief
  summaries and BLEU, a side-by-side diff rendered for each);
* ``beam``: ``search="beam"`` (children screened on a sample of val in batches, one sandbox job per
  batch (:func:`patchworld.screening.evaluate_batch`), full val (a job each) only for survivors,
  diffs for the accepted child only, plus one traced replay for localisation).

Each measured round runs in a fresh process (warm: data loaded, parent replayed, sandbox pool
started) so CPU time can be counted for the whole process tree: the round's own CPU plus every
sandbox worker's (workers are reaped by the fork server, the fork server by the round's process
once the pool is shut down). Run folders stay on disk until the last run is done, as a real run's
would (deleting a round's few hundred files just before the next run's round made that round's new
files slower to create on ext4 without a journal). Configurations are interleaved run by run (``--runs``, default 5);
the table gives medians with min-max for wall seconds, tree CPU seconds, parent-only CPU
seconds and candidates per CPU-second. The load average at the start is printed: wall times on a
shared machine are only comparable within one run of this script.
The 2-workers-vs-1 line also prints its ceiling: with one worker the parent (proposer, scoring,
files) already runs beside the worker, keeping tree CPU / wall cores busy; two workers can at best
make the round use every core, and cannot shorten the parent's own single-threaded CPU: the
largest speed-up possible is wall / max(tree CPU / cores, parent CPU) of the 1-worker round. A second
line splits each run's ratio exactly: wall1 / wall2 = (wall1 / (T2 / cores)) x ((T2 / cores) / wall2),
a CPU bound (no 2-worker round using the tree CPU T2 it used can beat it) times a packing (how fully
the 2-worker round kept the cores busy).

    .venv/bin/python benchmarks/candidate_eval.py [--runs 5] [--candidates 64] [--greedy-candidates 4] [--one-job]

The beam round's wall is also split by phase (``phase_walls``), 1 worker against 2: proposing
(localisation included), screening and replaying the candidates (and a new program's probes, one
screening batch per worker, screened before the pool is proposed), confirming the winner (one job per
trajectory, two at once whatever the workers setting), writing files. Only the second phase runs
more candidate jobs at once with 2 workers; the others bound what a second worker can save. The line
after it says how much, run by run (``benchmarks/phase_bound.py``, Amdahl's law): the 1-worker round with its
screening phase run on every core and the rest unchanged, and how much faster screening would have to
get for the issue's x1.6.

``--one-job`` adds the beam round with never two sandbox jobs at once (one worker slot, no replay
sharded over two workers, the confirmation's jobs one by one): against it, the 2-worker round shows
what running jobs side by side buys at all. The last line measures the machine itself
(``benchmarks/machine.py``, a few pairs after each run, so in the same minutes as the rounds): how much
work two CPU-bound processes at once do against one, the most any two-process speed-up can reach here.

``--one-core`` adds the beam round with one worker and the whole process tree pinned to one core:
against it, 2 workers on 2 cores show how the round scales with cores (with one worker on two cores
the round already runs work beside its worker and shards large replays onto the idle core).

``--greedy-candidates`` sets the greedy round's pool alone (default: ``--candidates``); 4 is the
round as ``make demo`` runs it.

``--breakdown`` says where a screened candidate's CPU goes, so the bound on batching can be read
off: (1) one sandbox job per size (1 transition, the screening sample a ``Screener`` picks for
``maze_flawed.py``, all of val), CPU of the job processes, of the fork server and of this process;
(2) what every job process costs before it replays anything, step by step, measured on processes
forked the way the fork server forks them (after its warm-up load): fork and exit, + the kernel
layers (``isolate``), + the audit hook, + loading the program; (3) a screening batch of 32 mutants (``--batch``)
of ``maze_flawed.py`` on the same sample: CPU per child in the job process and in this process, and
the wall time of one batch job (after a pause, so a spare is ready). Medians over ``--runs`` x 20
jobs (x 5 batches).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, fresh_ratios  # noqa: E402  (benchmarks/machine.py)
from phase_bound import SCREEN, phase_bound_line  # noqa: E402  (benchmarks/phase_bound.py)

CONFIGS: tuple[tuple[str, Any], ...] = (("greedy", 1), ("greedy", 2), ("beam", 1), ("beam", 2))
MACHINE_PAIRS = 3
"""Pairs of :func:`machine.two_at_once` measured after each run of the configurations (interleaved, so the
machine's ceiling comes from the same minutes as the rounds it bounds)."""
ONE_JOB = "one-job"
"""``--one-job``'s configuration: one worker slot, and no replay sharded over two workers, and the
confirmation's jobs one at a time: the round never runs two sandbox jobs at once."""
ONE_CORE = "1-core"
"""``--one-core``'s configuration: one worker, the whole process tree pinned to one core (CPU
affinity, inherited by the fork server and every job process): the round as a 1-core machine runs
it, against which 2 workers on 2 cores show how the round scales with cores."""


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


PHASES = ("propose", SCREEN, "confirm", "files")
"""Wall-clock phases of a beam round (``phase_walls``); the rest of the round is the gate, the beam and
thread hand-offs."""


def phase_walls() -> dict[str, float]:
    """Wrap the functions that do a beam round's phases; returns phase -> wall seconds, filled as they run:
    propose (localisation with its traced replay, mutations, second steps), screen and replay (the
    screening batches and the survivors' full val replays, combined children included, a new program's
    probes), confirm (the
    winner's replay with every trajectory in a job of its own), files (replay summaries, candidate
    lines, the accepted child's diffs)."""
    import patchworld.localise
    import patchworld.population as population
    import patchworld.synthesis as synthesis

    walls = dict.fromkeys(PHASES, 0.0)

    def timed(owner: Any, name: str, phase: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                walls[phase] += time.perf_counter() - t0

        setattr(owner, name, wrapper)

    for owner, name, phase in ((population, "_lines", "propose"), (patchworld.localise, "localise", "propose"),
                               (population, "run_probes", "screen and replay"),
                               (population, "second_steps", "propose"), (population, "collect", "screen and replay"),
                               (synthesis.Session, "_confirm_best", "confirm"), (population, "_persist", "files"),
                               (population, "_render_diff", "files")):
        timed(owner, name, phase)
    from patchworld.proposers.mutation import MutationProposer

    timed(MutationProposer, "propose", "propose")
    return walls


def child(search: str, workers: int, candidates: int, one_job: bool = False, one_core: bool = False,
          runs_in: str | None = None) -> dict:
    if one_core:   # before anything starts: every process of the tree inherits it
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    sys.path.insert(0, str(ROOT))
    if one_job:   # never two sandbox jobs at once: no sharded replay, the confirmation's jobs one by one
        import patchworld.replay
        import patchworld.sandbox.job

        sys.modules["patchworld.replay"].ISOLATED_AT_ONCE = 1
        patchworld.sandbox.job.spare_core_now = lambda: False
    import patchworld.population
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.sandbox import shutdown_pool
    from patchworld.synthesis import Session

    patchworld.population.FIRST_POOL = 1   # a round of exactly --candidates (not the first round's wider pool)
    walls = phase_walls() if search == "beam" else {}
    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = (load_trajectories(folder / f"maze_traj_{s}.jsonl") for s in ("train", "val"))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    # the run folder stays until every run is done (``main``): deleting hundreds of files right before
    # the next run's round makes its inode allocations slower on some file systems (ext4 without a journal)
    with contextlib.nullcontext(tempfile.mkdtemp(dir=runs_in)) if runs_in else tempfile.TemporaryDirectory() as tmp:
        session = Session("maze", train, val, program=program, proposer=MutationProposer(seed=0), run_dir=tmp,
                          n_candidates=candidates, workers=workers, search=search)
        session.val_replay()     # warm: the parent's replay, the pool and the fork server exist
        walls.update(dict.fromkeys(walls, 0.0))
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
            "accepted": res.accepted is not None, "phases": walls}


def _proc_cpu(pid: int) -> float:
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def breakdown(runs: int, batch: int = 32) -> None:
    """Print where a sandbox job's CPU goes (see the module docstring)."""
    sys.path.insert(0, str(ROOT))
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.replay import replay
    from patchworld.sandbox import pool
    from patchworld.screening import Screener

    folder = ROOT / "data" / "trajectories" / "maze"
    val = load_trajectories(folder / "maze_traj_val.jsonl")
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    parent = replay(program, val, lean=True)
    sample = Screener(parent, val).sample
    sizes = {"1 transition": ([val[0]], 1), f"screening sample ({len(sample)} trajectories)": (sample, None),
             f"all of val ({len(val)} trajectories)": (val, None)}
    print(f"(1) one sandbox job of maze_flawed.py, lean; ms of CPU per job, median of {runs} x 20 jobs")
    print(f"{'job':34} {'rows':>5} {'job process':>12} {'fork server':>12} {'this process':>13} {'total':>7}")
    for label, (trajs, cap) in sizes.items():
        rows = []
        for _ in range(runs):
            server = pool._POOL.server
            w0, s0, p0 = server.reaped_cpu(), _proc_cpu(server.proc.pid), time.process_time()
            for _ in range(20):
                rep = replay(program, trajs, lean=True, max_steps=cap)
            time.sleep(0.3)  # the last job process is reaped
            rows.append([(server.reaped_cpu() - w0) * 50, (_proc_cpu(server.proc.pid) - s0) * 50,
                         (time.process_time() - p0) * 50])
        med = [statistics.median(r[i] for r in rows) for i in range(3)]
        print(f"{label:34} {rep.steps.height:>5} {med[0]:>12.2f} {med[1]:>12.2f} {med[2]:>13.2f} {sum(med):>7.2f}")
    print("(2) a job process before it replays anything (forked like the fork server forks it); ms of CPU, "
          f"median of {runs} x 20")
    steps = ("fork and exit", "+ kernel layers (isolate)", "+ audit hook", "+ load the program")
    for k, label in enumerate(steps):
        cpus = [_forked_cost(k, program.source) for _ in range(runs * 20)]
        print(f"  {label:28} {statistics.median(cpus) * 1000:6.2f}")
    _batch_cost(runs, program, parent, val, batch)


def _batch_cost(runs: int, program: object, parent: object, val: list, size: int = 32) -> None:
    """(3) of the breakdown: a screening batch of ``size`` mutants, CPU per child."""
    from patchworld.patches import apply_patch
    from patchworld.program import Program
    from patchworld.proposers.base import ProposalRequest
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.sandbox import pool
    from patchworld.sandbox.batch import run_batch
    from patchworld.screening import Screener

    screener = Screener(parent, val)
    request = ProposalRequest(env="maze", program=program, counterexamples=parent.counterexamples()[:8], n=size,
                              round=1, seed=1, train=[], replay=parent)
    kids = [Program(source=apply_patch(program.source, p.patch).source)
            for p in MutationProposer(seed=0).propose(request)]
    rows, walls = [], []
    for _ in range(runs):
        server = pool._POOL.server
        w0, p0 = server.reaped_cpu(), time.process_time()
        for _ in range(5):
            time.sleep(0.2)   # a spare is ready, as when a round sends its batches
            t0 = time.perf_counter()
            batch = run_batch(kids, screener.payload)
            walls.append(time.perf_counter() - t0)
            for k in range(len(kids)):
                screener.judge(screener.rows(batch.columns[k], batch.outcomes[k], batch.details[k]))
        time.sleep(0.3)
        rows.append([(server.reaped_cpu() - w0) * 200 / len(kids), (time.process_time() - p0) * 200 / len(kids)])
    med = [statistics.median(r[i] for r in rows) for i in range(2)]
    print(f"(3) a screening batch of {len(kids)} mutants on the sample ({screener.n_rows} rows each); ms of CPU per "
          f"child, median of {runs} x 5 batches: job process {med[0]:.2f}, this process {med[1]:.2f} "
          f"(screen included), total {sum(med):.2f}; wall of a batch (the job alone, no screening) "
          f"{statistics.median(walls) * 1000:.1f} ms [{min(walls) * 1000:.0f}-{max(walls) * 1000:.0f}]")


def _forked_cost(k: int, source: str) -> float:
    """CPU seconds of one process forked from this one doing the first ``k`` start-up steps of a job process."""
    import gc
    import importlib
    import shutil

    from patchworld.program import load_world_model
    from patchworld.sandbox.guard import install_audit_hook, readable_roots, real_paths
    from patchworld.sandbox.kernel import isolate, prepare
    from patchworld.sandbox.worker import _PRELOAD, _warm_up

    for name in _PRELOAD:
        importlib.import_module(name)
    prepare()
    real_paths(readable_roots())
    _warm_up()
    scratch = tempfile.mkdtemp(prefix="pw-bench-")
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.chdir(scratch)
            if k >= 1:
                isolate(scratch, (), readable_roots())
            if k >= 2:
                install_audit_hook(scratch, readable_roots())
            if k >= 3:
                load_world_model(source)
        finally:
            os._exit(0)
    _, _, usage = os.wait4(pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--greedy-candidates", type=int, default=None,
                    help="the greedy round's pool (default: --candidates; 4 is the demo's round)")
    ap.add_argument("--breakdown", action="store_true", help="where a sandbox job's CPU goes (see the docstring)")
    ap.add_argument("--batch", type=int, default=32, help="--breakdown: mutants in the screening batch (at most 64)")
    ap.add_argument("--one-job", action="store_true",
                    help="also time the beam round with never two sandbox jobs at once (config 'beam/one-job')")
    ap.add_argument("--one-core", action="store_true",
                    help="also time the beam round with 1 worker pinned to one core (config 'beam/1-core')")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--runs-in", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.breakdown:
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs at the start")
        breakdown(args.runs, args.batch)
        return 0
    if args.child:
        search, workers, *mode = args.child.split(":")
        print(json.dumps(child(search, int(workers), args.candidates, mode == ["one"], mode == ["core"], args.runs_in)))
        return 0
    pools = {"greedy": args.greedy_candidates or args.candidates, "beam": args.candidates}
    load = os.getloadavg()
    print(f"maze round, {pools['greedy']} (greedy) / {pools['beam']} (beam) candidates, {args.runs} interleaved runs "
          "per configuration; "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs at the start")
    configs = CONFIGS + ((("beam", ONE_JOB),) if args.one_job else ()) + ((("beam", ONE_CORE),) if args.one_core else ())
    results: dict[tuple[str, Any], list[dict]] = {c: [] for c in configs}
    machine: list[float] = []
    with tempfile.TemporaryDirectory(prefix="pw-candidate-eval-") as runs_in:   # removed after the last run
        for run in range(args.runs):
            order = configs if run % 2 == 0 else tuple(reversed(configs))
            for search, workers in order:
                spec = {ONE_JOB: f"{search}:1:one", ONE_CORE: f"{search}:1:core"}.get(workers, f"{search}:{workers}")
                out = subprocess.run([sys.executable, __file__, "--child", spec, "--candidates", str(pools[search]),
                                      "--runs-in", runs_in], capture_output=True, text=True, check=True, cwd=ROOT)
                results[(search, workers)].append(json.loads(out.stdout.strip().splitlines()[-1]))
            machine += fresh_ratios(MACHINE_PAIRS)   # the machine in the same minutes as this run's rounds

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"

    print(f"{'config':13} {'cands':>5} {'full':>4} {'wall s (min-max)':>22} {'tree CPU s':>22} {'parent CPU s':>22} "
          f"{'cands/CPU-s':>22}")
    rate: dict[tuple[str, Any], float] = {}
    walls: dict[tuple[str, Any], float] = {}
    for key, rows in results.items():
        per_cpu = [r["candidates"] / r["cpu"] for r in rows]
        rate[key], walls[key] = statistics.median(per_cpu), statistics.median(r["wall"] for r in rows)
        print(f"{key[0] + '/' + str(key[1]):<13} {rows[0]['candidates']:>5} {statistics.median(r['full_replays'] for r in rows):>4.0f} "
              f"{med([r['wall'] for r in rows]):>22} {med([r['cpu'] for r in rows]):>22} "
              f"{med([r['parent_cpu'] for r in rows]):>22} {med(per_cpu):>22}")
    for workers in (1, 2):
        print(f"candidates per CPU-second, beam vs greedy ({workers} worker(s)): "
              f"x{rate[('beam', workers)] / rate[('greedy', workers)]:.2f}")
    cores = min(2, os.cpu_count() or 1)
    for search in ("greedy", "beam"):
        # With 1 worker the parent (proposer, scoring, files) already runs beside the worker, so the
        # round keeps tree CPU / wall cores busy; 2 workers can neither use more than `cores` cores nor
        # make the parent's own (single-threaded) CPU shorter: wall >= max(tree CPU / cores, parent CPU).
        one = results[(search, 1)]
        busy = statistics.median(r["cpu"] / r["wall"] for r in one)
        ceiling = statistics.median(r["wall"] / max(r["cpu"] / cores, r["parent_cpu"]) for r in one)
        print(f"{search}: 2 workers vs 1, wall x{walls[(search, 1)] / walls[(search, 2)]:.2f} (under the load above); "
              f"1 worker already keeps {busy:.2f} cores busy and the parent alone needs "
              f"{statistics.median(r['parent_cpu'] / r['wall'] for r in one):.0%} of its wall: at most x{ceiling:.2f}"
              + (f" on two full cores, and the machine gave x{statistics.median(machine):.2f} for two processes "
                 "at once in the same minutes" if machine else ""))
        # Exact per run (the runs are interleaved, so run i of each configuration shares its minutes): a
        # 2-worker round that used tree CPU T2 on `cores` cores takes at least T2 / cores, so
        # wall1 / wall2 = (wall1 / (T2 / cores)) x ((T2 / cores) / wall2): a CPU bound times a packing.
        two = results[(search, 2)]
        bound = [a["wall"] / (b["cpu"] / cores) for a, b in zip(one, two, strict=True)]
        packing = [(b["cpu"] / cores) / b["wall"] for b in two]
        ratio = [a["wall"] / b["wall"] for a, b in zip(one, two, strict=True)]
        print(f"{search}: per run, 2 workers vs 1 x{statistics.median(ratio):.2f}"
              f" = a CPU bound x{statistics.median(bound):.2f} [{min(bound):.2f}-{max(bound):.2f}] (the 1-worker wall "
              f"against the 2-worker round's own tree CPU spread over {cores} cores) times a packing of "
              f"{statistics.median(packing):.0%} [{min(packing):.0%}-{max(packing):.0%}] (how fully the 2-worker "
              f"round kept {cores} cores busy; medians over runs, so the product only roughly matches)")
    print("beam round, wall seconds by phase (median): " + "; ".join(
        f"{phase} " + " / ".join(f"{statistics.median(r['phases'][phase] for r in results[('beam', w)]):.3f}"
                                 for w in (1, 2)) for phase in PHASES)
          + " (1 / 2 workers; the workers setting decides only how many candidate jobs screen and replay runs at once)")
    print(phase_bound_line(results[("beam", 1)], results[("beam", 2)], cores))
    if args.one_job:
        print(f"beam: 2 workers vs one job at a time (no sharding, the confirmation's jobs one by one), wall "
              f"x{walls[('beam', ONE_JOB)] / walls[('beam', 2)]:.2f}; 1 worker slot vs one job at a time "
              f"x{walls[('beam', ONE_JOB)] / walls[('beam', 1)]:.2f}")
    if args.one_core:
        print(f"beam: 2 workers on 2 cores vs 1 worker on 1 core (the tree pinned), wall "
              f"x{walls[('beam', ONE_CORE)] / walls[('beam', 2)]:.2f}; tree CPU on 1 core "
              f"{statistics.median(r['cpu'] for r in results[('beam', ONE_CORE)]):.2f} s against "
              f"{statistics.median(r['cpu'] for r in results[('beam', 2)]):.2f} s on 2")
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")
    print(describe(machine) + f" ({MACHINE_PAIRS} pairs after each run of the configurations)" if machine
          else "machine: not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
