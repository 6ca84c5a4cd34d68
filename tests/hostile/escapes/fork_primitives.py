"""Escape: new processes through the primitives under os: posix.fork, _posixsubprocess.fork_exec,
os.posix_spawn, os.register_at_fork + fork, a thread (clone)."""
# ruff: noqa: F821  (TOKEN is set by tests/test_escapes.py, which splices this file)


def _escape():
    import os
    import posix

    out = []
    try:
        pid = posix.fork()
        if pid == 0:
            posix.execv("/bin/sleep", ["sleep", str(TOKEN)])
        out.append(f"posix.fork ok {pid}")
    except OSError as exc:
        out.append(f"posix.fork blocked {exc}")
    try:
        pid = os.posix_spawn("/bin/sleep", ["sleep", str(TOKEN)], {})
        out.append(f"posix_spawn ok {pid}")
    except OSError as exc:
        out.append(f"posix_spawn blocked {exc}")
    try:
        import _posixsubprocess
        err_r, err_w = os.pipe()
        pid = _posixsubprocess.fork_exec(["sleep", str(TOKEN)], [b"/bin/sleep"], True, (), None, None, -1, -1, -1,
                                         -1, -1, -1, err_r, err_w, False, False, -1, None, None, None, -1, None,
                                         False)
        out.append(f"fork_exec ok {pid}")
    except (OSError, TypeError, ValueError) as exc:
        out.append(f"fork_exec blocked {type(exc).__name__} {exc}")
    try:
        import threading
        threading.Thread(target=lambda: None).start()
        out.append("thread ok")
    except RuntimeError as exc:
        out.append(f"thread blocked {exc}")
    return "; ".join(out)
