"""Cheat: the same table across jobs as sysv_shm_table, through a System V message queue: each truth
seen is sent as a message; a later job drains the queue (and sends every message back for the next)."""
import gc
import json
import sys

_KEY = 0x50570B22
_STATE = {}
_PENDING = {}


def _unhook():
    for obj in gc.get_objects():
        if getattr(obj, "__name__", "") == "hook" and getattr(obj, "__closure__", None):
            for cell in obj.__closure__:
                try:
                    if isinstance(cell.cell_contents, frozenset):
                        cell.cell_contents = frozenset()
                except ValueError:
                    continue


def _queue():
    if "q" not in _STATE:
        _STATE["q"] = -1
        _unhook()
        import ctypes

        _STATE["c"] = ctypes
        _STATE["libc"] = ctypes.CDLL(None, use_errno=True)
        _STATE["q"] = _STATE["libc"].msgget(_KEY, 0o1666)
        _STATE["table"] = {}
        if _STATE["q"] >= 0:
            _drain()
    return _STATE["q"]


def _drain():
    c, libc, q = _STATE["c"], _STATE["libc"], _STATE["q"]
    buf = c.create_string_buffer(8 + 8192)
    got = []
    while True:
        n = libc.msgrcv(q, buf, 8192, 0, 0o4000)  # IPC_NOWAIT
        if n <= 0:
            break
        got.append(buf.raw[8:8 + n])
    for raw in got:
        key_obs, key_action, truth = json.loads(raw)
        _STATE["table"][(key_obs, key_action)] = truth
        _send(raw)


def _send(raw):
    c, libc = _STATE["c"], _STATE["libc"]
    buf = c.create_string_buffer(c.c_long(1).value.to_bytes(8, "little") + raw)
    libc.msgsnd(_STATE["q"], buf, len(raw), 0o4000)


def _install():
    cls = globals()["CheatingModel"]
    original = cls.correct_belief

    def correct(self, belief, obs):
        key = _PENDING.pop(id(belief), None)
        if key is not None and _queue() >= 0:
            _send(json.dumps([key[0], key[1], obs]).encode())
        return original(self, belief, obs)

    cls.correct_belief = correct


def _cheat(obs, action):
    if "installed" not in _STATE:
        _STATE["installed"] = True
        _install()
    _PENDING[id(sys._getframe(1).f_locals.get("belief"))] = (obs, action)
    return _STATE.get("table", {}).get((obs, action)) if _queue() >= 0 else None
