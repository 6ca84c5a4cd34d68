"""Repair benchmark: plant bugs in the hand-written programs, run the offline loop, count repairs.

For each env (maze, wordle, babyai, textcraft by default) the hand-written program in
``data/programs/handwritten/<env>.py`` gets single-site bugs from :mod:`patchworld.bugs` (seven
operators). Only bugs that lower the program's val score are kept (a bug val cannot see is
not a bug the loop can be asked to find); they are picked round-robin over operators with a
fixed seed, then two- and three-bug programs from distinct kept bugs. Each buggy program
runs through ``Session(search="beam")`` with the mutation proposer (``--candidates`` a round,
``--workers`` sandboxes) until its val score is back to the original program's (the
benchmark's stop rule: it knows the original), the time budget ``--budget`` runs out, or
``--max-rounds`` rounds pass. A bug counts as repaired when the final program's *test*
token F1 (read only here, after the loop) is at least the original program's. Prints one
line per bug, then per kind (1, 2, 3 bugs): repair rate and median seconds to repair (wall;
CPU of this process beside it). The loop never sees test data.

    .venv/bin/python benchmarks/repair.py                 # full: 8 single bugs per env, 12 two-bug, 8 three-bug
    .venv/bin/python benchmarks/repair.py --quick         # the CI subset (about a minute)
    .venv/bin/python benchmarks/repair.py --json out.json # also write every row
    .venv/bin/python benchmarks/repair.py --program maze=data/programs/maze_reference.py \\
        --program alfworld=data/programs/handwritten/alfworld.py   # any programs, on their env's data

``--program ENV=PATH`` (repeatable) replaces the default programs: bugs are planted in that file
and the loop runs on ``data/trajectories/ENV/``; the same env may be given several programs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ENVS = ("maze", "wordle", "babyai", "textcraft")


@dataclass
class Row:
    env: str
    bugs: str
    n_bugs: int
    repaired: bool
    seconds: float
    cpu_seconds: float
    rounds: int
    candidates: int
    val_before: float
    val_after: float
    val_original: float
    test_after: float
    test_original: float


def _data(env: str) -> dict[str, Any]:
    from patchworld.data import load_trajectories

    folder = ROOT / "data" / "trajectories" / env
    return {s: load_trajectories(folder / f"{env}_traj_{s}.jsonl") for s in ("train", "val", "test")}


def pick_bugs(env: str, source: str, val: list, n_single: int, n_double: int, n_triple: int, seed: int = 0
              ) -> list[list[Any]]:
    """Killed bugs: ``n_single`` singles round-robin over operators, then pairs and triples of them."""
    from patchworld.bugs import combine, plant_sites
    from patchworld.gate import score, score_key
    from patchworld.program import Program
    from patchworld.replay import replay

    original = score_key(score(replay(Program(source), val)))
    rng = random.Random(f"{seed}/{env}")
    by_op: dict[str, list] = {}
    for bug in plant_sites(source):
        by_op.setdefault(bug.operator, []).append(bug)
    for bugs in by_op.values():
        rng.shuffle(bugs)
    killed: list = []
    pool_size = max(n_single, 4 if n_double or n_triple else 0)
    for bug in itertools.chain.from_iterable(itertools.zip_longest(*by_op.values())):
        if bug is None or len(killed) >= pool_size:
            continue
        if score_key(score(replay(Program(bug.apply(source)), val))) < original:
            killed.append(bug)
    sets: list[list[Any]] = [[b] for b in killed[:n_single]]
    for size, count in ((2, n_double), (3, n_triple)):
        combos = [list(c) for c in itertools.combinations(killed, size)
                  if len({b.line for b in c}) == size and combine(source, c) is not None]
        rng.shuffle(combos)
        sets += combos[:count]
    return sets


def repair_one(env: str, source: str, bugs: list[Any], data: dict[str, Any], budget: float, candidates: int,
               workers: int, max_rounds: int, seed: int = 0) -> Row:
    """Run the wide search on ``source`` with ``bugs`` planted; see the module docstring."""
    from patchworld.bugs import combine
    from patchworld.gate import score, score_key
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    original = Program(source)
    val_orig = score(replay(original, data["val"]))
    buggy = Program(combine(source, bugs) or source)
    with tempfile.TemporaryDirectory(prefix="pw-repair-") as tmp:
        session = Session(env, data["train"], data["val"], program=buggy, proposer=MutationProposer(seed=seed),
                          run_dir=tmp, n_candidates=candidates, workers=workers, seed=seed, search="beam")
        t0, c0 = time.perf_counter(), time.process_time()
        val_before = session.score
        rounds = n_cands = 0
        while rounds < max_rounds and time.perf_counter() - t0 < budget:
            if score_key(session.score) >= score_key(val_orig):
                break
            res = session.step()
            rounds += 1
            n_cands += res.candidates
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        final = session.current
        val_after = session.score
        session.close()
    test_orig = score(replay(original, data["test"]))["token_f1"]
    test_after = score(replay(final, data["test"]))["token_f1"]
    return Row(env, " + ".join(b.label for b in bugs), len(bugs), test_after >= test_orig - 1e-9, round(seconds, 2),
               round(cpu, 2), rounds, n_cands, round(val_before["token_f1"], 4), round(val_after["token_f1"], 4),
               round(val_orig["token_f1"], 4), round(test_after, 4), round(test_orig, 4))


def run(envs: tuple[str, ...], n_single: int, n_double: int, n_triple: int, budget: float, candidates: int,
        workers: int, max_rounds: int, seed: int = 0, echo: Any = print,
        programs: list[tuple[str, Path]] | None = None) -> list[Row]:
    """Plant and repair bugs in each (env, program); by default each env's hand-written program."""
    rows = []
    pairs = programs or [(env, ROOT / "data" / "programs" / "handwritten" / f"{env}.py") for env in envs]
    for env, path in pairs:
        source = path.read_text(encoding="utf-8")
        data = _data(env)
        for bugs in pick_bugs(env, source, data["val"], n_single, n_double, n_triple, seed):
            row = repair_one(env, source, bugs, data, budget, candidates, workers, max_rounds, seed)
            rows.append(row)
            echo(f"{env:9} {row.n_bugs} {'repaired' if row.repaired else 'NOT     '} {row.seconds:6.1f}s "
                 f"{row.rounds:3d} rounds {row.candidates:5d} cands  val {row.val_before:.3f}->{row.val_after:.3f} "
                 f"(orig {row.val_original:.3f})  {row.bugs}")
    return rows


def summary(rows: list[Row]) -> list[str]:
    out = []
    for n in sorted({r.n_bugs for r in rows}):
        group = [r for r in rows if r.n_bugs == n]
        fixed = [r for r in group if r.repaired]
        med = statistics.median(r.seconds for r in fixed) if fixed else float("nan")
        med_cpu = statistics.median(r.cpu_seconds for r in fixed) if fixed else float("nan")
        envs = len({r.env for r in group})
        out.append(f"{n}-bug programs: repaired {len(fixed)}/{len(group)} ({100 * len(fixed) / len(group):.0f} %) "
                   f"over {envs} envs; median time to repair {med:.1f} s wall ({med_cpu:.1f} s parent CPU), "
                   f"max {max((r.seconds for r in fixed), default=float('nan')):.1f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", default=",".join(ENVS))
    ap.add_argument("--single", type=int, default=8, help="single-site bugs per env")
    ap.add_argument("--double", type=int, default=3, help="two-bug programs per env")
    ap.add_argument("--triple", type=int, default=2, help="three-bug programs per env")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per buggy program")
    ap.add_argument("--candidates", type=int, default=64, help="candidates per round")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-rounds", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="CI subset: 2 single bugs per env, 1 two-bug, no three-bug")
    ap.add_argument("--json", help="write every row here")
    ap.add_argument("--program", action="append", default=[], metavar="ENV=PATH",
                    help="plant bugs in this program, run on ENV's data (repeatable; replaces --envs)")
    args = ap.parse_args(argv)
    programs = []
    for item in args.program:
        env, _, path = item.partition("=")
        if not path or not Path(path).is_file() or not (ROOT / "data" / "trajectories" / env).is_dir():
            ap.error(f"--program {item!r}: expected ENV=PATH with an existing file and data/trajectories/ENV/")
        programs.append((env, Path(path)))
    if args.quick:
        args.single, args.double, args.triple = 2, 1, 0
    import os

    where = ", ".join(f"{e}={p}" for e, p in programs) if programs else f"envs {args.envs}"
    print(f"repair benchmark: {where}, budget {args.budget:.0f} s, {args.candidates} candidates/round, "
          f"{args.workers} workers, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    rows = run(tuple(args.envs.split(",")), args.single, args.double, args.triple, args.budget, args.candidates,
               args.workers, args.max_rounds, args.seed, programs=programs or None)
    for line in summary(rows):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
