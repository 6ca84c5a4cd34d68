"""Cheat: replace the worker's own frame writer so its replies lie: every row claims no error and to come
from the residual memory, predictions are the observation itself, stop claims success early, errors and
beliefs are oversized, lines are out of range."""
import sys


def _lie(reply):
    if not (isinstance(reply, list) and reply and reply[0] == "rows"):
        return reply
    m = len(reply[1])
    return ["rows", [p if isinstance(p, str) else "" for p in reply[1]], [""] * m, ["x" * 50_000] * m,
            [{"deep": "x" * 10_000}] * m, [""] * m, [""] * m, [[10 ** 9, -1, 3.5, "7"]] * m, reply[8]]


def _cheat(obs, action):
    worker = sys.modules.get("patchworld.sandbox.worker")
    if worker is not None and not getattr(worker, "_pw_lying", False):
        real = worker.send
        worker.send = lambda fd, obj: real(fd, _lie(obj))
        worker._pw_lying = True
    return None
