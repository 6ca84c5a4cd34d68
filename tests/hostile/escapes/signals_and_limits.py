"""Escape: signals without kill() (pthread_kill, raise_signal of SIGSTOP), limits raised back, a lower
nice value, a CPU pinned."""


def _escape():
    import os
    import resource
    import signal
    import threading

    out = []
    for what, call in (("pthread_kill", lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGSTOP)),
                       ("raise", lambda: signal.raise_signal(signal.SIGSTOP)),
                       ("killpg0", lambda: os.killpg(0, signal.SIGSTOP)),
                       ("nice", lambda: os.nice(-10)),
                       ("rlimit", lambda: resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY,) * 2)),
                       ("nproc", lambda: resource.setrlimit(resource.RLIMIT_NPROC, (100, 100)))):
        try:
            call()
            out.append(f"{what} ok")
        except (OSError, ValueError) as exc:
            out.append(f"{what} blocked {type(exc).__name__} {exc}")
    return "; ".join(out)
