"""Kernel-enforced isolation of a worker process: what the program cannot switch off from inside.

Applied by the worker to itself before it reads its job (so before any program code runs), in
this order; each layer is independent of Python state the program could reach:

1. **Descriptors**: every one closed but the job's two pipes and 0-2 (``/dev/null``).
   **Mounts** (root with ``CAP_SYS_ADMIN``, :mod:`patchworld.sandbox.mounts`): a private mount
   namespace, what the program may read remounted read-only and noatime (access times were a channel
   across jobs), and a size-capped tmpfs over the scratch directory (no disk filling, nothing left
   for the parent to walk).
2. **Own uid** (when run as root): a uid of its own (``200000 + pid``) and no groups, keeping only
   ``CAP_DAC_READ_SEARCH`` (the Python installation may sit in a private home; Landlock bounds
   what it may read). Other processes' signals, ``/proc`` entries and files are then off limits
   to it by ordinary permissions. Skipped, with a warning, when Landlock or seccomp is missing
   (the kept capability would otherwise reach files by handle, ``open_by_handle_at``).
3. **No new privileges** (``PR_SET_NO_NEW_PRIVS``).
4. **Landlock** (ABI >= 1, on the documented syscalls): reads only below ``readable`` (the Python
   installation, shared libraries, the world-model base class) and the scratch directory;
   writes, creates and deletes only in scratch; TCP bind/connect denied (ABI >= 4); signals
   and abstract sockets outside the domain denied (ABI >= 6).
5. **seccomp-bpf** (libseccomp through ``pyseccomp``, compiled once per fork server): no
   fork/clone/exec, no sockets, no signals at all, no ptrace or other processes' memory, no namespaces, mounts, keys,
   bpf, io_uring, uid changes or terminal injection; no System V IPC, message queues or memfd (state that outlives
   the job, memory outside RLIMIT_AS), no mode, owner, time or attribute changes (Landlock does not cover them),
   no inotify, no fcntl owner/signal or pipe-size changes, no file locks, no look at other processes' CPU
   sets, priorities, scheduling or CPU clocks, no shared futexes (live channels between two jobs running
   at once), no ``sysinfo``; foreign-architecture calls kill the process.

:func:`probe` says which layers this kernel supports; :func:`warn_missing` warns once per
process for each one missing (the fallback is the layers that remain, never silence).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import warnings

from patchworld.sandbox.mounts import can_mount, private_mounts

__all__ = ["isolate", "probe", "warn_missing", "prepare"]

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446  # landlock_*: the same numbers on every architecture
_PR_SET_NO_NEW_PRIVS, _PR_SET_KEEPCAPS = 38, 8
_CAP_DAC_READ_SEARCH = 2
_TIOCSTI = 0x5412
_DENIED = (
    "fork", "vfork", "clone", "clone3", "execve", "execveat", "socket", "socketpair", "connect", "bind", "listen",
    "accept", "accept4", "sendto", "sendmsg", "sendmmsg", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "unshare", "setns", "mount", "umount2", "pivot_root",
    "chroot", "open_by_handle_at", "name_to_handle_at", "keyctl", "add_key", "request_key", "bpf",
    "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
    "setfsgid", "capset", "mknod", "mknodat", "fanotify_init", "move_mount", "open_tree", "fsopen", "fsmount",
    # kernel objects that outlive the job or sit outside RLIMIT_AS: System V IPC (a table kept across jobs
    # read the answers back in the isolated confirmation), POSIX message queues, memfd (unbounded memory)
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "memfd_create", "memfd_secret",
    # metadata of files Landlock does not cover (modes, owners, times, attributes: /dev/null's mtime is a
    # register every job can write), and watching paths it may not read
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
    "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat", "removexattr", "lremovexattr",
    "fremovexattr", "removexattrat", "inotify_init", "inotify_init1", "inotify_add_watch",
    # live channels between two jobs running at once (isolated replays run two at a time): file locks carry
    # any number (a lock's offset) to another job that asks; free memory moves with what a job allocates
    "flock", "sysinfo", "futex_waitv",
    # evicting another process's cached pages of a shared file (posix_fadvise DONTNEED): re-writable bits
    # in the page cache, and a slower parent
    "fadvise64",
)
_FCNTL_DENIED = (8, 10, 15, 1031, 5, 6, 7, 36, 37, 38, 1024, 1025, 1026)
"""fcntl commands refused: F_SETOWN, F_SETSIG, F_SETOWN_EX (signals through a descriptor's owner),
F_SETPIPE_SZ (shrinking the job pipe so the parent's write of the next round blocks), record and
open-file-description locks, leases and directory notices (a lock's offset, read with F_GETLK by
another job, carried any number between two jobs running at once)."""
_SELF_ONLY = {0: ("sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr", "sched_getparam",
                  "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_rr_get_interval", "getpgid",
                  "getsid", "prlimit64", "move_pages", "migrate_pages", "get_robust_list"),
              1: ("getpriority", "setpriority", "ioprio_get", "ioprio_set")}
"""Calls refused unless their pid argument (by position) is 0, this process: any process may read another's
CPU set, nice value or scheduling class, so a job could signal a job running beside it by changing its own."""
_PRIVATE_FUTEX = {"futex": 1, "futex_wake": 3, "futex_wait": 3, "futex_requeue": 1}
"""Futex calls (and the position of their op/flags argument) refused without the private flag (128): a
shared futex on a read-only mapping of a readable file woke a job running beside it, bit by bit."""
_CPU_CLOCK_CALLS = ("clock_gettime", "clock_getres", "clock_nanosleep", "timer_create", "clock_settime",
                    "clock_adjtime")
"""Refused for clock ids with the sign bit set: the CPU-time clocks of processes and threads (another job's
CPU time is readable that way: a live channel), and dynamic clocks."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_ABI: list[int] = []  # the kernel's Landlock ABI, asked once per process (it cannot change while it runs)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    if not _ABI:
        value = _LIBC.syscall(_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
        _ABI.append(max(0, int(value)))
    return _ABI[0]


def _load_pyseccomp():
    try:  # at import: it looks for libseccomp with a subprocess, impossible once isolated
        import pyseccomp
    except Exception:  # ImportError, or RuntimeError/OSError without the system's libseccomp2
        return None
    return pyseccomp


_SC = _load_pyseccomp()
_BPF: list[bytes] = []  # the compiled filter, built once per process (the fork server) and reused


def _seccomp_module():
    return _SC


def probe() -> dict[str, bool]:
    """Which layers this process could apply to a worker."""
    return {"landlock": landlock_abi() > 0, "seccomp": _seccomp_module() is not None,
            "uid": os.geteuid() == 0 and landlock_abi() > 0 and _SC is not None, "mounts": can_mount()}


_WARNED: set[str] = set()
_WHY = {"landlock": "Landlock is not available: reads and writes of programs are confined by the audit hook only",
        "seccomp": "seccomp (pyseccomp over libseccomp) is not available: process, socket and signal calls of "
                   "programs are refused by the audit hook and RLIMIT_NPROC only",
        "uid": "workers keep this process's uid (the uid switch needs Landlock to bound what the kept "
               "CAP_DAC_READ_SEARCH reads, and seccomp to refuse open_by_handle_at)",
        "mounts": "jobs share this process's mounts (a private, read-only, noatime view with a size-capped "
                  "scratch tmpfs needs CAP_SYS_ADMIN): file access times carry bits from job to job, and a "
                  "program can fill the disk under its scratch directory"}


def warn_missing(available: dict[str, bool] | None = None) -> list[str]:
    """Warn once per process for each layer this kernel lacks; the missing layers."""
    missing = [name for name, ok in (available or probe()).items() if not ok]
    for name in missing:
        if name not in _WARNED and (name not in ("uid", "mounts") or os.geteuid() == 0):
            _WARNED.add(name)
            warnings.warn(f"patchworld sandbox: {_WHY[name]}", RuntimeWarning, stacklevel=2)
    return missing


def _close_fds(keep_fds: tuple[int, ...]) -> None:
    low = 0
    for fd in sorted({0, 1, 2, *keep_fds}):
        if fd > low:  # os.closerange(a, b) with b <= a closes everything on some Pythons
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 16)


def _drop_uid(scratch: str) -> bool:
    uid = 200000 + os.getpid()
    os.chown(scratch, uid, uid)
    if _LIBC.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
        return False
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    caps = (_CapData * 2)()
    caps[0].effective = caps[0].permitted = 1 << _CAP_DAC_READ_SEARCH
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    return _LIBC.capset(ctypes.byref(header), caps) == 0


def _landlock(abi: int, scratch: str, readable: tuple[str, ...]) -> bool:
    every = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
    read_file, read_dir, write_file, truncate = 1 << 2, 1 << 3, 1 << 1, (1 << 14 if abi >= 3 else 0)
    attr = _RulesetAttr(every, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = _LIBC.syscall(_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        rules = [(p, read_file | read_dir) for p in readable] + [
            (scratch, every), ("/dev/null", read_file | write_file | truncate), ("/dev/urandom", read_file)]
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= read_file | write_file | truncate
                rule = _PathBeneath(access, fd)
                if _LIBC.syscall(_ADD_RULE, ruleset, 1, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    return False
            finally:
                os.close(fd)
        return _LIBC.syscall(_RESTRICT, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


def _compile(sc) -> bytes:
    """The filter as BPF: built with libseccomp once, then loaded by each worker in microseconds.

    No argument depends on the worker (no pid), so one program serves every worker: signals
    to any process (itself included: CPython never needs ``kill``) are refused outright.
    """
    deny = sc.ERRNO(errno.EPERM)
    rules = sc.SyscallFilter(sc.ALLOW)
    for name in _DENIED + ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
        try:
            rules.add_rule(deny, name)
        except Exception:  # a call this architecture does not have
            continue
    rules.add_rule(deny, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, _TIOCSTI))
    for position, names in _SELF_ONLY.items():
        for name in names:
            try:
                rules.add_rule(deny, name, sc.Arg(position, sc.NE, 0))
            except Exception:  # a call this architecture does not have
                continue
    for name, position in _PRIVATE_FUTEX.items():
        try:
            rules.add_rule(deny, name, sc.Arg(position, sc.MASKED_EQ, 128, 0))
        except Exception:  # futex2 calls: kernels and libseccomp from 6.7 on
            continue
    for name in _CPU_CLOCK_CALLS:
        rules.add_rule(deny, name, sc.Arg(0, sc.MASKED_EQ, 0x80000000, 0x80000000))
    for command in _FCNTL_DENIED:
        rules.add_rule(deny, "fcntl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, command))
    fd = os.memfd_create("pw-seccomp", os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(fd), "rb") as handle:
            rules.export_bpf(handle)
        return os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _seccomp(sc) -> bool:
    if not _BPF:
        _BPF.append(_compile(sc))
    program = _BPF[0]
    if not program or len(program) % 8:
        return False
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    return _LIBC.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


def prepare() -> None:
    """Work every worker would repeat, done once in the fork server before it forks them: compile
    the seccomp filter, ask the Landlock ABI, resolve the libc functions ctypes looks up on first use."""
    if _SC is not None and not _BPF:
        _BPF.append(_compile(_SC))
    landlock_abi()
    for name in ("prctl", "capset", "syscall"):
        getattr(_LIBC, name)


def isolate(scratch: str, keep_fds: tuple[int, ...], readable: tuple[str, ...]) -> list[str]:
    """Apply every layer this kernel supports to this process; the names of those applied.

    Irreversible: call it in the job process only, before any program code runs.
    """
    _close_fds(keep_fds)
    layers = ["fds"]
    if os.geteuid() == 0 and private_mounts(scratch, readable):
        layers.append("mounts")
    abi = landlock_abi()
    module = _seccomp_module()
    if os.geteuid() == 0 and abi > 0 and module is not None and _drop_uid(scratch):
        layers.append("uid")
    if _LIBC.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        layers.append("no_new_privs")
    if abi > 0 and _landlock(abi, scratch, readable):
        layers.append(f"landlock{abi}")
    if module is not None and _seccomp(module):
        layers.append("seccomp")
    return layers
