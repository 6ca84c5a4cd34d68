"""Short, bounded descriptions of beliefs (for counterexamples); never raises, stdlib only."""

from __future__ import annotations

from typing import Any

__all__ = ["summarize"]

_SCALARS = (bool, float, type(None))


def _walk(obj: Any, depth: int, budget: int) -> str:
    """A bounded repr: containers stop adding items once ``budget`` characters are used.

    Exact built-in types (the bulk of most beliefs) take a fast path keyed on ``type``, with
    scalar items formatted inline rather than by a call each; everything else, subclasses
    included, goes through :func:`_walk_any`. Same text either way.
    """
    cls = type(obj)
    if cls is str:
        return repr(obj) if len(obj) <= 60 else repr(obj[:57]) + "..."
    if cls is float or cls is bool or obj is None or (cls is int and obj.bit_length() < 200):
        return repr(obj)
    if cls is tuple:
        return "..." if depth >= 4 else _items(obj, depth, budget, "(", ",)" if len(obj) == 1 else ")")
    if cls is list:
        return "..." if depth >= 4 else _items(obj, depth, budget, "[", "]")
    if cls is dict:
        return "..." if depth >= 4 else _pairs(obj, depth, budget)
    return _walk_any(obj, depth, budget)


def _items(obj: Any, depth: int, budget: int, open_: str, close: str) -> str:
    """An exact list or tuple; scalar items inline."""
    parts = []
    used = len(open_)
    for item in obj:
        if used > budget:
            parts.append("...")
            break
        kind = type(item)
        if kind is str:
            piece = repr(item) if len(item) <= 60 else repr(item[:57]) + "..."
        elif kind is int and item.bit_length() < 200 or kind is float or kind is bool or item is None:
            piece = repr(item)
        else:
            deep = depth >= 3 and (kind is tuple or kind is list or kind is dict)
            piece = "..." if deep else _walk(item, depth + 1, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return open_ + ", ".join(parts) + close


def _pairs(obj: dict, depth: int, budget: int) -> str:
    """An exact dict; string keys and scalar values inline."""
    parts = []
    used = 1
    inner = depth + 1
    for key, value in obj.items():
        if used > budget:
            parts.append("...")
            break
        piece = repr(key) if type(key) is str and len(key) <= 60 else _walk(key, inner, 40)
        kind = type(value)
        if kind is str:
            piece += ": " + (repr(value) if len(value) <= 60 else repr(value[:57]) + "...")
        elif kind is int and value.bit_length() < 200 or kind is float or kind is bool or value is None:
            piece += ": " + repr(value)
        elif inner >= 4 and (kind is tuple or kind is list or kind is dict):
            piece += ": ..."
        else:
            piece += ": " + _walk(value, inner, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return "{" + ", ".join(parts) + "}"


def _walk_any(obj: Any, depth: int, budget: int) -> str:
    """The general case of :func:`_walk`: subclasses, tuples, sets, objects, anything else."""
    if isinstance(obj, str):
        return repr(obj) if len(obj) <= 60 else repr(obj[:57]) + "..."
    if isinstance(obj, _SCALARS) or (isinstance(obj, int) and obj.bit_length() < 200):
        return repr(obj)
    if depth >= 4:
        return "..."
    kind = "items"  # "items": a sequence, "pairs": a mapping, "fields": an object's attributes
    if isinstance(obj, dict):
        items: Any = obj.items()
        open_, close, kind = "{", "}", "pairs"
    elif isinstance(obj, list):
        items, open_, close = obj, "[", "]"
    elif isinstance(obj, tuple):
        items, open_, close = obj, "(", ",)" if len(obj) == 1 else ")"
    elif isinstance(obj, (set, frozenset)):
        items, open_, close = obj, ("{" if obj else "set("), ("}" if obj else ")")
    elif isinstance(getattr(obj, "__dict__", None), dict):
        items, open_, close, kind = vars(obj).items(), type(obj).__name__ + "(", ")", "fields"
    else:
        text = repr(obj)
        return text if len(text) <= 60 else text[:57] + "..."
    parts = []
    used = len(open_)
    for item in items:
        if used > budget:
            parts.append("...")
            break
        if kind == "pairs":
            piece = _walk(item[0], depth + 1, 40) + ": " + _walk(item[1], depth + 1, budget - used)
        elif kind == "fields":
            piece = f"{item[0]}=" + _walk(item[1], depth + 1, budget - used)
        else:
            piece = _walk(item, depth + 1, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return open_ + ", ".join(parts) + close


def summarize(belief: Any, limit: int = 200) -> str:
    """A short (<= ``limit`` characters) description of a belief for counterexamples.

    Walks containers, dataclasses and plain objects field by field and stops adding items
    once the text is long enough, so a huge belief costs little more than a small one.
    """
    try:
        text = _walk(belief, 0, limit)
    except Exception as exc:  # a hostile __repr__ or a container changing under us
        return f"<{type(belief).__name__}: summary failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
