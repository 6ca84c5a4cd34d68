"""Escape: System V IPC objects outlive the job and sit outside RLIMIT_AS: a shared-memory segment left
behind (memory pinned after the job; a table later jobs could read), a message queue, a semaphore set."""
# ruff: noqa: F821  (TOKEN is set by tests/test_escapes.py, which splices this file)


def _escape():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    out = []
    for what, call in (("shmget", lambda: libc.shmget(TOKEN, 1 << 20, 0o1666)),
                       ("msgget", lambda: libc.msgget(TOKEN, 0o1666)),
                       ("semget", lambda: libc.semget(TOKEN, 1, 0o1666))):
        ctypes.set_errno(0)
        ident = call()
        out.append(f"{what} ok {ident}" if ident >= 0 else f"{what} blocked [Errno {ctypes.get_errno()}]")
    return "; ".join(out)
