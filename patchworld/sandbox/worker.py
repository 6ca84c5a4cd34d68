"""The sandbox worker process: runs untrusted world-model code, one job per process.

Two ways in (see :mod:`patchworld.sandbox.procs`): ``--server <socket fd>`` is the fork server,
which forks one child per job; ``<result fd>`` serves a single job read from stdin. Either way
the job process first isolates itself (:mod:`patchworld.sandbox.kernel`: every descriptor but
the job's two pipes closed, its own uid, no new privileges, Landlock, seccomp; then the audit
hook of :mod:`patchworld.sandbox.guard`), then reads one JSON job, sets its resource limits
(address space, CPU time, file size, no core files, no processes), a per-call timer (SIGALRM)
and capped stdout/stderr, loads the program and serves the job: a lockstep replay (one round
per message, :class:`patchworld.sandbox.calls.ReplayRunner`), a screening batch (several
candidates, :mod:`patchworld.sandbox.multi`) or a model session. It never
holds a true observation before it has answered for that step: the parent sends them later.

Stdlib and light patchworld modules only: the worker must start fast.
"""

from __future__ import annotations

import importlib
import io
import os
import resource
import signal
import sys
from collections.abc import Callable
from time import monotonic as _monotonic  # bound here: a program patching ``time`` does not reach it
from typing import Any

from patchworld.program import LoadFailure, load_world_model
from patchworld.sandbox.calls import CpuLimit, OutputLimit, ReplayRunner, StepTimeout, session_call
from patchworld.sandbox.guard import install_audit_hook, readable_roots, real_paths
from patchworld.sandbox.kernel import isolate, prepare
from patchworld.sandbox.multi import BatchRunner, load_batch  # imported before isolation, like every module here
from patchworld.sandbox.precompiled import code_of
from patchworld.sandbox.wire import recv, send

__all__ = ["main", "CappedStream"]


class _Timer:
    """Per-call wall-clock alarm raising :class:`StepTimeout` (0 seconds = no alarm).

    ``start`` only records the deadline and arms the alarm when none is pending, ``stop`` only
    clears the deadline (two system calls per call saved); an alarm left over from an earlier
    call re-arms itself for the current deadline in :meth:`expired`.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = 0.0  # of the call in progress; 0.0 between calls
        self.armed = False  # an alarm is pending

    def start(self) -> None:
        if self.seconds > 0:
            self.deadline = _monotonic() + self.seconds
            if not self.armed:
                self.armed = True
                signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def stop(self) -> None:
        self.deadline = 0.0

    def expired(self) -> bool:
        """On SIGALRM: whether the call in progress is past its deadline (else re-arm or lapse)."""
        self.armed = False
        if not self.deadline:
            return False
        left = self.deadline - _monotonic()
        if left <= 0:
            return True
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, max(left, 1e-4))
        return False


class CappedStream(io.TextIOBase):
    """A text sink keeping the first ``keep`` characters and raising past ``cap`` characters."""

    def __init__(self, state: dict, keep: int = 4000):
        self.state = state
        self.keep = keep

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        st = self.state
        st["used"] += len(s)
        if len(st["text"]) < self.keep:
            st["text"] += s[: self.keep - len(st["text"])]
        if st["used"] > st["cap"]:
            st["exceeded"] = True
            raise OutputLimit(f"program output exceeded {st['cap']} bytes")
        return len(s)


_MAX_FILES = 256
"""Open descriptors a job may hold (pipes and other kernel objects cost memory outside RLIMIT_AS)."""


def _apply_limits(limits: dict, vm_bytes: int) -> None:
    """Address space (size at isolation + budget), CPU (used + budget), file size, no cores, no processes,
    a few hundred descriptors."""
    mem = vm_bytes + int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + float(limits["cpu_seconds"])) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # enforced for non-root users
    resource.setrlimit(resource.RLIMIT_NOFILE, (_MAX_FILES, _MAX_FILES))  # kernel objects held per descriptor


def _fatal_kind(output: dict) -> Callable[[BaseException], str | None]:
    def classify(exc: BaseException) -> str | None:
        if isinstance(exc, MemoryError):
            return "memory"
        if isinstance(exc, OutputLimit) or output["exceeded"]:
            return "output_limit"
        if isinstance(exc, CpuLimit):
            return "timeout"
        return None

    return classify


_ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                      "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS",
                                      "POLARS_MAX_THREADS")}
"""Numeric libraries a program may import start no thread pools (a job cannot create threads: OpenBLAS
then ended the worker with exit code 1 at ``import numpy``)."""


def run_one(job_fd: int, result_fd: int) -> int:
    """Isolate this process, then serve one job: a lockstep replay or a model session."""
    scratch = os.getcwd()
    os.environ.update(_ONE_THREAD)
    for name in _PRELOAD:  # before isolation: afterwards only the Python installation is readable
        importlib.import_module(name)
    with open("/proc/self/statm") as fh:
        vm_bytes = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    layers = isolate(scratch, (job_fd, result_fd), readable_roots())
    install_audit_hook(scratch, readable_roots())
    send(result_fd, ["layers", layers])  # before any job: no program has run here yet, so none can forge it
    job = recv(job_fd)
    if job is None:
        return 0
    limits = job["limits"]
    output = {"used": 0, "cap": int(limits["output_bytes"]), "text": "", "exceeded": False}
    timer = _Timer(float(limits["step_seconds"]))

    def on_alarm(signum: int, frame: Any) -> None:
        if timer.expired():
            raise StepTimeout(f"call exceeded {limits['step_seconds']}s")

    def on_xcpu(signum: int, frame: Any) -> None:
        raise CpuLimit(f"CPU time limit of {limits['cpu_seconds']}s reached")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGXCPU, on_xcpu)
    fatal = _fatal_kind(output)
    _apply_limits(limits, vm_bytes)
    sys.stdout = sys.stderr = CappedStream(output)
    if job["kind"] == "screen":
        return _serve_batch(job, job_fd, result_fd, timer, layers)
    try:
        timer.start()
        model = load_world_model(job["source"], code=code_of(job))
        timer.stop()
    except BaseException as exc:  # noqa: BLE001
        timer.stop()
        kind = fatal(exc)
        if kind:
            send(result_fd, ["done", kind, f"while loading: {type(exc).__name__}: {exc}", output["text"]])
            return 0
        model = LoadFailure("timeout", f"loading took longer than {limits['step_seconds']}s ({exc})")
    if isinstance(model, LoadFailure):
        send(result_fd, ["done", "load_error", model.message, output["text"]])
        return 0
    send(result_fd, ["loaded", layers])
    if job["kind"] == "replay":
        runner = ReplayRunner(model, timer, int(limits.get("max_step_timeouts", 3)), fatal,
                              lean=bool(job.get("lean")), trace=bool(job.get("trace")), post=bool(job.get("post")))
        while True:
            msg = recv(job_fd)
            if msg is None or msg[0] != "round":
                send(result_fd, ["done", "ok", "", output["text"]])
                return 0
            cols, stop = runner.round(msg[1], msg[2], msg[3], msg[4])
            if stop is None and len(msg) > 5 and msg[5]:  # the last round: end the job with it
                stop = ["ok", ""]
            send(result_fd, ["rows", *cols, None if stop is None else [*stop, output["text"]]])
            if stop is not None:
                return 0
    state: dict = {"beliefs": {}, "next": 1}
    while True:
        request = recv(job_fd)
        if request is None or request[0] == "close":
            return 0
        send(result_fd, session_call(model, state, request, timer, fatal))


def _serve_batch(job: dict, job_fd: int, result_fd: int, timer: _Timer, layers: list) -> int:
    """A screening batch (:mod:`patchworld.sandbox.multi`): load every candidate, then one lockstep
    round per message, answered with one part per candidate; each has its own output budget."""
    limits, sources = job["limits"], list(job["sources"])
    outputs = [{"used": 0, "cap": int(limits["output_bytes"]), "text": "", "exceeded": False} for _ in sources]
    streams = [CappedStream(o) for o in outputs]
    fatals = [_fatal_kind(o) for o in outputs]
    models, failures, contexts, stop = load_batch(sources, timer, fatals, streams, float(limits["step_seconds"]))
    if stop is not None:
        send(result_fd, ["done", stop.split(":", 1)[0], stop, ""])
        return 0
    send(result_fd, ["loaded", layers, failures])
    runner = BatchRunner(models, contexts, timer, fatals, streams, outputs, int(limits.get("max_step_timeouts", 3)),
                         bool(job.get("lean")))
    while True:
        msg = recv(job_fd)
        if msg is None or msg[0] != "round":
            send(result_fd, ["done", "ok", "", ""])
            return 0
        parts, stop = runner.round(msg[1], msg[2], msg[3], msg[4])
        if stop is None and len(msg) > 5 and msg[5]:
            stop = ["ok", ""]
        send(result_fd, ["batch", parts, None if stop is None else [*stop, ""]])
        if stop is not None:
            return 0


_PRELOAD = ("patchworld.worldmodel_base", "re", "json", "collections", "itertools", "functools", "math",
            "dataclasses", "string", "heapq", "copy")
"""Stateless modules world models commonly import (not ``random``: each job must seed its own)."""


_WARM_UP = '''
import re
from patchworld.worldmodel_base import BaseWorldModel
_AT = re.compile(r"at (\\d+), (\\d+)")
class WarmUp(BaseWorldModel):
    def parse_observation(self, obs):
        found = _AT.findall(obs)
        return {"at": tuple(int(v) for v in found[-1])} if found else None
    def init_belief(self):
        return {"at": None, "steps": 0, "seen": []}
    def correct_belief(self, belief, obs):
        new = dict(belief)
        new.update(self.parse_observation(obs) or {})
        return new
    def predict_belief(self, belief, action):
        new = dict(belief)
        new["steps"] = new["steps"] + 1 if action in ("a", "b") else new["steps"]
        return new
    def readout_observation(self, belief, action=""):
        return f"{belief['at']}: " + ", ".join(str(k) for k in belief) + "."
'''
"""A trusted stand-in for a world-model program (this file's own code, never a job's): loading it
once in the fork server leaves the compiler and the classes a load touches warm in every child,
so a job's first program load costs ~0.35 ms less CPU."""


def _warm_up() -> None:
    """Load :data:`_WARM_UP` once (in the fork server, before any job), then forget it."""
    import linecache

    from patchworld.program import PROGRAM_FILENAME

    load_world_model(_WARM_UP, "patchworld_warm_up")
    sys.modules.pop("patchworld_warm_up", None)
    linecache.cache.pop(PROGRAM_FILENAME, None)


def _child(fds: list[int], scratch: str) -> None:
    """The job process, right after the fork: its own session and scratch directory, then the job."""
    code = 70
    try:
        os.setsid()
        os.chdir(scratch)
        code = run_one(fds[0], fds[1])
    finally:
        os._exit(code)


def serve(sock_fd: int) -> int:
    """The fork server: fork one child per job request, report each child's exit.

    Requests arrive on a SOCK_SEQPACKET socket as JSON ``{"id", "scratch"}`` with two file
    descriptors attached (the job's input pipe and result pipe). Answers: ``["forked", id,
    pid]`` and later ``["exit", pid, returncode, cpu_seconds]``. The server never runs program
    code. A child drops the server's locals (its socket, the ``socket`` module) before it does
    anything else, so the program finds nothing useful on the stack it inherits. When the
    parent goes away (socket closed) the server kills its children and exits.
    """
    import gc
    import json
    import select
    import socket

    for name in _PRELOAD:  # imported once here instead of in every job
        importlib.import_module(name)
    prepare()  # the seccomp filter, compiled once for every child; the Landlock ABI; libc lookups
    real_paths(readable_roots())  # the audit hook's roots, resolved once for every child
    _warm_up()
    sock = socket.socket(fileno=sock_fd)
    children: set[int] = set()
    while True:
        if select.select([sock], [], [], 0.05)[0]:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 2)
            except OSError:
                data, fds = b"", []
            if not data or len(fds) != 2:
                for fd in fds:
                    os.close(fd)
                if data:
                    continue
                for pid in children:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return 0
            request = json.loads(data)
            gc.freeze()  # the child's collections then skip every object inherited: fewer copy-on-write faults
            pid = os.fork()
            if pid == 0:  # the job process: forget the server's state, keep two descriptors and a path
                sock.close()
                scratch = str(request["scratch"])
                del sock, socket, select, json, gc, data, request, children, _flags, _addr
                _child(fds, scratch)
            for fd in fds:
                os.close(fd)
            children.add(pid)
            sock.send(json.dumps(["forked", request["id"], pid]).encode())
        while children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            sock.send(json.dumps(["exit", pid, code, usage.ru_utime + usage.ru_stime]).encode())


def main(argv: list[str]) -> int:
    """``--server <socket fd>`` runs the fork server; ``<result fd>`` serves one job from stdin."""
    if len(argv) > 2 and argv[1] == "--server":
        return serve(int(argv[2]))
    return run_one(0, int(argv[1]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
