"""Comparing runs: their round curves on one axis, a metrics table, and a diff of their final programs.

Also maps clicks on a run's round curve (:func:`patchworld.viz.round_curve`) back to candidates, so
a notebook can select the candidate a reader clicked. Reads run folders only; runs no program.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

__all__ = ["runs_table", "round_curves_figure", "final_program_diff", "round_curve_points", "picked_candidate",
           "run_label"]


def run_label(run: Any) -> str:
    """A short name for a run: its folder name."""
    return run.path.name


def runs_table(runs: Sequence[Any]) -> pl.DataFrame:
    """One row per run: env, variant, proposer, rounds, candidates, accepted patches, val token F1 at the
    start and the end, the gain, LLM tokens, and the final program's hash."""
    rows = []
    for run in runs:
        r, c, h = run.rounds, run.candidates, run.header
        first = r.filter(pl.col("round") == 0)["val_token_f1"].to_list() if r.height else []
        start = first[0] if first else (c["score_before"].to_list()[0] if c.height else None)
        end = r.sort("round")["val_token_f1"].to_list()[-1] if r.height else start
        rows.append({"run": run_label(run), "env": h.get("env"), "variant": h.get("variant", "simple"),
                     "proposer": (h.get("proposer") or {}).get("name"), "rounds": int(r["round"].max() or 0)
                     if r.height else 0, "candidates": c.height, "accepted": int(c["accepted"].sum()) if c.height else 0,
                     "val_f1_start": start, "val_f1_end": end,
                     "gain": None if start is None or end is None else end - start,
                     "tokens": int((c["prompt_tokens"] + c["completion_tokens"]).sum()) if c.height else 0,
                     "final_program": run.current})
    schema = {"run": pl.Utf8, "env": pl.Utf8, "variant": pl.Utf8, "proposer": pl.Utf8, "rounds": pl.Int64,
              "candidates": pl.Int64, "accepted": pl.Int64, "val_f1_start": pl.Float64, "val_f1_end": pl.Float64,
              "gain": pl.Float64, "tokens": pl.Int64, "final_program": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


def round_curves_figure(runs: Sequence[Any], title: str = "Validation token F1 per round") -> Any:
    """Each run's accepted-program curve (val token F1 after each round) as one line on a shared axis."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for run in runs:
        r = run.rounds.sort("round")
        fig.add_trace(go.Scatter(x=r["round"].to_list(), y=r["val_token_f1"].to_list(), mode="lines+markers",
                                 name=run_label(run), line={"shape": "hv"},
                                 hovertemplate="round %{x}: %{y:.4f}<extra>" + run_label(run) + "</extra>"))
    fig.update_layout(title=title, xaxis_title="round", yaxis_title="val token F1", height=380,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2})
    return fig


def final_program_diff(a: Any, b: Any) -> str:
    """Side-by-side HTML diff of two runs' final programs (``a`` left, ``b`` right)."""
    from patchworld.patches import side_by_side_html

    pa, pb = a.program(a.current), b.program(b.current)
    return side_by_side_html(pa.source, pb.source, f"{run_label(a)}: {pa.hash}", f"{run_label(b)}: {pb.hash}")


def round_curve_points(fig: Any, candidates: pl.DataFrame) -> dict[tuple[int, int], str]:
    """Map (trace number, point index) of ``round_curve(candidates)`` to candidate ids, and make the
    candidate traces clickable in ``mo.ui.plotly`` (which reports clicks on scatter traces with lines:
    they get an invisible line). The traces are matched by name, rebuilt in the order viz draws them."""
    keys: dict[tuple[int, int], str] = {}
    has = pl.col("score_after").is_not_null()
    for number, trace in enumerate(fig.data):
        name = trace.name or ""
        accepted = name.startswith("accepted candidate")
        if not (accepted or name.startswith("rejected candidate")):
            continue
        rows = candidates.filter(pl.col("accepted").fill_null(False) == accepted)
        rows = rows.filter(~has) if name.endswith("(no score)") else rows.filter(has)
        ids = rows["candidate_id"].to_list()
        for index, cid in enumerate(ids[: len(trace.x)]):
            keys[(number, index)] = cid
        trace.customdata = ids[: len(trace.x)]
        if "lines" not in (trace.mode or ""):
            trace.mode = (trace.mode or "markers") + "+lines"
            trace.line = {"width": 0}
    return keys


def picked_candidate(points: Sequence[Mapping[str, Any]], keys: Mapping[tuple[int, int], str]) -> str | None:
    """The candidate id of the last clicked point of a round curve (``None`` if none maps)."""
    found = None
    for point in points:
        index = point.get("pointIndex", point.get("pointNumber"))
        key = (int(point.get("curveNumber", -1)), int(-1 if index is None else index))
        found = keys.get(key, found)
    return found
