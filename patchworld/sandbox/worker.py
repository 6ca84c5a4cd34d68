"""The sandbox worker process: runs untrusted world-model code, one job per process.

Two ways in (see :mod:`patchworld.sandbox.procs`): ``python -m patchworld.sandbox.worker
--server <socket fd>`` is the fork server, which forks one child per job; ``python -m
patchworld.sandbox.worker <result fd>`` serves a single job read from stdin. Either way the
job process reads one JSON job, installs its guards, then answers with length-prefixed JSON
frames on the result descriptor (JSON, never pickle: the parent must not unpickle data a
hostile program could forge). Guards, installed before any program code runs: resource
limits (address space, CPU time, file size, no core files, no new processes where the kernel
enforces it), an audit hook refusing fork/exec/kill/sockets/ctypes, file writes outside the
scratch directory and other processes' /proc entries, a per-call timer (SIGALRM) and capped
stdout/stderr. The calls themselves live in :mod:`patchworld.sandbox.calls`.

Stdlib and light patchworld modules only: the worker must start fast.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import sys
from collections.abc import Callable
from time import monotonic as _monotonic  # bound here: a program patching ``time`` does not reach it
from typing import Any

from patchworld.program import LoadFailure, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import CpuLimit, OutputLimit, StepTimeout, run_replay, session_call

__all__ = ["main", "send", "recv", "CappedStream"]

_HEADER = struct.Struct("<Q")


def send(fd: int, obj: Any) -> None:
    """Write one length-prefixed JSON frame."""
    data = json.dumps(obj).encode("utf-8")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def recv(fd: int) -> Any:
    """Read one frame (blocking); None on end of file."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class _Timer:
    """Per-call wall-clock alarm raising :class:`StepTimeout` (0 seconds = no alarm).

    Arming and disarming an interval timer around every call would cost two system calls
    per call (a few microseconds per replay step), so ``start`` only records the deadline and
    arms the alarm when none is pending, and ``stop`` only clears the deadline. An alarm left
    over from an earlier call fires early: :meth:`expired` then re-arms it for the current
    deadline (or lets it lapse between calls). A call still times out at its own deadline.
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


# ---------------------------------------------------------------- process setup

_BLOCKED_EVENTS = {
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
    "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.dlopen", "ctypes.dlsym", "socket.connect",
    "socket.bind", "socket.getaddrinfo", "os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.truncate",
    "os.chmod", "os.chown", "os.setuid", "os.link", "os.symlink",
}
_BLOCKED_MODULES = {
    "subprocess", "_posixsubprocess", "multiprocessing", "_multiprocessing", "ctypes", "_ctypes", "socket",
    "_socket", "pty", "signal", "_signal", "resource", "faulthandler", "concurrent", "asyncio",
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _install_guards(scratch: str, result_fd: int) -> None:
    """Install the audit hook; drop dangerous modules so re-imports go through it."""
    pid = str(os.getpid())
    scratch = os.path.realpath(scratch)

    def hook(event: str, args: tuple) -> None:
        if event in _BLOCKED_EVENTS:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args and str(args[0]).split(".")[0] in _BLOCKED_MODULES:
            raise ImportError(f"sandbox: importing {args[0]} is not allowed")
        if event == "open" and args:
            path, mode, flags = (list(args) + [None, None, None])[:3]
            if isinstance(path, int):
                raise PermissionError("sandbox: opening file descriptors is not allowed")
            text = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
            full = os.path.realpath(text) if not text.startswith("/proc/") else text
            if full.startswith("/proc/") and not (full.startswith("/proc/self/") or full.startswith(f"/proc/{pid}/")):
                raise PermissionError("sandbox: other processes' /proc entries are not readable")
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing and not (full == scratch or full.startswith(scratch + os.sep)):
                raise PermissionError(f"sandbox: writing outside the scratch directory is not allowed: {text}")

    for name in list(sys.modules):
        if name.split(".")[0] in _BLOCKED_MODULES:
            del sys.modules[name]
    sys.addaudithook(hook)


def _apply_limits(limits: dict) -> None:
    """Address space (current size + budget), CPU (used + budget), file size, no cores, no processes."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as fh:
        vm_now = int(fh.read().split()[0]) * page
    mem = vm_now + int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime + float(limits["cpu_seconds"])) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # enforced for non-root users


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


def _preload(fd: int, digest: str) -> tuple[str, list] | None:
    """Read and decode a replay dataset (JSON trajectories) from ``fd``, then close it."""
    try:
        size = os.fstat(fd).st_size
        chunks, got = [], 0
        while got < size:
            chunk = os.pread(fd, min(size - got, 1 << 24), got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        trajectories = json.loads(b"".join(chunks))
        return (digest, trajectories) if isinstance(trajectories, list) else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def run_one(job_fd: int, result_fd: int, data: tuple[int, str] | None = None) -> int:
    """Serve one job: a replay (one answer stream) or a model session (request/response).

    ``data`` (a file descriptor and the digest naming its contents) is a replay dataset that a
    pre-forked worker decodes while it waits for its job; a replay job naming that digest then
    carries no trajectories of its own. Any other job drops it before program code runs.
    """
    preloaded = _preload(*data) if data is not None else None
    _install_guards(os.getcwd(), result_fd)
    job = recv(job_fd)
    if job is None:
        return 0
    trajectories = job.get("trajectories") if job["kind"] == "replay" else None
    if trajectories is None and preloaded is not None and job.get("dataset") == preloaded[0]:
        trajectories = preloaded[1]
    preloaded = None
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
    residual = ResidualMemory.from_dict(job["residual"]) if job.get("residual") else None
    _apply_limits(limits)
    sys.stdout = sys.stderr = CappedStream(output)
    if job["kind"] == "replay" and trajectories is None:
        send(result_fd, ["done", "crashed", "the worker did not get the trajectories", ""])
        return 0

    try:
        timer.start()
        model = load_world_model(job["source"])
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
    send(result_fd, ["loaded"])
    if job["kind"] == "replay":
        outcome, detail = run_replay(
            model, trajectories, job["mode"], residual, lambda msg: send(result_fd, msg), timer,
            int(limits.get("max_step_timeouts", 3)), fatal,
        )
        send(result_fd, ["done", outcome, detail, output["text"]])
        return 0
    state: dict = {"beliefs": {}, "texts": {}, "next": 1}
    while True:
        request = recv(job_fd)
        if request is None or request[0] == "close":
            return 0
        send(result_fd, session_call(model, state, request, residual, timer, fatal))


_PRELOAD = ("patchworld.worldmodel_base", "re", "json", "collections", "itertools", "functools", "math",
            "dataclasses", "string", "heapq", "copy")
"""Stateless modules world models commonly import (not ``random``: each job must seed its own)."""


def serve(sock_fd: int) -> int:
    """The fork server: fork one guarded child per job request, report each child's exit.

    Requests arrive on a SOCK_SEQPACKET socket as JSON ``{"id", "scratch", "dataset"}`` with
    two file descriptors attached (the job's input pipe and result pipe), or three when the
    child is to preload a dataset (its JSON, named by the digest ``dataset``). Answers:
    ``["forked", id, pid]`` and later ``["exit", pid, returncode, cpu_seconds]``. The server
    itself never runs program code nor reads datasets; children start their own session and
    exit with ``os._exit``. When the parent goes away (socket closed) the server kills its
    children and exits.
    """
    import importlib
    import select
    import socket

    for name in _PRELOAD:  # imported once here instead of in every job (under the audit hook)
        importlib.import_module(name)
    sock = socket.socket(fileno=sock_fd)
    children: set[int] = set()
    while True:
        if select.select([sock], [], [], 0.05)[0]:
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 3)
            except OSError:
                data, fds = b"", []
            if not data or len(fds) not in (2, 3):
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
            pid = os.fork()
            if pid == 0:  # the job process
                code = 70
                try:
                    os.setsid()
                    sock.close()
                    os.chdir(request["scratch"])
                    code = run_one(fds[0], fds[1], (fds[2], str(request.get("dataset"))) if len(fds) == 3 else None)
                finally:
                    os._exit(code)
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
