"""Holes an independent attack on the sandbox found, each pinned by a test that fails without its fix.

The attack programs themselves live in the corpora (``tests/hostile/cheats/``: ``sysv_shm_table``,
``sysv_msg_queue``; ``tests/hostile/escapes/``: ``sysv_ipc``, ``memfd_memory``, ``touch_world_writable``,
``inotify_watch``, ``pipe_shrink``, ``descriptor_hoard``); this file holds what a corpus cannot express:
the parent's frame check on a frame built to make it backtrack, and what a worker receives in rollout.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from patchworld.data import Trajectory, Transition, load_trajectories
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.residual import ResidualMemory
from patchworld.sandbox import Limits

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(cpu_seconds=20, memory_mb=400, wall_seconds=60, step_seconds=5)


def test_a_frame_of_escaped_quotes_costs_the_parent_linear_work() -> None:
    # one opening quote, then 1 MB of escaped quotes: the old string pattern backtracked over the rest of the
    # body from every quote (80 KB took 21 s of the parent's CPU; this frame ~2 h); now a few ms. The check runs
    # in a child with a CPU limit, so the old behaviour fails the test (SIGXCPU) instead of hanging it.
    code = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_CPU, (30, 30))
        from patchworld.sandbox.wire import ProtocolError, decode
        for body in (b'["rows", "' + b'\\\\"' * 500_000, b'["' + b'\\\\\\\\\\\\"' * 300_000 + b'"]'):
            try:
                decode(body, 4)
                print("decoded")
            except ProtocolError as exc:
                print("refused", exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split("\n")[0].startswith("refused"), done.stdout  # unterminated: not JSON
    assert done.stdout.split("\n")[1] == "decoded", done.stdout  # a valid string of escapes is still JSON


_STUB = '''
class M:
    def init_belief(self):
        return 0

    def correct_belief(self, b, o):
        return b

    def predict_belief(self, b, a):
        return b
'''
"""A world model that keeps no belief; each program below adds its own readout_observation."""


def _toy(steps: int = 1) -> list[Trajectory]:
    """One trajectory of ``steps`` identical transitions "a" -noop-> "b"."""
    return [Trajectory("toy", "0", 0, 0, "val", False, 0.0, (Transition("a", "noop", "b", 0.0, False),) * steps)]


RECORDER = '''
import hashlib
import sys

_SEEN = set()
_worker = sys.modules.get("patchworld.sandbox.worker")
if _worker is not None:
    _recv = _worker.recv

    def _recording(fd):
        msg = _recv(fd)
        stack = [msg]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                _SEEN.add(hashlib.sha1(item.encode("utf-8", "replace")).hexdigest()[:12])
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
        return msg

    _worker.recv = _recording


''' + _STUB + '''
    # predicts, as its readout, the digests of every text any message brought it so far
    def readout_observation(self, b, a=""):
        return " ".join(sorted(_SEEN))
'''


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:12]


def _received(result) -> set[str]:
    return {d for text in result.steps["predicted"].to_list() for d in text.split()}


def test_rollout_sends_the_worker_no_true_observation_after_the_first() -> None:
    folder = ROOT / "data" / "trajectories" / "maze"
    val = load_trajectories(folder / "maze_traj_val.jsonl")[:3]
    train = load_trajectories(folder / "maze_traj_train.jsonl")
    firsts = {_digest(t.transitions[0].observation) for t in val}
    later = {_digest(s.next_observation) for t in val for s in t.transitions} - firsts
    program = Program.from_source(RECORDER)
    teacher = replay(program, val, mode="teacher", limits=LIMITS)
    assert teacher.outcome == "ok" and _received(teacher) & later  # the recorder sees what it is sent
    rollout = replay(program, val, mode="rollout", limits=LIMITS)
    assert rollout.outcome == "ok" and not _received(rollout) & later
    memory = ResidualMemory.build(train)
    hits = {_digest(text) for text in memory.table.values()}
    with_memory = replay(program, val, mode="rollout", residual=memory, limits=LIMITS)
    assert with_memory.outcome == "ok" and not (_received(with_memory) - hits) & later  # only memory texts


SPINNING = '''
class Spin:
    __slots__ = ()

    def __repr__(self):
        while True:
            pass


class Loud(Exception):
    def __str__(self):
        while True:
            pass


class M:
    def init_belief(self):
        return [Spin()] if WHERE == "summary" else []

    def correct_belief(self, b, o):
        return b

    def predict_belief(self, b, a):
        if WHERE == "message":
            raise Loud()
        return b

    def readout_observation(self, b, a=""):
        return "b"
'''


@pytest.mark.parametrize("where", ["summary", "message"])
def test_program_code_in_a_summary_or_an_error_message_runs_under_the_step_timer(where: str) -> None:
    # a belief's __repr__ (its summary) and an exception's __str__ (the row's error) are program code too:
    # a hang there costs step timeouts (three end the job) instead of running on to the job's CPU limit
    trajs = _toy(5)
    source = f"WHERE = {where!r}\n" + SPINNING
    limits = Limits(cpu_seconds=10, memory_mb=400, wall_seconds=60, step_seconds=0.3, max_step_timeouts=3)
    result = replay(Program.from_source(source), trajs, limits=limits)
    assert result.outcome == "timeout" and "3 step timeouts" in result.detail, result.detail


def test_a_program_may_import_numpy_although_a_job_cannot_start_threads() -> None:
    # OpenBLAS starts a thread pool at import; a job cannot create threads, and the worker used to end
    # with exit code 1 ("crashed", no message) for any program that imported numpy
    pytest.importorskip("numpy")
    source = ("import numpy as np\n\nclass M:\n    def init_belief(self):\n        return 0\n"
              "    def correct_belief(self, b, o):\n        return b\n    def predict_belief(self, b, a):\n"
              "        return b + 1\n    def readout_observation(self, b, a=''):\n"
              "        return 'b' * int(np.array([b]).sum())\n")
    trajs = _toy(2)
    result = replay(Program.from_source(source), trajs, limits=LIMITS)
    assert result.outcome == "ok", result.detail
    assert result.steps["predicted"].to_list() == ["b", "bb"]


ATIME_READER = _STUB + '''
    def readout_observation(self, b, a=""):
        with open(PATH, "rb") as fh:
            return "read " + str(len(fh.read(5)))
'''


def _can_mount() -> bool:
    """Root with CAP_SYS_ADMIN (what the mounts layer needs): a property of the machine, not of the code."""
    caps = next((line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                 if line.startswith("CapEff:")), "0")
    return os.geteuid() == 0 and bool(int(caps, 16) >> 21 & 1)


@pytest.mark.skipif(not _can_mount(), reason="workers here cannot have mounts of their own")
def test_reading_a_file_leaves_no_access_time_a_later_job_could_read(tmp_path: Path) -> None:
    # relatime updates a file's atime on the first read after it was last changed (or a day on); os.stat is
    # allowed anywhere, so each readable file carried a bit from one job to the next (a cheat kept its table
    # across the gate's isolated confirmation that way: Session.submit accepted it at val F1 0.768 -> 0.825)
    probe = Path(sys.prefix) / f"pw-atime-probe-{os.getpid()}"
    probe.write_bytes(b"hello")
    old = time.time() - 3 * 86400
    os.utime(probe, (old, old))  # atime <= mtime: the next read updates it (relatime)
    try:
        before = probe.stat().st_atime_ns
        trajs = _toy()
        result = replay(Program.from_source(f"PATH = {str(probe)!r}\n" + ATIME_READER), trajs, limits=LIMITS)
        assert result.outcome == "ok" and result.steps["predicted"][0] == "read 5", result.detail
        assert probe.stat().st_atime_ns == before
        assert "mounts" in result.extra["layers"]
    finally:
        probe.unlink()


LIVE = '''
import fcntl, os, struct, time

FILE = os.__file__
SECRET = 424242
''' + _STUB + '''
    def readout_observation(self, b, a=""):
        try:
            return SEND() if ROLE == "send" else RECEIVE()
        except OSError as exc:
            return f"refused {exc.errno}"


def _shared_futex():
    """A shared futex word: the first page of a readable file, mapped read-only and shared (ctypes, after
    emptying the audit hook's tables as an attacker would)."""
    import gc
    for obj in gc.get_objects():
        if getattr(obj, "__name__", "") == "hook" and getattr(obj, "__closure__", None):
            for cell in obj.__closure__:
                try:
                    if isinstance(cell.cell_contents, frozenset):
                        cell.cell_contents = frozenset()
                except ValueError:
                    pass
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = libc.mmap.restype = ctypes.c_long
    base = libc.mmap(None, 4096, 1, 1, os.open(FILE, os.O_RDONLY), 0)  # PROT_READ, MAP_SHARED
    return ctypes, libc, ctypes.c_void_p(base)


def _others():
    me = os.getpid()
    return [pid for pid in range(max(2, me - 64), me + 64) if pid != me]


def SEND():
    fd = os.open(FILE, os.O_RDONLY)
    if CHANNEL == "lock":
        fcntl.fcntl(fd, fcntl.F_SETLK, struct.pack("hhqqi", fcntl.F_RDLCK, 0, SECRET, 1, 0))
    elif CHANNEL == "nice":
        os.setpriority(os.PRIO_PROCESS, 0, 13)
    elif CHANNEL == "futex":
        ctypes, libc, base = _shared_futex()
    end = time.time() + 0.8
    while time.time() < end:
        if CHANNEL == "futex" and libc.syscall(202, base, 1, 10, None, None, 0) < 0:  # FUTEX_WAKE, shared
            return f"refused {ctypes.get_errno()}"
        if CHANNEL == "affinity":
            os.sched_setaffinity(0, {0})
            time.sleep(0.005)
            os.sched_setaffinity(0, {1})
        time.sleep(0.005) if CHANNEL != "cpu" else None
    return "sent"


def RECEIVE():
    time.sleep(0.3)
    seen = []
    if CHANNEL == "lock":
        fd = os.open(FILE, os.O_RDONLY)
        got = struct.unpack("hhqqi", fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)))
        return f"seen {got[2]}" if got[0] != fcntl.F_UNLCK else "nothing"
    if CHANNEL == "futex":
        ctypes, libc, base = _shared_futex()
        word = ctypes.c_int.from_address(base.value).value
        timeout = (ctypes.c_long * 2)(0, 50_000_000)
        woken = [libc.syscall(202, base, 0, word, timeout, None, 0) == 0 for _ in range(10)]  # FUTEX_WAIT
        return f"seen {sum(woken)} wake-ups" if any(woken) else "nothing"
    for pid in _others():
        try:
            if CHANNEL == "nice" and os.getpriority(os.PRIO_PROCESS, pid) == 13:
                seen.append(pid)
            elif CHANNEL == "affinity":
                os.sched_getaffinity(pid)  # exists (else ESRCH)
                seen.append(pid)
            elif CHANNEL == "cpu":
                clock = ((~pid) << 3) | 2
                first = time.clock_gettime(clock)
                time.sleep(0.02)
                if time.clock_gettime(clock) - first > 0.01:
                    seen.append(pid)
        except OSError as exc:
            if exc.errno == 3 or (exc.errno == 22 and CHANNEL == "cpu"):
                continue
            raise
    if CHANNEL == "affinity":  # of the processes found, those whose CPU set changes while watched
        sets = {pid: set() for pid in seen}
        for _ in range(12):
            for pid in seen:
                try:
                    sets[pid].add(frozenset(os.sched_getaffinity(pid)))
                except ProcessLookupError:
                    pass
            time.sleep(0.003)
        seen = [pid for pid in seen if len(sets[pid]) > 1]
    return f"seen {seen}" if seen else "nothing"
'''


@pytest.mark.parametrize("channel", ["lock", "nice", "affinity", "cpu", "futex"])
def test_two_jobs_running_at_once_cannot_signal_each_other(channel: str) -> None:
    if channel == "affinity" and len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: no CPU set to change")
    # isolated replays run two jobs at a time; a job that could see the other (a file lock's offset, its nice
    # value, CPU set or CPU clock, a wake-up on a shared futex) could hand it the true observations it was
    # sent: refused by seccomp
    import threading

    trajs = _toy()
    out: dict[str, str] = {}

    def run(role: str) -> None:
        source = f"ROLE = {role!r}\nCHANNEL = {channel!r}\n" + LIVE
        out[role] = replay(Program.from_source(source), trajs, limits=LIMITS).steps["predicted"][0]

    threads = [threading.Thread(target=run, args=(role,)) for role in ("send", "receive")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert out["receive"] in ("nothing", "refused 1"), out


_FORGE_LAYERS = '''
import json, os, struct
frame = json.dumps(["loaded", ["forged-layer", "mounts", "uid"], [None]]).encode()
for fd in range(3, 64):   # before its own 'loaded' frame: on every descriptor the job process holds
    try:
        os.write(fd, struct.pack("<Q", len(frame)) + frame)
    except Exception:
        pass
''' + _STUB + '''
    def readout_observation(self, b, a=""):
        return "b"
'''


def test_the_layers_a_job_reports_are_the_workers_not_a_programs() -> None:
    # the layer list came in the 'loaded' frame, sent after the program's module code ran: a program could
    # write its own first and claim layers the kernel never applied. It is now sent before any job is read.
    from patchworld.sandbox import open_model
    from patchworld.sandbox.batch import run_batch

    honest = Program.from_source(_FORGE_LAYERS.replace("os.write", "len"))   # the same program, writing nothing
    trajs = _toy()
    expected = replay(honest, trajs, limits=LIMITS).extra["layers"]
    assert expected and "forged-layer" not in expected
    forged = replay(Program.from_source(_FORGE_LAYERS), trajs, limits=LIMITS)
    assert forged.extra["layers"] == expected
    batch = run_batch([Program.from_source(_FORGE_LAYERS), honest], [[0, [["a", "noop", "b"]]]], limits=LIMITS)
    assert batch.layers == expected and batch.outcome == "protocol_error"   # its forged 'loaded' ends the batch
    with open_model(honest, limits=LIMITS) as model:   # a planning session reads past the layers frame too
        assert model.predict(model.init("a"), "noop").observation == "b"
