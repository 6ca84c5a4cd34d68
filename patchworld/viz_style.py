"""The shared look of the workbench's plotly figures: one font, white template, explicit size."""

from __future__ import annotations

import plotly.graph_objects as go

__all__ = ["FONT", "style"]

FONT = "Arial, Helvetica, sans-serif"


def style(fig: go.Figure, title: str, width: int, height: int, margin: dict[str, int]) -> None:
    """Shared look: white template, one font, a left-aligned title, explicit size and margins."""
    fig.update_layout(template="plotly_white", width=width, height=height, margin=margin,
                      font={"family": FONT, "size": 12, "color": "#222222"},
                      title={"text": title, "x": 0.0, "xref": "paper", "xanchor": "left", "font": {"size": 16}},
                      hoverlabel={"font": {"family": FONT}})
    axis = {"showline": True, "linecolor": "#888888", "ticks": "outside", "ticklen": 4, "tickfont": {"size": 11},
            "title_font": {"size": 13}, "title_standoff": 6, "zeroline": False}
    fig.update_xaxes(**axis).update_yaxes(**axis)
