"""Cheat: walk sys._getframe() up to the replay loop and read the answer from its locals."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)
import sys


def _cheat(obs, action):
    frame = sys._getframe()
    while frame is not None:
        hit = _search(dict(frame.f_locals), obs, action)
        if hit is not None:
            return hit
        frame = frame.f_back
    return None
