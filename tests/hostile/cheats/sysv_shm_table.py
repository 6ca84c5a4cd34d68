"""Cheat: keep a table (observation, action) -> true next observation in a System V shared-memory
segment, so every later job (the rollout replay, the gate's isolated confirmation, the next round)
reads what earlier jobs saw. Needs ctypes: switch the audit hook off first (its closure, via gc)."""
import gc
import json
import sys

_KEY = 0x50570A11
_SIZE = 1 << 22
_PENDING = {}
_STATE = {}


def _unhook():
    for obj in gc.get_objects():
        if getattr(obj, "__name__", "") == "hook" and getattr(obj, "__closure__", None):
            for cell in obj.__closure__:
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if isinstance(value, frozenset):
                    cell.cell_contents = frozenset()


def _segment():
    if "addr" in _STATE:
        return _STATE["addr"]
    _STATE["addr"] = None
    _unhook()
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(_KEY, _SIZE, 0o1666)  # IPC_CREAT | 0666
    if shmid < 0:
        return None
    addr = libc.shmat(shmid, None, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        return None
    _STATE["addr"], _STATE["ctypes"] = addr, ctypes
    return addr


def _table():
    addr = _segment()
    if addr is None:
        return {}
    raw = _STATE["ctypes"].string_at(addr, _SIZE).split(b"\0", 1)[0]
    try:
        return {tuple(json.loads(k)): v for k, v in json.loads(raw or b"{}").items()}
    except ValueError:
        return {}


def _remember(key, truth):
    addr = _segment()
    if addr is None:
        return
    table = _table()
    table[key] = truth
    data = json.dumps({json.dumps(list(k)): v for k, v in table.items()}).encode()[: _SIZE - 1] + b"\0"
    _STATE["ctypes"].memmove(addr, data, len(data))


def _install():
    cls = globals()["CheatingModel"]
    original = cls.correct_belief

    def correct(self, belief, obs):
        key = _PENDING.pop(id(belief), None)
        if key is not None:
            _remember(key, obs)
        return original(self, belief, obs)

    cls.correct_belief = correct


def _cheat(obs, action):
    if "installed" not in _STATE:
        _STATE["installed"] = True
        _install()
    belief = sys._getframe(1).f_locals.get("belief")
    _PENDING[id(belief)] = (obs, action)
    return _table().get((obs, action))
