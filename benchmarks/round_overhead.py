"""Round overhead: how much of a patch round's wall time is NOT spent waiting for the LLM, and
how much faster 4 candidates are evaluated in parallel than one after another.

A minimal OpenAI-compatible stub on 127.0.0.1 sleeps ``--delay`` seconds (default 2) per reply
and answers with a valid SEARCH/REPLACE edit, so every candidate is applied and replayed on
val (sandboxed). The LLM wait is the union of the stub's request intervals inside the round.
Two proposer modes are timed: the LLM proposer as is (``propose`` returns all candidates at
once), and streamed (a ``propose_iter`` wrapper asking for one candidate at a time, so the
session replays each child while the next reply is awaited). Prints ratios; no asserts.

    .venv/bin/python benchmarks/round_overhead.py [--delay 2] [--rounds 2] [--candidates 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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


class Streamed:
    """Wraps a proposer so the session gets candidates one by one (``propose_iter``)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def propose(self, request):
        return list(self.propose_iter(request))

    def propose_iter(self, request):
        for _ in range(request.n):
            yield from self.inner.propose(dataclasses.replace(request, n=1))


def _data():
    from patchworld.data import load_trajectories

    folder = ROOT / "data" / "trajectories" / "maze"
    if not (folder / "maze_traj_val.jsonl").exists():
        from patchworld.envs.generate import generate

        folder = Path(tempfile.mkdtemp(prefix="pw-bench-data-"))
        generate("maze", 0, folder)
    return (load_trajectories(folder / "maze_traj_train.jsonl"), load_trajectories(folder / "maze_traj_val.jsonl"))


def overhead(stub: Stub, train, val, rounds: int, candidates: int, streamed: bool) -> list[float]:
    from patchworld.program import Program
    from patchworld.proposers.llm import LLMProposer
    from patchworld.synthesis import Session

    proposer = LLMProposer(model="stub", base_url=stub.url, api_key="bench", use_cache=False, max_retries=0)
    session = Session("maze", train, val, program=Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py"),
                      proposer=Streamed(proposer) if streamed else proposer, n_candidates=candidates, workers=2,
                      run_dir=Path(tempfile.mkdtemp(prefix="pw-bench-")) / "run")
    session.val_replay()   # the parent's replay is cached across rounds; warm it like any running session
    shares = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        res = session.step()
        t1 = time.perf_counter()
        wait = stub.wait_within(t0, t1)
        shares.append((t1 - t0 - wait) / (t1 - t0))
        print(f"  round {res.round}: wall {t1 - t0:.2f}s, LLM wait {wait:.2f}s, candidates {res.candidates}, "
              f"evaluated {sum(v.score_after is not None for v in res.verdicts)}, "
              f"non-LLM share {shares[-1] * 100:.1f}%")
    return shares


def speedup(val, candidates: int, repeats: int, scale: int) -> tuple[float, float]:
    from patchworld.program import Program
    from patchworld.replay import replay

    source = (ROOT / "data" / "programs" / "maze_flawed.py").read_text()
    programs = [Program(source.replace("import re\n", f"import re  # child {i}\n")) for i in range(candidates)]
    val = list(val) * scale    # a heavier job, so process start-up does not dominate
    replay(programs[0], val)   # warm imports and caches

    def timed(workers: int) -> float:
        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda p: replay(p, val, sandbox=True), programs))
        return time.perf_counter() - t

    serial = statistics.median(timed(1) for _ in range(repeats))
    parallel = statistics.median(timed(candidates) for _ in range(repeats))
    return serial, parallel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=2.0, help="stub seconds per LLM reply (default 2)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=int, default=10, help="val repeated this many times for the speed-up")
    args = parser.parse_args(argv)
    train, val = _data()
    print(f"maze val: {len(val)} trajectories, {sum(len(t) for t in val)} transitions; "
          f"stub delay {args.delay}s per reply, {args.candidates} candidates per round")
    stub = Stub(args.delay)
    results = {}
    for streamed in (False, True):
        label = "streamed (propose_iter)" if streamed else "LLM proposer as is"
        print(f"{label}:")
        results[label] = statistics.mean(overhead(stub, train, val, args.rounds, args.candidates, streamed))
    serial, parallel = speedup(val, args.candidates, args.repeats, args.scale)
    print()
    for label, share in results.items():
        print(f"non-LLM share of round wall time, {label}: {share * 100:.1f}% (target < 5%)")
    print(f"evaluating {args.candidates} candidates (val x{args.scale}): one after another {serial:.2f}s, in parallel {parallel:.2f}s, "
          f"speed-up x{serial / parallel:.2f}")
    stub.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
