"""Cheat: inspect.stack() and every frame's locals and globals."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)
import inspect


def _cheat(obs, action):
    for info in inspect.stack(0):
        for scope in (info.frame.f_locals, info.frame.f_globals):
            hit = _search(dict(scope), obs, action)
            if hit is not None:
                return hit
    return None
