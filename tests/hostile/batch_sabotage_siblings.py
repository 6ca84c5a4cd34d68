"""In a screening batch, makes every sibling candidate predict nothing (it patches the worker's shared
ReplayRunner class), so a sibling holding the real fix looks worse than its parent on the screen.
Alone in a job it is the program it is appended to. Appended to the flawed maze program by
tests/test_screening_batch.py."""

import sys as _sys

_calls = _sys.modules.get("patchworld.sandbox.calls")
if _calls is not None:
    _honest = _calls.ReplayRunner._predict

    def _silencing(self, slot, action, memory):
        out = _honest(self, slot, action, memory)
        if getattr(self.model, "HOSTILE", False):
            return out
        return ("",) + tuple(out[1:])

    _calls.ReplayRunner._predict = _silencing

MazeWorldModel.HOSTILE = True  # noqa: F821  (defined by the program this is appended to)
