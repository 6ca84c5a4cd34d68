"""What this machine gives two processes at once: the ceiling of any two-process speed-up measured here.

A speed-up from a second worker (a replay sharded over two workers, a round with two worker slots)
cannot exceed what two independent CPU-bound processes get on the same machine at the same
moment. On a bare 2-core machine that is x2; on a virtual machine whose two virtual CPUs share a
physical core, or whose host takes cycles back (steal), it is less, and the process CPU time
that our benchmarks report grows with it (time the host takes is charged to whoever was running).
:func:`two_at_once` measures it: a pure-Python loop (the kind of work a world-model program does)
run alone, then in two forked processes at once, pair by pair, so that drift cancels. Printed by
``candidate_eval.py`` and ``replay.py`` beside the ratios it bounds.

    .venv/bin/python benchmarks/machine.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

__all__ = ["two_at_once", "describe", "machine_line", "fresh_ratios"]


def _spin(n: int) -> None:
    x = 0
    for i in range(n):
        x += i * i % 7


def _wall_of(processes: int, n: int) -> float:
    """Wall seconds for ``processes`` forked processes each spinning ``n`` iterations at once."""
    start = time.perf_counter()
    pids = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                _spin(n)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return time.perf_counter() - start


def two_at_once(runs: int = 15, n: int = 1_000_000) -> list[float]:
    """Per pair of runs, the work two processes at once did per second over what one alone did:
    ``2 * wall(one) / wall(two)`` (2.0: two full cores; 1.0: no gain from the second process)."""
    ratios = []
    for _ in range(runs):
        alone = _wall_of(1, n)
        both = _wall_of(2, n)
        ratios.append(2 * alone / both)
    return ratios


def describe(ratios: list[float]) -> str:
    """One line: median [min-max] of :func:`two_at_once`'s ratios."""
    return (f"machine: two CPU-bound processes at once do x{statistics.median(ratios):.2f} "
            f"[{min(ratios):.2f}-{max(ratios):.2f}] the work of one (median [min-max] of {len(ratios)} pairs; "
            "no two-process speed-up here can exceed it)")


def fresh_ratios(runs: int) -> list[float]:
    """:func:`two_at_once` in a fresh interpreter (forking the caller, which may run threads and a sandbox
    pool, would copy them); empty if that fails."""
    out = subprocess.run([sys.executable, __file__, "--runs", str(runs), "--ratios"], capture_output=True,
                         text=True, check=False)
    lines = out.stdout.strip().splitlines()
    return [float(r) for r in json.loads(lines[-1])] if out.returncode == 0 and lines else []


def machine_line(runs: int = 15) -> str:
    """:func:`describe` of :func:`fresh_ratios`; a line saying so if the measurement failed."""
    ratios = fresh_ratios(runs)
    return describe(ratios) if ratios else "machine: not measured (run benchmarks/machine.py to see why)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--quiet", action="store_true", help="print the result line only")
    ap.add_argument("--ratios", action="store_true", help="print the pairs' ratios as a JSON list only")
    args = ap.parse_args(argv)
    if args.ratios:
        print(json.dumps(two_at_once(args.runs)))
        return 0
    if not args.quiet:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(describe(two_at_once(args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
