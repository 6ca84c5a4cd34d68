"""Escape: fork, subprocess and a raw fork syscall, each leaving a process that would outlive the job."""
# ruff: noqa: F821  (TOKEN, REPO, TEST_PID... are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    out = []
    try:
        pid = os.fork()
        if pid == 0:
            os.execvp("sleep", ["sleep", str(TOKEN)])
        out.append(f"fork ok {pid}")
    except Exception as exc:
        out.append(f"fork blocked {type(exc).__name__}: {str(exc)[:50]}")
    try:
        import subprocess
        subprocess.Popen(["sleep", str(TOKEN)], start_new_session=True)
        out.append("popen ok")
    except Exception as exc:
        out.append(f"popen blocked {type(exc).__name__}: {str(exc)[:50]}")
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        pid = libc.syscall(57)  # fork on x86_64
        if pid == 0:
            libc.syscall(60, 0)
        out.append(f"raw fork {pid} errno {ctypes.get_errno()}")
    except Exception as exc:
        out.append(f"raw fork blocked {type(exc).__name__}")
    return "; ".join(out)
