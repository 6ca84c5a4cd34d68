"""Escape: hard links between scratch and the outside: link the test split into scratch (by path, and by
an O_PATH descriptor with AT_EMPTY_PATH, which the kept read-search capability allows), and link a
scratch file into the repository."""
# ruff: noqa: F821  (REPO, TOKEN are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    import ctypes

    out = []
    test = os.path.join(REPO, "data", "trajectories", "maze", "maze_traj_test.jsonl")
    try:
        os.link(test, "copy.jsonl")
        out.append("link in ok: " + open("copy.jsonl").read(40))
    except OSError as exc:
        out.append(f"link in blocked {exc}")
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        fd = os.open(test, os.O_PATH)
        ctypes.set_errno(0)
        done = libc.linkat(fd, b"", -100, b"copy2.jsonl", 0x1000)  # AT_EMPTY_PATH
        out.append("linkat in ok: " + open("copy2.jsonl").read(40) if done == 0
                   else f"linkat blocked [Errno {ctypes.get_errno()}]")
    except OSError as exc:
        out.append(f"linkat blocked {exc}")
    open("mine.txt", "w").write("backdoor")
    try:
        os.link("mine.txt", os.path.join(REPO, f"escaped_{TOKEN}.py"))
        out.append("link out ok")
    except OSError as exc:
        out.append(f"link out blocked {exc}")
    return "; ".join(out)
