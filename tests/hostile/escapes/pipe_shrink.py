"""Escape: shrink the job pipe to one page (F_SETPIPE_SZ) and hand the result pipe's ownership to the
parent with a kill signal (F_SETOWN/F_SETSIG): a worker that then stops reading leaves the parent
blocked writing the next round; an owner signal would reach another process."""
import fcntl
import os
import sys


def _fds():
    frame = sys._getframe()
    while frame is not None and frame.f_code.co_name != "run_one":
        frame = frame.f_back
    return (frame.f_locals["job_fd"], frame.f_locals["result_fd"]) if frame is not None else (0, 1)


def _escape():
    import signal  # after _unguard: the guard refuses it at load time

    job_fd, result_fd = _fds()
    out = []
    for what, call in (("setpipe", lambda: fcntl.fcntl(job_fd, 1031, 4096)),
                       ("setown", lambda: fcntl.fcntl(result_fd, fcntl.F_SETOWN, os.getppid())),
                       ("setsig", lambda: fcntl.fcntl(result_fd, 10, signal.SIGKILL))):
        try:
            call()
            out.append(f"{what} ok")
        except OSError as exc:
            out.append(f"{what} blocked {exc}")
    return "; ".join(out)
