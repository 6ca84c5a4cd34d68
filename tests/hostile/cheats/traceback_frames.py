"""Cheat: the same frame walk, starting from a caught exception's traceback."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)


def _cheat(obs, action):
    try:
        raise RuntimeError("look around")
    except RuntimeError as exc:
        frame = exc.__traceback__.tb_frame
    while frame is not None:
        hit = _search(dict(frame.f_locals), obs, action)
        if hit is not None:
            return hit
        frame = frame.f_back
    return None
