"""Round overhead: how much of a patch round's wall time is NOT spent waiting for the LLM, how long
the round runs on after the last LLM reply, and how much faster candidates are evaluated in
parallel than one after another.

A minimal OpenAI-compatible stub on 127.0.0.1 sleeps ``--delay`` seconds (default 2) per reply
and answers with a valid SEARCH/REPLACE edit, so every candidate is applied, replayed on val
(sandboxed, ``--workers`` at a time) and persisted. The LLM wait is the union of the stub's
request intervals inside the round; the tail is the time from the end of the last reply to the
end of ``Session.step``. Two proposer modes are timed: "concurrent" (the LLM proposer's default:
all samples in flight at once, so every reply lands together and the whole evaluation is tail)
and "one sample at a time" (``concurrency=1``: each child is replayed while the next reply is
awaited, so only the last child's evaluation is tail). The parallel speed-up replays real mutation
children (they change behaviour), serial and parallel interleaved, medians with min-max and
parent CPU. Prints ratios; no asserts. (A mutation round's cost, greedy vs the wide search with
process-tree CPU: benchmarks/candidate_eval.py.)

    .venv/bin/python benchmarks/round_overhead.py [--delay 2] [--rounds 3] [--candidates 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Stub:
    """Sleeps ``delay`` s per chat completion; replies with a harmless SEARCH/REPLACE edit; logs intervals."""

    def __init__(self, delay: float):
        self.delay = delay
        self.intervals: list[tuple[float, float]] = []
        self.count = 0
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                start = time.perf_counter()
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stub.lock:
                    stub.count += 1
                    n = stub.count
                time.sleep(stub.delay)
                content = (f"Annotate the import (reply {n}).\n<<<<<<< SEARCH\nimport re\n=======\n"
                           f"import re  # reply {n}\n>>>>>>> REPLACE\n")
                body = json.dumps({"id": f"c{n}", "object": "chat.completion", "created": 0, "model": "stub",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": content}}],
                                   "usage": {"prompt_tokens": 100, "completion_tokens": 20,
                                             "total_tokens": 120}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with stub.lock:
                    stub.intervals.append((start, time.perf_counter()))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def wait_within(self, lo: float, hi: float) -> float:
        """Seconds in [lo, hi] during which at least one request was being served (union of intervals)."""
        spans = sorted((max(a, lo), min(b, hi)) for a, b in self.intervals if b > lo and a < hi)
        total, end = 0.0, lo
        for a, b in spans:
            if b > end:
                total += b - max(a, end)
                end = b
        return total


def _data():
    from patchworld.data import load_trajectories

    folder = ROOT / "data" / "trajectories" / "maze"
    if not (folder / "maze_traj_val.jsonl").exists():
        from patchworld.envs.generate import generate

        folder = Path(tempfile.mkdtemp(prefix="pw-bench-data-"))
        generate("maze", 0, folder)
    return (load_trajectories(folder / "maze_traj_train.jsonl"), load_trajectories(folder / "maze_traj_val.jsonl"))


def overhead(stub: Stub, train, val, rounds: int, candidates: int, workers: int, concurrency: int | None
             ) -> list[tuple[float, float]]:
    """(non-LLM share of the round, seconds after the last reply) for each of ``rounds`` rounds."""
    from patchworld.program import Program
    from patchworld.proposers.llm import LLMProposer
    from patchworld.synthesis import Session

    proposer = LLMProposer(model="stub", base_url=stub.url, api_key="bench", use_cache=False, max_retries=0,
                           concurrency=concurrency)
    session = Session("maze", train, val, program=Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py"),
                      proposer=proposer, n_candidates=candidates, workers=workers,
                      run_dir=Path(tempfile.mkdtemp(prefix="pw-bench-")) / "run")
    session.val_replay()   # the parent's replay is cached across rounds; warm it like any running session
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        res = session.step()
        t1 = time.perf_counter()
        wait = stub.wait_within(t0, t1)
        last = max((b for a, b in stub.intervals if t0 <= a <= t1), default=t0)
        out.append(((t1 - t0 - wait) / (t1 - t0), t1 - last))
        print(f"  round {res.round}: wall {t1 - t0:.2f}s, LLM wait {wait:.2f}s, candidates {res.candidates}, "
              f"evaluated {sum(v.score_after is not None for v in res.verdicts)}, tail after the last reply "
              f"{out[-1][1]:.3f}s, non-LLM share {out[-1][0] * 100:.1f}%")
    session.close()
    return out


def _mutation_children(n: int) -> list:
    """``n`` children of maze_flawed.py from the mutation proposer: each really changes the program."""
    from patchworld.counterexamples import select_counterexamples
    from patchworld.program import Program
    from patchworld.proposers.base import ProposalRequest
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay

    parent = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    _, val = _data()
    shown = select_counterexamples(replay(parent, val), k=8)
    ranked = MutationProposer(seed=0).candidates(ProposalRequest("maze", parent, shown, n=n))
    return [Program(c.child) for c in ranked[:n]]


def speedup(val, candidates: int, workers: int, repeats: int, scale: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, parent CPU) seconds to replay ``candidates`` mutation children on val x ``scale``, one at a
    time and ``workers`` at a time, the two interleaved repeat by repeat (alternating which goes first)."""
    from patchworld.replay import replay

    programs = _mutation_children(candidates)
    val = list(val) * scale    # a heavier job, so process start-up does not dominate
    replay(programs[0], val)   # warm imports and caches

    def timed(n: int) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(lambda p: replay(p, val, sandbox=True), programs))
        return time.perf_counter() - t, time.process_time() - c

    out: dict[str, list[tuple[float, float]]] = {"serial": [], "parallel": []}
    for i in range(repeats):
        order = ("serial", "parallel") if i % 2 == 0 else ("parallel", "serial")
        for name in order:
            out[name].append(timed(1 if name == "serial" else workers))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=2.0, help="stub seconds per LLM reply (default 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="parallel replays (the session's workers)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=int, default=10, help="val repeated this many times for the speed-up")
    args = parser.parse_args(argv)
    train, val = _data()
    print(f"maze val: {len(val)} trajectories, {sum(len(t) for t in val)} transitions; "
          f"stub delay {args.delay}s per reply, {args.candidates} candidates per round, {args.workers} workers")
    stub = Stub(args.delay)
    results = {}
    for label, concurrency in (("concurrent", None), ("one sample at a time", 1)):
        print(f"{label}:")
        rows = overhead(stub, train, val, args.rounds, args.candidates, args.workers, concurrency)
        results[label] = (statistics.mean(r[0] for r in rows), statistics.mean(r[1] for r in rows))
    timings = speedup(val, args.candidates, args.workers, args.repeats, args.scale)
    serial = statistics.median(w for w, _ in timings["serial"])
    parallel = statistics.median(w for w, _ in timings["parallel"])
    print()
    for label, (share, tail) in results.items():
        print(f"{label}: non-LLM share of round wall time {share * 100:.1f}% (target < 5%), "
              f"tail after the last reply {tail:.3f}s")
    for name, rows in timings.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(f"{name}: wall median {statistics.median(walls):.2f}s ({min(walls):.2f}-{max(walls):.2f}), parent CPU "
              f"median {statistics.median(cpus):.2f}s ({min(cpus):.2f}-{max(cpus):.2f}), {len(rows)} interleaved runs")
    print(f"evaluating {args.candidates} mutation children (val x{args.scale}): one after another {serial:.2f}s, "
          f"{args.workers} in parallel {parallel:.2f}s, speed-up x{serial / parallel:.2f} (load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    stub.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
