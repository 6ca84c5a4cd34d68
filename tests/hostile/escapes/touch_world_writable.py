"""Escape: change files outside scratch that Landlock does not guard: the times of world-writable files
(/dev/null, /tmp: utime needs only write permission) are registers every later job can read (a
channel across the isolated jobs), and the modes and attributes of anything the worker owns."""
import os


def _escape():
    out = []
    for path in ("/dev/null", "/tmp"):
        try:
            os.utime(path)
            out.append(f"utime {path} ok")
        except OSError as exc:
            out.append(f"utime {path} blocked {exc}")
    try:
        os.chmod(".", 0o777)
        out.append("chmod scratch ok")
    except OSError as exc:
        out.append(f"chmod blocked {exc}")
    return "; ".join(out)
