"""The synthesis round curve: the accepted program's val score per round, every candidate a point.

Re-exported by :mod:`patchworld.viz`; the shared look comes from :mod:`patchworld.viz_style`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from patchworld.viz_style import style

__all__ = ["round_curve"]


def _accepted_line(candidates: pl.DataFrame) -> tuple[list[float], list[float]]:
    """The current program's val score after each round (start point one round earlier)."""
    rounds = sorted(set(candidates["round"].to_list()))
    xs: list[float] = []
    ys: list[float] = []
    current: float | None = None
    for r in rounds:
        rows = candidates.filter(pl.col("round") == r)
        if current is None:
            before = [v for v in rows["score_before"].to_list() if v is not None]
            if before:
                current = float(before[0])
                xs.append(r - 1)
                ys.append(current)
        accepted = rows.filter(pl.col("accepted").fill_null(False) & pl.col("score_after").is_not_null())
        if accepted.height:
            current = float(accepted["score_after"].max())
        if current is not None:
            xs.append(r)
            ys.append(current)
    return xs, ys


def round_curve(candidates: pl.DataFrame, title: str = "Validation score per round") -> go.Figure:
    """Accepted val score per round as a line; each candidate a point (accepted vs rejected).

    ``candidates`` is ``load_run(dir).candidates`` (columns ``round, score_before, score_after, accepted``,
    optionally ``candidate_id, origin, reason``). Candidates without a score (the patch did not apply or
    the program did not load) are drawn at the round's ``score_before`` with an open marker.
    """
    for col in ("round", "score_before", "score_after", "accepted"):
        if col not in candidates.columns:
            raise ValueError(f"round_curve: candidates frame lacks column {col!r} (has {candidates.columns})")
    fig = go.Figure()
    xs, ys = _accepted_line(candidates)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="accepted program",
                             line={"color": "#1f77b4", "shape": "hv", "width": 2}, marker={"size": 6},
                             hovertemplate="after round %{x}: %{y:.4f}<extra>accepted program</extra>"))
    for accepted, name, color, symbol in ((True, "accepted candidate", "#2ca02c", "circle"),
                                          (False, "rejected candidate", "#d62728", "x")):
        rows = candidates.filter(pl.col("accepted").fill_null(False) == accepted)
        has = pl.col("score_after").is_not_null()
        scored, unscored = rows.filter(has), rows.filter(~has)
        fig.add_trace(go.Scatter(x=scored["round"].to_list(), y=scored["score_after"].to_list(), mode="markers",
                                 name=name, text=[_hover(r) for r in scored.iter_rows(named=True)], hoverinfo="text",
                                 marker={"color": color, "symbol": symbol, "size": 10, "opacity": 0.8,
                                         "line": {"width": 1, "color": "white"}}))
        if unscored.height:
            fig.add_trace(go.Scatter(x=unscored["round"].to_list(), y=unscored["score_before"].to_list(),
                                     mode="markers", name=f"{name} (no score)",
                                     text=[_hover(r) for r in unscored.iter_rows(named=True)], hoverinfo="text",
                                     marker={"color": color, "symbol": f"{symbol}-open", "size": 10}))
    style(fig, title, 760, 460, {"l": 80, "r": 30, "t": 70, "b": 110})
    fig.update_layout(xaxis_title="round", yaxis_title="val token F1",
                      legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": -70 / 280, "yanchor": "top"})
    fig.update_xaxes(dtick=1, range=[-0.4, max([int(v) for v in candidates["round"].to_list()] + [1]) + 0.4])
    return fig


def _hover(row: dict) -> str:
    parts = [f"round {row.get('round')}"] + [f"{k}: {row[k]}" for k in ("candidate_id", "origin", "reason")
                                            if row.get(k)]
    if row.get("score_after") is not None:
        parts.append(f"score {row['score_after']:.4f} (before {row.get('score_before') or 0:.4f})")
    return "<br>".join(parts)
