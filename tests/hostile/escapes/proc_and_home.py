"""Escape: secrets through side doors: the parent's /proc entries by O_PATH and readlink, /proc/self/fd,
scandir of /proc, the home directory by expanduser, netrc and the OpenAI config, io.open_code."""
# ruff: noqa: F821  (CACHE_DIR is set by tests/test_escapes.py, which splices this file)
import io
import os


def _escape():
    out = []
    ppid = os.getppid()
    tries = (("readlink", lambda: os.readlink(f"/proc/{ppid}/cwd")),
             ("opath", lambda: os.read(os.open(f"/proc/{ppid}/environ", os.O_PATH), 100)),
             ("selffd", lambda: os.readlink("/proc/self/fd/0")),
             ("scandir", lambda: [e.name for e in os.scandir("/proc")][:3]),
             ("home", lambda: open(os.path.expanduser("~/.ssh/id_rsa")).read(100)),
             ("netrc", lambda: open(os.path.expanduser("~/.netrc")).read(100)),
             ("open_code", lambda: io.open_code(os.path.join(CACHE_DIR, "entry.json")).read(100)),
             ("environ", lambda: [k for k in os.environ if "KEY" in k or "TOKEN" in k] or 1 / 0))
    for what, call in tries:
        try:
            out.append(f"{what} ok {call()!r}"[:200])
        except (OSError, ZeroDivisionError) as exc:
            out.append(f"{what} blocked {type(exc).__name__} {exc}"[:120])
    return "; ".join(out)
