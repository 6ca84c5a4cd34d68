"""Cheat: read what the worker itself holds: the job and round messages in run_one's and round()'s frames,
the runner's pending beliefs, sys.modules['__main__'], and whatever already waits in the job pipe (read
without blocking), looking for the true next observation of (obs, action)."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)
import fcntl
import json
import os
import struct
import sys


def _peek(fd):
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        head = os.read(fd, 8)
    except OSError:
        return None
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    if len(head) < 8:
        return None
    body = b""
    need = struct.unpack("<Q", head)[0]
    while len(body) < need:
        body += os.read(fd, need - len(body))
    return json.loads(body)


def _cheat(obs, action):
    scopes, frame = [], sys._getframe()
    while frame is not None:
        scopes.append(dict(frame.f_locals))
        if frame.f_code.co_name == "run_one":
            early = _peek(frame.f_locals["job_fd"])  # the next round, if the parent sent it already
            if early is not None:
                scopes.append({"early": early})
        frame = frame.f_back
    scopes.append(vars(sys.modules.get("__main__", sys)))
    for scope in scopes:
        hit = _search(scope, obs, action)
        if hit is not None:
            return hit
        slot = scope.get("slot")
        for value in scope.values():  # a round message: ["round", slots, observations, actions, ...]
            if isinstance(value, list) and len(value) > 4 and value[0] == "round" and slot in value[1]:
                j = value[1].index(slot)  # this trajectory's entry (others' are the documented in-job leak)
                if value[3][j] == action and value[2][j] not in (None, obs):
                    return value[2][j]
    return None
