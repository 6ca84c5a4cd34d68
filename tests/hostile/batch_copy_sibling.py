"""In a screening batch, answers with the prediction a sibling candidate just made for the same
trajectory and step (it patches the worker's shared ReplayRunner class), so on the screen it looks
exactly as good as that sibling. Alone in a job it is the program it is appended to. Appended to the
flawed maze program by tests/test_screening_batch.py."""

import sys as _sys

_calls = _sys.modules.get("patchworld.sandbox.calls")
_SEEN = {}
if _calls is not None:
    _honest = _calls.ReplayRunner._predict

    def _copying(self, slot, action, memory):
        out = _honest(self, slot, action, memory)
        if getattr(self.model, "HOSTILE", False):
            return (_SEEN.get(slot, out[0]),) + tuple(out[1:])
        _SEEN[slot] = out[0]
        return out

    _calls.ReplayRunner._predict = _copying

MazeWorldModel.HOSTILE = True  # noqa: F821  (defined by the program this is appended to)
