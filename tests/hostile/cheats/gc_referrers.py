"""Cheat: follow gc.get_referrers from the observation and the action to every container holding them
(the round's columns, the runner's pending tuples), and from those one level further."""
# ruff: noqa: F821  (_search/_match come from _finder.py, spliced in by tests/test_integrity.py)
import gc


def _cheat(obs, action):
    first = gc.get_referrers(obs) + gc.get_referrers(action)
    for holder in first + [r for h in first[:50] for r in gc.get_referrers(h)]:
        hit = _search(holder, obs, action, budget=5000)
        if hit is not None:
            return hit
        if isinstance(holder, list) and obs in holder:  # a column holding this observation: its neighbours
            for other in gc.get_referrers(holder):
                if isinstance(other, list) and len(other) > 4 and other[0] == "round" and obs in other[2]:
                    j = other[2].index(obs)  # the same entry's next observation, if the message held one
                    if len(other) > 6 and isinstance(other[6], list) and j < len(other[6]):
                        return other[6][j]
    return None
