"""Point labels of the Pareto panels: which points are named, and where each name goes.

Kept apart from :mod:`patchworld.viz` (the figures) because it is pure geometry on numbers and
strings, tested on its own: labels must not pile up, and points on the same spot share one label.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

__all__ = ["POSITIONS", "place_labels", "merge_coincident", "short_label"]

POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
             "bottom right", "bottom left")
"""Plotly ``textposition`` values tried for each label, in order of preference."""

Box = tuple[float, float, float, float]


def merge_coincident(points: Sequence[tuple[float, float]], texts: Sequence[str], decimals: int = 3) -> list[str]:
    """One label per spot: labelled points equal to ``decimals`` places (e.g. an induced program that
    became the reference program) are named together on the first, ``"a = b"``; the others get ``""``."""
    out = list(texts)
    first: dict[tuple[float, float], int] = {}
    for i, ((x, y), text) in enumerate(zip(points, texts, strict=True)):
        if not text:
            continue
        key = (round(x, decimals), round(y, decimals))
        if key in first:
            j = first[key]
            if text not in out[j].split(" = "):
                out[j] = f"{out[j]} = {text}"
            out[i] = ""
        else:
            first[key] = i
    return out


def place_labels(points: Sequence[tuple[float, float]], texts: Sequence[str], panel: tuple[float, float],
                 x_range: tuple[float, float], y_range: tuple[float, float],
                 staircase: tuple[list[float], list[float]] = ([], [])) -> list[str]:
    """A textposition per point of one panel (``panel`` = plot area in px, data ranges ``x_range`` and
    ``y_range``), chosen greedily so each label (its box estimated in pixels) avoids the labels placed
    before, every marker, the front's ``staircase`` (a ``vh`` line) and the panel edges."""
    width, height = panel
    sx, sy = width / (x_range[1] - x_range[0]), height / (y_range[1] - y_range[0])
    px = [((x - x_range[0]) * sx, (y - y_range[0]) * sy) for x, y in points]
    taken: list[Box] = [(x - 6, y - 6, x + 6, y + 6) for x, y in px]
    sx_, sy_ = [(v - x_range[0]) * sx for v in staircase[0]], [(v - y_range[0]) * sy for v in staircase[1]]
    for xa, ya, xb, yb in zip(sx_, sy_, sx_[1:], sy_[1:], strict=False):  # vh: up/down at xa, then across at yb
        taken += [(xa - 1, min(ya, yb), xa + 1, max(ya, yb)), (min(xa, xb), yb - 1, max(xa, xb), yb + 1)]

    def box(x: float, y: float, text: str, position: str) -> Box:
        w, h, gap = 5.6 * len(text) + 2, 12.0, 7.0
        vert, horiz = position.split()
        x0 = {"left": x - gap - w, "center": x - w / 2, "right": x + gap}[horiz]
        y0 = {"top": y + gap, "middle": y - h / 2, "bottom": y - gap - h}[vert]
        return x0, y0, x0 + w, y0 + h

    def cost(b: Box) -> float:
        overlap = sum(max(0.0, min(b[2], t[2]) - max(b[0], t[0])) * max(0.0, min(b[3], t[3]) - max(b[1], t[1]))
                      for t in taken)
        spill = max(0, -b[0]) + max(0, b[2] - width) + max(0, -b[1]) + max(0, b[3] - height)
        return overlap + 40 * max(0, spill - 6)  # a few px past the axes are fine (cliponaxis=False)

    out = []
    for (x, y), text in zip(px, texts, strict=True):
        boxes = {pos: box(x, y, text, pos) for pos in POSITIONS}
        best = min(POSITIONS, key=lambda pos: cost(boxes[pos])) if text else "top center"
        taken += [boxes[best]] if text else []
        out.append(best)
    return out


def short_label(label: str, env: str, kinds: Container[str] = ()) -> str:
    """A program label without its env prefix inside that env's panel (``maze_flawed`` -> ``flawed``),
    unless the rest would read as a kind of model (in ``kinds``: ``maze_reference`` stays)."""
    rest = label[len(env) + 1:] if label.startswith(f"{env}_") else ""
    return rest if rest and rest not in kinds else label
