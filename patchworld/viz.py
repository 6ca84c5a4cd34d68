"""Plotly figures for synthesis runs and evaluation results (returned, never shown).

* :func:`round_curve` — validation score per synthesis round, every candidate as a point.
* :func:`pareto_figure` — fidelity (x) against planning utility (y), per env and macro-averaged,
  with the Pareto front drawn.
* :func:`horizon_figure` — RQ2 fidelity-vs-horizon curves.
* :func:`results_table` — the per-env results as a plotly Table.

The evaluation figures read the tidy frame of :func:`patchworld.evaluate.evaluate`
(columns ``env, label, variant, kind, metric, value``).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

__all__ = ["round_curve", "pareto_figure", "pareto_front", "horizon_figure", "results_table", "KIND_STYLE"]

KIND_STYLE: dict[str, dict[str, str]] = {
    # marker symbol and colour per kind of model: a patched program's variant, or a reference point
    "simple": {"symbol": "circle", "color": "#1f77b4"},
    "residual": {"symbol": "diamond-open", "color": "#d62728"},
    "reference": {"symbol": "x", "color": "#7f7f7f"},
    "oracle": {"symbol": "star", "color": "#2ca02c"},
}


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

    ``candidates`` is ``load_run(dir).candidates`` (columns ``round, score_before, score_after,
    accepted`` and optionally ``candidate_id, origin, reason``). Candidates without a score
    (the patch did not apply or the program did not load) are drawn at the round's
    ``score_before`` with an open marker so they still show up.
    """
    for col in ("round", "score_before", "score_after", "accepted"):
        if col not in candidates.columns:
            raise ValueError(f"round_curve: candidates frame lacks column {col!r} (has {candidates.columns})")
    fig = go.Figure()
    xs, ys = _accepted_line(candidates)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="accepted program",
                             line={"color": "#1f77b4", "shape": "hv"}, marker={"size": 6}))
    for accepted, name, color, symbol in ((True, "accepted candidate", "#2ca02c", "circle"),
                                          (False, "rejected candidate", "#d62728", "x")):
        rows = candidates.filter(pl.col("accepted").fill_null(False) == accepted)
        scored = rows.filter(pl.col("score_after").is_not_null())
        unscored = rows.filter(pl.col("score_after").is_null())
        texts = [_hover(r) for r in scored.iter_rows(named=True)]
        fig.add_trace(go.Scatter(x=scored["round"].to_list(), y=scored["score_after"].to_list(), mode="markers",
                                 name=name, text=texts, hoverinfo="text",
                                 marker={"color": color, "symbol": symbol, "size": 9, "opacity": 0.8}))
        if unscored.height:
            fig.add_trace(go.Scatter(x=unscored["round"].to_list(), y=unscored["score_before"].to_list(),
                                     mode="markers", name=f"{name} (no score)",
                                     text=[_hover(r) for r in unscored.iter_rows(named=True)], hoverinfo="text",
                                     marker={"color": color, "symbol": f"{symbol}-open", "size": 9}))
    fig.update_layout(title=title, xaxis_title="round", yaxis_title="val token F1", template="plotly_white",
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(dtick=1)
    return fig


def _hover(row: dict) -> str:
    parts = [f"round {row.get('round')}"]
    for key in ("candidate_id", "origin", "reason"):
        if row.get(key):
            parts.append(f"{key}: {row[key]}")
    if row.get("score_after") is not None:
        parts.append(f"score {row['score_after']:.4f} (before {row.get('score_before') or 0:.4f})")
    return "<br>".join(parts)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (maximising both coordinates), sorted by x."""
    idx = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = float("-inf")
    for i in idx:
        if points[i][1] > best_y:
            front.append(i)
            best_y = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


# --------------------------------------------------------------------------- evaluation figures

FIDELITY_METRICS = ("token_f1", "exact_match", "bleu4", "coverage", "rollout_auc")
UTILITY_METRICS = ("success", "lenient_success", "decision_agreement", "action_accuracy", "action_f1")
_NICE = {"token_f1": "fidelity: test token F1 (RQ1)", "exact_match": "fidelity: test exact match (RQ1)",
         "bleu4": "fidelity: test BLEU-4 (RQ1)", "rollout_auc": "fidelity: rollout AUC (RQ2)",
         "success": "planning: live success (RQ3)", "lenient_success": "planning: lenient success (RQ3)",
         "decision_agreement": "planning proxy: decision agreement", "action_accuracy": "planning proxy: action accuracy",
         "action_f1": "planning proxy: action token F1", "coverage": "coverage"}


def _points(results: pl.DataFrame, x: str, y: str) -> pl.DataFrame:
    """One row per (env, label, variant) with columns x and y (both present)."""
    sub = results.filter(pl.col("metric").is_in([x, y]))
    if sub.is_empty():
        return pl.DataFrame(schema={"env": pl.String, "label": pl.String, "variant": pl.String, x: pl.Float64,
                                    y: pl.Float64})
    wide = sub.pivot(on="metric", index=["env", "label", "variant"], values="value", aggregate_function="first")
    for col in (x, y):
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    return wide.drop_nulls([x, y]).sort("env", "variant", "label")


def _with_macro(results: pl.DataFrame) -> pl.DataFrame:
    from patchworld.evaluate import macro_average

    if results["env"].n_unique() < 2:
        return results
    return pl.concat([results, macro_average(results)], how="vertical_relaxed")


def _facets(envs: list[str], title: str, x_title: str, y_title: str) -> go.Figure:
    from plotly.subplots import make_subplots

    cols = min(len(envs), 3) or 1
    rows = (len(envs) + cols - 1) // cols or 1
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=envs or [""], horizontal_spacing=0.08,
                        vertical_spacing=0.14)
    fig.update_layout(title=title, template="plotly_white", height=330 * rows + 90, width=360 * cols + 120,
                      legend={"orientation": "h", "y": -0.08 if rows > 1 else -0.2})
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


REFERENCE_SYMBOLS = {"lookup table": "x", "copy last": "triangle-up", "most frequent": "square"}


def _legend_name(variant: str, label: str) -> str:
    if variant == "reference":
        return f"reference: {label}"
    if variant == "oracle":
        return f"{label} (oracle)"
    return {"simple": "Simple (program)", "residual": "Residual (program + memory)"}.get(variant, variant)


def _groups(here: pl.DataFrame) -> list[tuple[str, str, pl.DataFrame]]:
    """Point groups of one panel: one per Simple/Residual variant, one per reference/oracle label."""
    out = []
    order = {"reference": 0, "oracle": 1, "simple": 2, "residual": 3}  # residual's open diamond drawn over simple
    for variant in sorted(dict.fromkeys(here["variant"].to_list()), key=lambda v: (order.get(v, 4), v)):
        part = here.filter(pl.col("variant") == variant)
        if variant in ("reference", "oracle"):
            out += [(variant, lab, part.filter(pl.col("label") == lab)) for lab in dict.fromkeys(part["label"].to_list())]
        else:
            out.append((variant, "", part))
    return out


def pareto_figure(results: pl.DataFrame, x: str = "token_f1", y: str | None = None, macro: bool = True,
                  front_excludes: Sequence[str] = ("oracle",), title: str | None = None) -> go.Figure:
    """Fidelity (x) against planning utility (y), one panel per env (+ ``macro`` average).

    Markers/colours distinguish Simple, Residual, reference and oracle points
    (:data:`KIND_STYLE`); a dotted line joins each program's Simple and Residual points; the
    dashed line in each panel is the Pareto front of the points whose variant is not in
    ``front_excludes`` (the oracle's fidelity is 1 by construction). ``y`` defaults to live
    success (RQ3) when measured, else the offline decision-agreement proxy.
    """
    if y is None:
        y = "success" if (results["metric"] == "success").any() else "decision_agreement"
    data = _with_macro(results) if macro else results
    pts = _points(data, x, y)
    envs = [e for e in dict.fromkeys(pts["env"].to_list()) if e != "macro"] + (["macro"] if "macro" in pts["env"].to_list() else [])
    fig = _facets(envs, title or f"Fidelity vs planning utility ({x} vs {y})", _NICE.get(x, x), _NICE.get(y, y))
    cols = min(len(envs), 3) or 1
    shown: set[str] = set()
    programs = pts.filter(pl.col("variant").is_in(["simple", "residual"]))["label"].n_unique()
    for k, env in enumerate(envs):
        row, col = k // cols + 1, k % cols + 1
        here = pts.filter(pl.col("env") == env)
        for variant, label, part in _groups(here):
            style = KIND_STYLE.get(variant, {"symbol": "circle", "color": "#9467bd"})
            name = _legend_name(variant, label)
            symbol = REFERENCE_SYMBOLS.get(label, style["symbol"]) if variant == "reference" else style["symbol"]
            labels = part["label"].to_list()
            # name program points when several programs share a panel; a residual point only when its
            # simple twin is absent (the dotted connector pairs them)
            simple_labels = set(here.filter(pl.col("variant") == "simple")["label"].to_list())
            texts = [lab if programs > 1 and (variant == "simple" or (variant == "residual"
                                                                      and lab not in simple_labels)) else ""
                     for lab in labels]
            fig.add_trace(go.Scatter(
                x=part[x].to_list(), y=part[y].to_list(), mode="markers+text" if any(texts) else "markers", name=name,
                legendgroup=name, showlegend=name not in shown, text=texts, customdata=labels,
                textposition="top center", textfont={"size": 9},
                marker={"symbol": symbol, "color": style["color"], "size": 14 if variant == "residual" else 10,
                        "line": {"width": 2 if variant == "residual" else 1,
                                 "color": style["color"] if variant == "residual" else "white"}},
                hovertemplate="%{customdata}<br>" + x + "=%{x:.3f}<br>" + y + "=%{y:.3f}<extra>" + variant + "</extra>"),
                row=row, col=col)
            shown.add(name)
        for label in dict.fromkeys(here["label"].to_list()):
            pair = here.filter((pl.col("label") == label) & pl.col("variant").is_in(["simple", "residual"]))
            if pair.height == 2:
                fig.add_trace(go.Scatter(x=pair[x].to_list(), y=pair[y].to_list(), mode="lines", showlegend=False,
                                         name=f"{label}: simple-residual", hoverinfo="skip",
                                         line={"color": "#999999", "dash": "dot", "width": 1}), row=row, col=col)
        cand = here.filter(~pl.col("variant").is_in(list(front_excludes)))
        idx = pareto_front(list(zip(cand[x].to_list(), cand[y].to_list(), strict=True)))
        if idx:
            fx = [cand[x][i] for i in idx]
            fy = [cand[y][i] for i in idx]
            # the staircase bounding the dominated region: from the y axis, through the front, down to the x axis
            fig.add_trace(go.Scatter(x=[-0.05] + fx + [fx[-1]], y=[fy[0]] + fy + [-0.05], mode="lines",
                                     line_shape="vh", name="Pareto front", legendgroup="front",
                                     showlegend="front" not in shown, hoverinfo="skip",
                                     line={"color": "#444444", "dash": "dash", "width": 1.5}), row=row, col=col)
            shown.add("front")
    fig.update_xaxes(range=[-0.05, 1.08])
    fig.update_yaxes(range=[-0.05, 1.12])
    return fig


def horizon_figure(results: pl.DataFrame, title: str = "Rollout fidelity vs horizon (RQ2)") -> go.Figure:
    """Token F1 at horizon h (metrics ``f1@h``) per (label, variant), one panel per env."""
    sub = results.filter(pl.col("metric").str.starts_with("f1@")).with_columns(
        pl.col("metric").str.slice(3).cast(pl.Int64).alias("horizon"))
    envs = list(dict.fromkeys(sub["env"].to_list()))
    fig = _facets(envs, title, "horizon (steps into the rollout)", "token F1")
    cols = min(len(envs), 3) or 1
    shown: set[str] = set()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    keys = list(dict.fromkeys(zip(sub["label"].to_list(), sub["variant"].to_list(), strict=True)))
    for k, env in enumerate(envs):
        for j, (label, variant) in enumerate(keys):
            part = sub.filter((pl.col("env") == env) & (pl.col("label") == label) & (pl.col("variant") == variant))
            if part.is_empty():
                continue
            part = part.sort("horizon")
            name = f"{label} ({variant})"
            style = KIND_STYLE.get(variant, {"symbol": "circle"})
            fig.add_trace(go.Scatter(x=part["horizon"].to_list(), y=part["value"].to_list(), mode="lines+markers",
                                     name=name, legendgroup=name, showlegend=name not in shown,
                                     line={"color": palette[j % len(palette)],
                                           "dash": "dot" if variant == "reference" else "solid"},
                                     marker={"symbol": style["symbol"]}), row=k // cols + 1, col=k % cols + 1)
            shown.add(name)
    fig.update_yaxes(range=[-0.02, 1.05])
    return fig


TABLE_METRICS = ("token_f1", "exact_match", "bleu4", "coverage", "rollout_auc", "success", "lenient_success",
                 "action_accuracy", "decision_agreement")


def results_table(results: pl.DataFrame, metrics: Sequence[str] = TABLE_METRICS, macro: bool = True) -> go.Figure:
    """The per-env results (and macro average) as a plotly Table, three decimals."""
    from patchworld.evaluate import wide

    frame = wide(_with_macro(results) if macro else results)
    metrics = [m for m in metrics if m in frame.columns]
    header = ["env", "label", "variant"] + list(metrics)
    cells = [frame[c].to_list() for c in header[:3]]
    cells += [["" if v is None else f"{v:.3f}" for v in frame[m].to_list()] for m in metrics]
    fig = go.Figure(go.Table(header={"values": header, "fill_color": "#dfe7f2", "align": "left"},
                             cells={"values": cells, "align": "left"}))
    fig.update_layout(title="Results per environment", height=120 + 24 * max(frame.height, 1))
    return fig
