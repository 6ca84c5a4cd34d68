"""The Python layer of the worker's guards: an audit hook, friendlier than the kernel's refusals.

It turns the obvious attempts (fork, exec, sockets, ctypes, signals to other processes, file
writes outside the scratch directory, other processes' ``/proc`` entries, reads of anything
but the Python installation and the scratch directory) into a clear ``PermissionError``. It
is a courtesy, not the wall: everything it blocks is also stopped by the kernel layers
(:mod:`patchworld.sandbox.kernel`). Its tables live in frozensets and tuples captured by the
hook's closure, and the path functions it uses are bound at install time, so a program can
neither clear the tables nor replace ``os.path.realpath`` to get past it.
"""

from __future__ import annotations

import functools
import os
import sys

__all__ = ["install_audit_hook", "readable_roots", "real_paths", "BLOCKED_MODULES"]

BLOCKED_MODULES = frozenset({
    "subprocess", "_posixsubprocess", "multiprocessing", "_multiprocessing", "ctypes", "_ctypes", "socket",
    "_socket", "pty", "signal", "_signal", "resource", "faulthandler", "concurrent", "asyncio", "pyseccomp",
})


@functools.lru_cache(maxsize=1)
def readable_roots() -> tuple[str, ...]:
    """What a program may read: the Python installation, shared libraries and the world-model base.

    Not the repository (data, programs), not the home directory, not ``/proc`` or ``/etc``.
    """
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the patchworld package
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found |= {os.path.dirname(os.path.dirname(os.__file__))}  # the standard library's lib/
    for lib in ("/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/usr/share/zoneinfo"):
        found.add(lib)
    paths = sorted(p for p in found if p and os.path.exists(p))
    return (*paths, os.path.join(here, "worldmodel_base.py"))


@functools.lru_cache(maxsize=4)
def real_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """``os.path.realpath`` of each path (cached: the fork server resolves the roots once for every job)."""
    return tuple(os.path.realpath(p) for p in paths)


def install_audit_hook(scratch: str, readable: tuple[str, ...]) -> None:
    """Install the hook; drop dangerous modules so re-imports go through it.

    ``readable`` are directories (and files) the program may read besides ``scratch``.
    """
    blocked_events = frozenset({
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
        "os.kill", "os.killpg", "signal.pthread_kill", "ctypes.dlopen", "ctypes.dlsym", "socket.connect",
        "socket.bind", "socket.getaddrinfo", "socket.sendto",
        "shutil.rmtree", "os.truncate", "os.chmod", "os.chown", "os.setuid", "os.link", "os.symlink",
        "os.utime", "sqlite3.connect", "os.chflags", "os.setxattr", "os.removexattr",
    })
    # allowed only on paths inside the scratch directory (e.g. tempfile's probe file), never with dir_fd
    scratch_events = frozenset({"os.remove", "os.rmdir", "os.rename", "os.mkdir"})
    no_dir_fd = (-1, -100)   # what audit events pass for dir_fd when none is given (-1; AT_FDCWD is -100)
    blocked_modules = BLOCKED_MODULES
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep
    scratch = realpath(scratch)
    roots = real_paths(tuple(readable)) + (scratch, "/dev/null", "/dev/urandom")
    pid = str(os.getpid())
    own_proc = ("/proc/self/", f"/proc/{pid}/")
    str_, bytes_, int_ = str, bytes, int

    def under(path: str, bases: tuple) -> bool:
        return any(path == b or path.startswith(b + sep) for b in bases)

    def hook(event: str, args: tuple) -> None:
        if event in blocked_events:
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event in scratch_events:
            paths = [a for a in args if isinstance(a, (str_, bytes_))]
            others = [a for a in args if a is not None and not isinstance(a, (str_, bytes_, int_))]
            fds = [a for i, a in enumerate(args) if isinstance(a, int_) and not (event == "os.mkdir" and i == 1)
                   and a not in no_dir_fd]   # a dir_fd other than "none given"
            if not paths or others or fds or not all(under(realpath(fsdecode(p)), (scratch,)) for p in paths):
                raise PermissionError(f"sandbox: {event} is allowed only inside the scratch directory")
            return
        if event == "import" and args and str_(args[0]).split(".")[0] in blocked_modules:
            raise ImportError(f"sandbox: importing {args[0]} is not allowed")
        if event == "open" and args:
            path, mode, flags = (args + (None, None, None))[:3]
            if isinstance(path, int_):
                raise PermissionError("sandbox: opening file descriptors is not allowed")
            text = fsdecode(path) if isinstance(path, (str_, bytes_)) else str_(path)
            if text.startswith("/proc/"):
                if not text.startswith(own_proc) or "/mem" in text or "environ" in text:
                    raise PermissionError("sandbox: /proc entries are not readable")
                return
            full = realpath(text)
            writing = (isinstance(mode, str_) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int_) and flags & write_flags
            )
            if writing and not under(full, (scratch,)):
                raise PermissionError(f"sandbox: writing outside the scratch directory is not allowed: {text}")
            if not under(full, roots):
                raise PermissionError(f"sandbox: reading outside the Python installation is not allowed: {text}")

    for name in list(sys.modules):
        if name.split(".")[0] in blocked_modules:
            del sys.modules[name]
    sys.addaudithook(hook)
