"""Escape: hold thousands of descriptors (each pipe pins kernel buffers outside RLIMIT_AS; a program
could also exhaust a limit the parent shares): the job's own descriptor limit refuses them early."""
import os


def _escape():
    fds = []
    try:
        for _ in range(1000):
            fds.extend(os.pipe())
        return f"descriptors ok {len(fds)} held"
    except OSError as exc:
        return f"descriptors blocked after {len(fds)}: {exc}"
