"""Timing channels between sandbox jobs that the kernel layers do not close (docs/SECURITY.md,
"Channels between jobs that stay open"): how much a job can tell a later one.

* **job ends**: a sender job ends at a chosen fraction of a second (its final correction sleeps until
  then); the next job, started by the parent right after, reads the clock when it loads. Values 0..49 in
  20 ms slots; prints how many were decoded (to within one slot) and the bits per job boundary.
* **page cache**: a sender job reads every other file of 400 picked at random under the Python
  installation (most were never read since it was installed); the next job times a first read of each;
  prints the medians for files the sender read and files it did not.

Prints numbers, no asserts. Hold the bench lock when you report them:

    flock /tmp/bench.lock .venv/bin/python benchmarks/sandbox_channels.py [--trials 15]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time

from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import Limits, shutdown_pool

ENDS = '''
import time

class M:
    def init_belief(self):
        return 0

    def correct_belief(self, b, o):
        if VALUE is not None:   # the final correction: end the job at fraction VALUE * 20 ms of a second
            now = time.time()
            time.sleep(int(now) + 1 + VALUE * 0.02 - now)
        return b

    def predict_belief(self, b, a):
        return b

    def readout_observation(self, b, a=""):
        return str(round((LOADED % 1) / 0.02 - 0.5) % 50)

LOADED = time.time()
'''

CACHE = '''
import time

class M:
    def init_belief(self):
        return 0

    def correct_belief(self, b, o):
        return b

    def predict_belief(self, b, a):
        return b

    def readout_observation(self, b, a=""):
        files = FILES
        if ROLE == "send":
            for path in files[0::2]:
                open(path, "rb").read()
            return "sent"
        times = []
        for path in files:
            start = time.perf_counter()
            open(path, "rb").read()
            times.append(time.perf_counter() - start)
        sent, other = sorted(times[0::2]), sorted(times[1::2])
        return f"{sent[len(sent) // 2] * 1e6:.0f} {other[len(other) // 2] * 1e6:.0f} {len(files)}"
'''

TRAJS = [Trajectory("toy", "0", 0, 0, "val", False, 0.0, (Transition("a", "noop", "b", 0.0, False),))]
LIMITS = Limits(step_seconds=5)


def job_ends(trials: int) -> None:
    decoded = 0
    for _ in range(trials):
        value = random.randrange(50)
        replay(Program.from_source(f"VALUE = {value}\n" + ENDS), TRAJS, limits=LIMITS)
        got = int(replay(Program.from_source("VALUE = None\n" + ENDS), TRAJS, limits=LIMITS).steps["predicted"][0])
        decoded += got in (value, (value + 1) % 50)
    print(f"job ends: {decoded}/{trials} values of 50 decoded to within one 20 ms slot "
          f"(~{math.log2(50):.1f} bits per job boundary when all are)")


def page_cache() -> None:
    import sys

    every = [os.path.join(base, name) for base, _, names in os.walk(sys.prefix) for name in names
             if name.endswith((".py", ".pyi", ".txt", ".json")) and "__pycache__" not in base]
    files = random.sample(every, min(400, len(every)))  # listed, not read: their pages stay where they were
    head = f"FILES = {files!r}\n"
    replay(Program.from_source(head + "ROLE = 'send'\n" + CACHE), TRAJS, limits=LIMITS)
    sent, other, n = replay(Program.from_source(head + "ROLE = 'receive'\n" + CACHE), TRAJS,
                            limits=LIMITS).steps["predicted"][0].split()
    print(f"page cache: first read of a file the previous job read {sent} us, of one it did not {other} us "
          f"(medians over {int(n) // 2} files each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=15)
    args = parser.parse_args()
    start, cpu = time.monotonic(), time.process_time()
    try:
        job_ends(args.trials)
        page_cache()
    finally:
        shutdown_pool()
    print(f"wall {time.monotonic() - start:.1f} s, parent CPU {time.process_time() - cpu:.1f} s, "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
