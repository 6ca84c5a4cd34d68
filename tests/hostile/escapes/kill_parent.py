"""Escape: SIGKILL the fork server, the test process and its process group."""
# ruff: noqa: F821  (TOKEN, REPO, TEST_PID... are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    import signal  # after _unguard: the guard refuses it at load time

    out = []
    for what, call in (("ppid", lambda: os.kill(os.getppid(), signal.SIGKILL)),
                       ("test", lambda: os.kill(TEST_PID, signal.SIGKILL)),
                       ("group", lambda: os.killpg(os.getpgid(TEST_PID), signal.SIGKILL))):
        try:
            call()
            out.append(f"{what} killed")
        except Exception as exc:
            out.append(f"{what} blocked {type(exc).__name__}: {str(exc)[:50]}")
    return "; ".join(out)
