"""The parent never blocks writing to a worker: a worker that stops reading its job pipe while it
keeps answering ends its job with a typed outcome, instead of holding the parent in a write forever."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import Limits
from patchworld.sandbox.procs import Worker

UNGUARD = (Path(__file__).parent / "hostile" / "escapes" / "_unguard.py").read_text()

# A world model that predicts "x" whatever happens (the hostile parts come before it).
STUB_MODEL = '''
class Model:
    def init_belief(self):
        return {}

    def parse_observation(self, obs_text):
        return {}

    def correct_belief(self, belief_prior, obs_text):
        return belief_prior

    def predict_belief(self, belief, action):
        return belief

    def readout_observation(self, belief):
        return "x"

    def extract_valid_action_forms(self):
        return {}
'''

# Stops reading the job pipe after the first round and keeps answering that round from a copy.
STOPS_READING = UNGUARD + '''
import sys


def _stop_reading():
    _unguard()
    worker = sys.modules["patchworld.sandbox.worker"]
    real, first = worker.recv, {}

    def fake(fd):
        if "msg" not in first:
            first["msg"] = real(fd)
        return list(first["msg"][:5]) + [False]

    worker.recv = fake


_stop_reading()
''' + STUB_MODEL


def test_a_worker_that_stops_reading_its_job_pipe_does_not_hold_the_parent() -> None:
    big = "o " * 150_000      # 300 KB observations: the next round does not fit in a pipe
    trajs = [Trajectory("toy", str(i), 0, 0, "val", False, 0.0,
                        tuple(Transition(big, "noop", big, 0.0, False) for _ in range(6))) for i in range(2)]
    result: list = []
    runner = threading.Thread(target=lambda: result.append(replay(
        Program.from_source(STOPS_READING), trajs, shards=1,
        limits=Limits(cpu_seconds=5, memory_mb=400, wall_seconds=3, step_seconds=2))), daemon=True)
    runner.start()
    runner.join(60)
    assert result, "replay still blocked in a write a minute after the job's 3 s wall limit"
    from patchworld.sandbox.lockstep import OUTCOMES

    assert result[0].outcome in OUTCOMES and result[0].steps.height == 12


def test_send_queues_what_the_pipe_does_not_take_and_recv_writes_it_out() -> None:
    job_r, job_w = os.pipe()
    res_r, res_w = os.pipe()
    worker = Worker(job_w, res_r, "/nonexistent-scratch")
    worker.poll = lambda: None   # type: ignore[method-assign]
    payload = b"[" + b"1," * 200_000 + b"1]"          # 400 KB: several pipe buffers
    assert worker.send_bytes(payload) is True           # returns at once, most of it still queued
    assert len(worker.outbox) > 0
    got = bytearray()

    def drain() -> None:
        while len(got) < 8 + len(payload):
            got.extend(os.read(job_r, 1 << 16))
        os.write(res_w, len(b'"ok"').to_bytes(8, "little") + b'"ok"')

    reader = threading.Thread(target=drain)
    reader.start()
    import time

    assert worker.recv(time.monotonic() + 20) == "ok"   # the wait for the reply wrote the rest
    reader.join(5)
    assert bytes(got[8:]) == payload and len(worker.outbox) == 0
    os.close(job_r)
    os.close(res_w)
    worker.scratch = os.devnull
    for fd in (job_w, res_r):
        os.close(fd)


FORGES_DONE_OK = UNGUARD + '''
import sys


def _forge():
    _unguard()
    frame = sys._getframe()
    while frame is not None and frame.f_code.co_name != "run_one":
        frame = frame.f_back
    sys.modules["patchworld.sandbox.wire"].send(frame.f_locals["result_fd"], ["done", "ok", "", ""])
    sys.exit(0)


_forge()
'''


def test_a_job_that_claims_ok_before_its_program_loaded_is_a_protocol_error() -> None:
    """Only a worker whose program failed ends a job before "loaded": a forged ["done", "ok"] there is
    a broken protocol, not a job that ran (every row would be a crash filler under an "ok" outcome)."""
    big = "o"
    trajs = [Trajectory("toy", str(i), 0, 0, "val", False, 0.0, (Transition(big, "noop", big, 0.0, False),) * 2)
             for i in range(2)]
    result = replay(Program.from_source(FORGES_DONE_OK), trajs, shards=1,
                    limits=Limits(cpu_seconds=5, memory_mb=400, wall_seconds=10, step_seconds=2))
    assert result.outcome == "protocol_error", (result.outcome, result.detail)


SLEEPS_THROUGH_TIMEOUTS = STUB_MODEL + '''
import time


class Sleeper(Model):
    def predict_belief(self, belief, action):
        while True:
            try:
                time.sleep(30)
            except BaseException:
                pass
'''


def test_a_call_that_swallows_its_step_timeout_ends_the_job_long_before_the_wall_limit() -> None:
    """The step limit bounds every call, so a round is due within its calls' step limits: a program that
    catches its StepTimeout and sleeps on ends as a timeout there, not at the (much later) wall limit."""
    trajs = [Trajectory("toy", str(i), 0, 0, "val", False, 0.0, (Transition("o", "noop", "o", 0.0, False),) * 2)
             for i in range(2)]
    result = replay(Program.from_source(SLEEPS_THROUGH_TIMEOUTS), trajs, shards=1,
                    limits=Limits(cpu_seconds=5, memory_mb=400, wall_seconds=30, step_seconds=0.2))
    assert result.outcome == "timeout", (result.outcome, result.detail)
    assert "went on after its step timeout" in result.detail and "wall-clock" not in result.detail
