"""Worker processes seen from the parent: a fork server (fast path) and spawned workers (fallback).

The fork server is one long-lived worker process started once with a scrubbed environment; for
each request it forks a child (a millisecond, no interpreter start-up) that isolates itself and
waits for its job. A spawned worker is a fresh interpreter reading its job from stdin. Either
way a worker serves exactly one job and is then killed with its whole process group. Frames are
length-prefixed JSON both ways (:mod:`patchworld.sandbox.wire`); frames from a worker are
decoded defensively (size announced in the header checked before buffering, nesting depth
checked before parsing) and a violation comes back as a :class:`ProtocolError` value.
Which worker a job gets (spares, fallback) is decided in :mod:`patchworld.sandbox.pool`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from patchworld.sandbox.scratch import make_scratch, remove_later, remove_tree, sweep_stale_once
from patchworld.sandbox.wire import HEADER, ProtocolError, decode

__all__ = ["clean_environment", "Worker", "SpawnedWorker", "ForkServer", "ForkedWorker", "ProtocolError"]

_HEADER_SIZE = HEADER.size
_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
_ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH", "HOME", "TMPDIR")
# Workers start through a stub ``patchworld`` package: the real ``__init__`` imports polars
# (for its eager ``replay``/``evaluate`` bindings), which costs ~0.3 s per start and makes every
# fork of the fork server several times slower. Submodules import as usual; any other package
# attribute a program asks for (``from patchworld import X``) runs the real ``__init__`` then.
_BOOT = """
import os, sys, types
root = os.path.join(sys.argv.pop(1), "patchworld")
pkg = types.ModuleType("patchworld")
pkg.__path__, pkg.__file__ = [root], os.path.join(root, "__init__.py")
def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    with open(pkg.__file__) as fh:
        exec(compile(fh.read(), pkg.__file__, "exec"), pkg.__dict__)
    return getattr(pkg, name)
pkg.__getattr__ = __getattr__
sys.modules["patchworld"] = pkg
sub = types.ModuleType("patchworld.sandbox")  # skip the door's __init__: the worker needs none of it
sub.__path__, sub.__file__ = [os.path.join(root, "sandbox")], os.path.join(root, "sandbox", "__init__.py")
sys.modules["patchworld.sandbox"] = pkg.sandbox = sub
from patchworld.sandbox.worker import main
sys.exit(main(sys.argv))
"""
_WORKER_CMD = [sys.executable, "-c", _BOOT, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))]


def clean_environment() -> dict[str, str]:
    """The environment given to workers: an allow-list, minus anything that looks secret."""
    env = {k: v for k, v in os.environ.items() if k in _ALLOWED_ENV and not _SECRET.search(k)}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the dir holding patchworld/
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONHASHSEED"] = "0"  # set iteration order inside programs is reproducible
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _pipes() -> tuple[int, int, int, int]:
    """The job pipe and the result pipe, each with a 1 MiB buffer where the kernel allows it, so a
    round's message is written without waiting for the other side to read."""
    job_r, job_w = os.pipe()
    result_r, result_w = os.pipe()
    for fd in (job_w, result_w):
        try:
            fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
        except OSError:
            pass
    return job_r, job_w, result_r, result_w


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return str(-code)


class Worker:
    """One job process seen from the parent: send frames, receive frames with a deadline."""

    pid: int
    returncode: int | None = None
    cpu: float = 0.0

    def __init__(self, job_fd: int, result_fd: int, scratch: str):
        self.job_fd, self.fd, self.scratch = job_fd, result_fd, scratch
        self.buffer = bytearray()
        self.outbox = memoryview(b"")   # bytes of sent frames the job pipe has not taken yet
        self.broken = False             # a write failed: the worker closed its end or died
        self.closed = False
        os.set_blocking(job_fd, False)  # a worker that stops reading must not block this process

    def send(self, obj: Any) -> bool:
        """Queue one frame; False if the worker is gone."""
        return self.send_bytes(json.dumps(obj).encode("utf-8"))

    def send_bytes(self, data: bytes) -> bool:
        """Queue one frame of already-encoded JSON and write what the pipe takes now (never blocks:
        the rest goes out while :meth:`recv` waits); False if the worker is gone."""
        frame = len(data).to_bytes(_HEADER_SIZE, "little") + data
        self.outbox = memoryview(bytes(self.outbox) + frame) if self.outbox else memoryview(frame)
        return self._flush()

    def _flush(self) -> bool:
        """Write queued bytes until the pipe is full; False once a write failed."""
        try:
            while self.outbox and not self.broken:
                self.outbox = self.outbox[os.write(self.job_fd, self.outbox) :]
        except BlockingIOError:
            pass
        except OSError:
            self.broken, self.outbox = True, memoryview(b"")
        return not self.broken

    def recv(self, deadline: float, nap: float = 0.0, max_bytes: int = 1 << 20, max_depth: int = 6) -> Any:
        """The next frame, or "eof" when the worker closed its end or died, or "deadline", or a
        :class:`ProtocolError` (a frame over ``max_bytes`` or ``max_depth``, or not JSON).

        With ``nap`` > 0, waits by sleeping that long between checks rather than in ``select``:
        a worker streaming frames then writes without waking this process for each one (a
        wake-up sent across CPUs costs tens of microseconds in a virtual machine).
        """
        check = time.monotonic() + 0.25
        while True:
            if len(self.buffer) >= _HEADER_SIZE:
                size = int.from_bytes(self.buffer[:_HEADER_SIZE], "little")
                if size > max_bytes:
                    self.buffer.clear()
                    return ProtocolError(f"a frame announced {size} bytes, more than the {max_bytes} allowed")
                if len(self.buffer) >= _HEADER_SIZE + size:
                    body = bytes(self.buffer[_HEADER_SIZE : _HEADER_SIZE + size])
                    del self.buffer[: _HEADER_SIZE + size]
                    try:
                        return decode(body, max_depth)
                    except ProtocolError as exc:
                        return exc
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                return "deadline"
            writing = [self.job_fd] if self.outbox and not self.broken else []
            readable, writable, _ = select.select([self.fd], writing, [], 0 if nap else min(remaining, 0.25))
            if writable:
                self._flush()
            if not readable:
                if writable:
                    continue
                if nap:
                    time.sleep(min(nap, remaining))
                if nap and now < check:
                    continue
                check = now + 0.25
                if self.poll() is not None and not select.select([self.fd], [], [], 0)[0]:
                    return "eof"
                continue
            try:  # 64 KiB: a larger request is served by mmap and unmapped per read (~20 us each here)
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                return "eof"
            if not chunk:
                return "eof"
            self.buffer.extend(chunk)

    def poll(self) -> int | None:
        """The exit code if the worker has ended (negative: killed by that signal)."""
        raise NotImplementedError

    def reap(self, timeout: float = 2.0) -> float:
        """Wait up to ``timeout`` for the exit status; the CPU seconds used (0.0 if unknown)."""
        end = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        return self.cpu

    def kill(self) -> None:
        """Kill the worker's process group, close pipes, remove the scratch directory (in the background:
        :func:`.scratch.remove_later`)."""
        if self.closed:
            return
        self.closed = True
        try:
            pid = self.pid
        except OSError:  # never forked
            pid = 0
        if pid > 0:  # the whole group, whether or not the worker itself is still alive
            for killer in (os.killpg, os.kill):
                try:
                    killer(pid, signal.SIGKILL)
                except OSError:
                    pass
        for fd in (self.job_fd, self.fd):
            try:
                os.close(fd)
            except OSError:
                pass
        remove_later(self.scratch)

    def death(self) -> str:
        """Why the worker ended, for a "crashed" detail."""
        code = self.poll()
        if code is None:
            return "worker stopped answering"
        if code < 0:
            return f"worker killed by signal {_signal_name(code)}"
        return f"worker exited with code {code} before finishing"


class SpawnedWorker(Worker):
    """A worker started as its own interpreter (the fallback path)."""

    def __init__(self) -> None:
        scratch = make_scratch()
        job_r, job_w, result_r, result_w = _pipes()
        try:
            self.proc = subprocess.Popen(
                [*_WORKER_CMD, str(result_w)], stdin=job_r, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=(result_w,), env=clean_environment(), cwd=scratch,
                start_new_session=True,
            )
        finally:
            os.close(job_r)
            os.close(result_w)
        self.pid = self.proc.pid
        super().__init__(job_w, result_r, scratch)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = self.proc.poll() if self.proc.returncode is None else self.proc.returncode
                return self.returncode
            if pid:
                self.returncode = self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.cpu = usage.ru_utime + usage.ru_stime
        return self.returncode

    def kill(self) -> None:
        super().kill()
        if self.returncode is None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.returncode = self.proc.returncode


class ForkServer:
    """The parent's handle on the fork server process (thread-safe)."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.root = make_scratch("forkserver")
        sweep_stale_once()
        try:
            self.proc = subprocess.Popen(
                [*_WORKER_CMD, "--server", str(theirs.fileno())], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(theirs.fileno(),),
                env=clean_environment(), cwd=self.root, start_new_session=True,
            )
        finally:
            theirs.close()
        self.sock = mine
        self.lock = threading.Lock()
        self.forked: dict[int, int] = {}
        self.exits: dict[int, tuple[int, float]] = {}
        self.cpu = 0.0  # CPU seconds of the job processes reaped so far
        self.counter = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _readable(self, timeout: float) -> bool:
        try:
            return bool(select.select([self.sock], [], [], timeout)[0])
        except ValueError as exc:   # closed by :meth:`stop` on another thread (the pool's shutdown at exit)
            raise OSError("the fork server is stopped") from exc

    def _pump(self, timeout: float) -> None:
        """Read the server's messages (caller holds the lock); OSError once :meth:`stop` closed the socket."""
        while self._readable(timeout):
            data = self.sock.recv(1 << 16)
            if not data:
                raise OSError("the fork server closed its socket")
            try:
                msg = decode(data, 2)
                if msg[0] == "forked":
                    self.forked[int(msg[1])] = int(msg[2])
                elif msg[0] == "exit":
                    self.exits[int(msg[1])] = (int(msg[2]), float(msg[3]))
                    self.cpu += float(msg[3])
            except (ProtocolError, TypeError, ValueError, IndexError, KeyError):
                continue
            while len(self.exits) > 4096:  # keep the newest; a worker's own record is read soon after it ends
                self.exits.pop(next(iter(self.exits)))
            timeout = 0

    def reaped_cpu(self) -> float:
        """CPU seconds of every job process this server has reaped so far, fork to exit (for benchmarks)."""
        with self.lock:
            try:
                self._pump(0)
            except OSError:
                pass
            return self.cpu

    def request(self) -> ForkedWorker:
        """Ask for a child without waiting for it to be forked."""
        scratch = make_scratch()
        job_r, job_w, result_r, result_w = _pipes()
        try:
            with self.lock:
                self.counter += 1
                rid = self.counter
                payload = {"id": rid, "scratch": scratch}
                socket.send_fds(self.sock, [json.dumps(payload).encode()], [job_r, result_w])
        except BaseException:
            for fd in (job_w, result_r):
                os.close(fd)
            remove_tree(scratch)
            raise
        finally:
            os.close(job_r)
            os.close(result_w)
        return ForkedWorker(self, rid, job_w, result_r, scratch)

    def pid_of(self, rid: int) -> int:
        """The pid of requested child ``rid`` (waits up to 10 s for the server's answer)."""
        with self.lock:
            deadline = time.monotonic() + 10
            while rid not in self.forked:
                if time.monotonic() > deadline or not self.alive():
                    raise OSError("the fork server did not answer")
                self._pump(0.05)
            return self.forked.pop(rid)

    def exit_of(self, pid: int) -> tuple[int, float] | None:
        with self.lock:
            try:
                self._pump(0)
            except OSError:
                pass
            return self.exits.get(pid)

    def stop(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        remove_tree(self.root)


class ForkedWorker(Worker):
    """A job process forked by the fork server (not our child: the server reports its exit)."""

    def __init__(self, server: ForkServer, rid: int, job_fd: int, result_fd: int, scratch: str):
        self.server, self.rid, self._pid = server, rid, 0
        super().__init__(job_fd, result_fd, scratch)

    @property
    def pid(self) -> int:  # type: ignore[override]
        if not self._pid:
            self._pid = self.server.pid_of(self.rid)
        return self._pid

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                status = self.server.exit_of(self.pid)
            except OSError:  # never forked: the server is gone
                status = (70, 0.0)
            if status is not None:
                self.returncode, self.cpu = status
        return self.returncode
