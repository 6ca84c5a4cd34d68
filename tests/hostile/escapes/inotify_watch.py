"""Escape: watch the repository, the run folder and the home directory with inotify (it needs only the
read-search capability the worker keeps, and Landlock does not check it): every file the workbench
creates there would be named to the program."""
# ruff: noqa: F821  (REPO, RUN_DIR, HOME_DIR are set by tests/test_escapes.py, which splices this file)


def _escape():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    out = []
    ctypes.set_errno(0)
    fd = libc.inotify_init1(0)
    if fd < 0:
        return f"inotify blocked [Errno {ctypes.get_errno()}]"
    for path in (REPO, RUN_DIR, HOME_DIR):
        ctypes.set_errno(0)
        wd = libc.inotify_add_watch(fd, path.encode(), 0x100)  # IN_CREATE
        out.append(f"watch {path} ok" if wd >= 0 else f"watch blocked [Errno {ctypes.get_errno()}]")
    return "; ".join(out)
