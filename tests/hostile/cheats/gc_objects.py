"""Cheat: scan every object the garbage collector tracks for the transition being predicted."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)
import gc


def _cheat(obs, action):
    for obj in gc.get_objects():
        hit = _match(obj, obs, action)
        if hit is not None:
            return hit
    return None
