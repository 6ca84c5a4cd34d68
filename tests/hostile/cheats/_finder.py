"""Shared by the cheats: find the true next observation for (obs, action) in whatever a cheat can reach."""
import types


def _match(obj, obs, action):
    if isinstance(obj, (list, tuple)) and len(obj) >= 3 and obj[0] == obs and obj[1] == action \
            and isinstance(obj[2], str):
        return obj[2]
    try:
        if getattr(obj, "observation", None) == obs and getattr(obj, "action", None) == action:
            nxt = getattr(obj, "next_observation", None)
            return nxt if isinstance(nxt, str) else None
    except Exception:
        return None
    return None


def _search(root, obs, action, budget=300_000):
    stack, seen = [root], set()
    while stack and budget > 0:
        obj = stack.pop()
        budget -= 1
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        hit = _match(obj, obs, action)
        if hit is not None:
            return hit
        try:
            if isinstance(obj, dict):
                stack.extend(obj.values())
            elif isinstance(obj, (list, tuple, set, frozenset)):
                stack.extend(obj)
            elif not isinstance(obj, (type, types.ModuleType, str, bytes)) and hasattr(obj, "__dict__"):
                stack.extend(vars(obj).values())
        except Exception:
            pass
    return None
