"""Plotly figures for synthesis runs and evaluation results (returned, never shown).

:func:`round_curve` (:mod:`.viz_rounds`: val score per synthesis round), :func:`pareto_figure`
(fidelity vs planning utility per env and macro-averaged, Pareto front drawn), :func:`horizon_figure`
(RQ2 fidelity vs horizon) and :func:`results_table` (a plotly Table). The evaluation figures read the
tidy frame of :func:`patchworld.evaluate.evaluate`. Every figure carries its own ``layout.width``/
``height`` (facets: a fixed plot area each), which :mod:`patchworld.export` uses for static images.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from patchworld.viz_labels import merge_coincident, place_labels, short_label
from patchworld.viz_rounds import round_curve
from patchworld.viz_style import style as _style

__all__ = ["round_curve", "pareto_figure", "pareto_front", "horizon_figure", "results_table", "KIND_STYLE",
           "PLANNING_CAPTIONS", "default_planning_metric"]

KIND_STYLE: dict[str, dict[str, str]] = {
    # marker symbol and colour per kind of model: a patched program's variant, or a reference point
    "simple": {"symbol": "circle", "color": "#1f77b4"},
    "residual": {"symbol": "diamond-open", "color": "#d62728"},
    "reference": {"symbol": "x", "color": "#7f7f7f"},
    "oracle": {"symbol": "star", "color": "#2ca02c"},
}
REFERENCE_SYMBOLS = {"lookup table": "x", "copy last": "triangle-up", "most frequent": "square"}
REFERENCE_COLORS = {"lookup table": "#4d4d4d", "copy last": "#7f7f7f", "most frequent": "#a6a6a6"}
BASELINE_STYLE = {  # the seed's baselines (patchworld.methods): own marker and colour, Residual drawn open
    "PoE-World": {"symbol": "hexagon", "color": "#8c564b"},
    "WorldCoder": {"symbol": "pentagon", "color": "#e377c2"},
    "LLM-Direct": {"symbol": "hourglass", "color": "#bcbd22"},
}
PROGRAM_COLORS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#bcbd22")  # no red/green

PANEL_W, PANEL_H = 290, 240   # plot area of one facet, px
GAP_X, GAP_Y = 70, 100        # between facets: tick labels, an x title and the next row's facet title
MARGIN = {"l": 80, "r": 30, "t": 90, "b": 70}
LEGEND_W, LEGEND_ROW = 250, 20  # a legend to the right of the facets; height of one legend entry


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
UTILITY_METRICS = ("llm_success", "model_search_success", "decision_agreement", "success", "lenient_success",
                   "action_accuracy", "action_f1")
_NICE = {"token_f1": "fidelity: test token F1 (RQ1)", "exact_match": "fidelity: test exact match (RQ1)",
         "bleu4": "fidelity: test BLEU-4 (RQ1)", "rollout_auc": "fidelity: rollout AUC (RQ2)",
         "success": "planning: live success (RQ3)", "lenient_success": "planning: lenient success (RQ3)",
         "llm_success": "planning: LLM agent success (RQ3)",
         "model_search_success": "planning: model-only search success", "token_f1_ref": "fidelity: token F1 (ref.)",
         "decision_agreement": "planning: decision agreement (offline)", "coverage": "coverage",
         "action_accuracy": "planning proxy: action accuracy", "action_f1": "planning proxy: action token F1"}
X_RANGE, Y_RANGE = (-0.05, 1.08), (-0.05, 1.12)  # Pareto panels; headroom above 1 for point labels
TICKS = [0, 0.25, 0.5, 0.75, 1]


def _points(results: pl.DataFrame, x: str, y: str) -> pl.DataFrame:
    """One row per (env, label, variant, round) with x, y and their intervals ``<x>_lo``... (both present)."""
    key = ["env", "label", "variant", "round"]
    sub = results.filter(pl.col("metric").is_in([x, y]) & (pl.col("variant") != "simple-residual"))
    if "round" not in sub.columns:
        sub = sub.with_columns(pl.lit(None, pl.Int64).alias("round"))
    for col in ("lo", "hi"):
        if col not in sub.columns:
            sub = sub.with_columns(pl.lit(None, pl.Float64).alias(col))
    cols = [x, y, f"{x}_lo", f"{x}_hi", f"{y}_lo", f"{y}_hi"]
    if sub.is_empty():
        return pl.DataFrame(schema={"env": pl.String, "label": pl.String, "variant": pl.String, "round": pl.Int64}
                            | dict.fromkeys(cols, pl.Float64))
    long = pl.concat([sub.select(*key, pl.col("metric"), pl.col("value")),
                      sub.select(*key, pl.col("metric") + "_lo", pl.col("lo").alias("value")),
                      sub.select(*key, pl.col("metric") + "_hi", pl.col("hi").alias("value"))])
    wide = long.pivot(on="metric", index=key, values="value", aggregate_function="first")
    for col in cols:
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    return wide.drop_nulls([x, y]).sort("env", "variant", "label", "round", nulls_last=True)


def _with_macro(results: pl.DataFrame) -> pl.DataFrame:
    """The frame with env ``macro`` rows: as given by the evaluation (with intervals), else averaged here."""
    from patchworld.results import macro_average

    if results["env"].n_unique() < 2 or (results["env"] == "macro").any():
        return results
    return pl.concat([results, macro_average(results)], how="vertical_relaxed")


PLANNING_CAPTIONS = {
    "llm_success": "y = llm_success: the paper's RQ3, live success (strict) of the LLM choosing among the program's "
                   "predictions",
    "model_search_success": "y = model_search_success: live success (strict) of a depth-k search planner whose only "
                            "knowledge of dynamics and value is the program and the env's goal-text scorer",
    "decision_agreement": "y = decision_agreement: share of test states where the action picked from the program's "
                          "predictions is among the truly best under the same (privileged) chooser",
}
"""What each planning measure on the Pareto y axis uses; the figure's caption says it."""


def default_planning_metric(results: pl.DataFrame) -> str:
    """``llm_success`` when measured, else ``model_search_success``, else ``decision_agreement`` (else ``success``)."""
    present = set(results["metric"].to_list())
    for metric in ("llm_success", "model_search_success", "decision_agreement", "success"):
        if metric in present:
            return metric
    return "decision_agreement"


def _grid(n: int) -> tuple[int, int]:
    """(rows, cols) for n facets: one row up to 3, 2x2 for 4, else rows of 3."""
    cols = max(n, 1) if n <= 3 else 2 if n == 4 else 3
    return (max(n, 1) + cols - 1) // cols, cols


def _facets(envs: list[str], title: str, x_title: str, y_title: str, n_legend: int) -> go.Figure:
    """Facet grid, :data:`PANEL_W` x :data:`PANEL_H` px per facet, axis titles on the outer facets only;
    the legend (``n_legend`` entries) in the last row's empty cells if it fits, else right of the grid."""
    from plotly.subplots import make_subplots

    n = max(len(envs), 1)
    rows, cols = _grid(n)
    area_w, area_h = cols * PANEL_W + (cols - 1) * GAP_X, rows * PANEL_H + (rows - 1) * GAP_Y
    specs = [[{} if r * cols + c < n else None for c in range(cols)] for r in range(rows)]
    fig = make_subplots(rows=rows, cols=cols, specs=specs, subplot_titles=envs or [""],
                        horizontal_spacing=GAP_X / area_w if cols > 1 else 0.1,
                        vertical_spacing=GAP_Y / area_h if rows > 1 else 0.1)
    margin, legend_h = dict(MARGIN), n_legend * LEGEND_ROW + 10
    if rows * cols > n and legend_h <= PANEL_H + GAP_Y / 2:
        first_free = n - (rows - 1) * cols  # column index of the first empty cell of the last row
        legend = {"x": (first_free * (PANEL_W + GAP_X) + 10) / area_w, "y": PANEL_H / area_h}
    else:
        legend = {"x": 1 + 20 / area_w, "y": 1.0}
        margin["r"] = LEGEND_W + 20
        margin["b"] = max(margin["b"], legend_h - area_h + 10)
    _style(fig, title, margin["l"] + area_w + margin["r"], margin["t"] + area_h + margin["b"], margin)
    fig.update_layout(legend={**legend, "xanchor": "left", "yanchor": "top", "orientation": "v",
                              "tracegroupgap": 2, "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.9)"})
    fig.update_annotations(font={"size": 14})  # the facet titles
    for k in range(len(envs)):
        r, c = k // cols + 1, k % cols + 1
        if k + cols >= n:  # nothing below this facet
            fig.update_xaxes(title_text=x_title, row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text=y_title, row=r, col=c)
    return fig


def _marker(variant: str, label: str) -> tuple[str, str]:
    """Marker symbol and colour: per kind of model (:data:`KIND_STYLE`), reference points per label."""
    style = KIND_STYLE.get(variant, {"symbol": "circle", "color": "#9467bd"})
    if label in BASELINE_STYLE:
        base = BASELINE_STYLE[label]
        return base["symbol"] + ("-open" if variant == "residual" else ""), base["color"]
    if variant == "reference":
        return REFERENCE_SYMBOLS.get(label, style["symbol"]), REFERENCE_COLORS.get(label, style["color"])
    return style["symbol"], style["color"]


def _legend_name(variant: str, label: str) -> str:
    if label in BASELINE_STYLE:
        return f"baseline: {label}" + (" + memory" if variant == "residual" else "")
    return {"simple": "Simple (program)", "residual": "Residual (program + memory)", "reference": f"reference: {label}",
            "oracle": f"{label} (oracle)"}.get(variant, variant)


def _groups(here: pl.DataFrame) -> list[tuple[str, str, pl.DataFrame]]:
    """Point groups of one panel: one per Simple/Residual variant, one per reference/oracle label."""
    order = {"reference": 0, "oracle": 1, "simple": 2, "residual": 3}  # residual's open diamond drawn over simple
    keys = dict.fromkeys((v, lab if v in ("reference", "oracle") or lab in BASELINE_STYLE else "")
                         for v, lab in zip(here["variant"].to_list(), here["label"].to_list(), strict=True))
    own = list(BASELINE_STYLE)

    def rows(v: str, lab: str) -> pl.DataFrame:
        if lab:
            return here.filter((pl.col("variant") == v) & (pl.col("label") == lab))
        return here.filter((pl.col("variant") == v) & ~pl.col("label").is_in(own))  # PatchWorld's own programs
    return [(v, lab, rows(v, lab)) for v, lab in sorted(keys, key=lambda k: (order.get(k[0], 4), k[1] != "", k))]


_RANK = {"simple": 1, "residual": 2, "oracle": 3, "reference": 4}  # legend order of the Pareto plot
_REF_ORDER = {label: i for i, label in enumerate(REFERENCE_SYMBOLS)}
def pareto_figure(results: pl.DataFrame, x: str = "token_f1", y: str | None = None, macro: bool = True,
                  front_excludes: Sequence[str] = ("oracle",), title: str | None = None) -> go.Figure:
    """Fidelity (x) against planning utility (y), one panel per env (+ ``macro`` average).

    Markers/colours distinguish Simple, Residual, reference and oracle points (:data:`KIND_STYLE`);
    a dotted line joins each program's Simple and Residual points; the dashed line is the Pareto
    front of the points whose variant is not in ``front_excludes`` (the oracle's fidelity is 1 by
    construction). ``y`` defaults to live success (RQ3) when measured, else decision agreement.
    With several programs, Simple points (Residual ones without a Simple twin) carry the short
    program name, placed clear of other labels; hover shows the full label (``customdata``).
    """
    if y is None:
        y = default_planning_metric(results)
    data = _with_macro(results) if macro else results.filter(pl.col("env") != "macro")
    pts = _points(data, x, y)
    envs = sorted(dict.fromkeys(pts["env"].to_list()), key=lambda e: e == "macro")  # stable: macro last
    legend = {_legend_name(v, lab) for v, lab in zip(pts["variant"].to_list(), pts["label"].to_list(), strict=True)}
    fig = _facets(envs, title or f"Fidelity vs planning utility ({x} vs {y})", _NICE.get(x, x), _NICE.get(y, y),
                  n_legend=len(legend) + 1)
    caption = PLANNING_CAPTIONS.get(y, f"y = {y}") + ". Error bars: paired bootstrap 95 % intervals; lines: a run's " \
        "accepted programs in round order."
    lines = textwrap.wrap(caption, max(40, int((fig.layout.width - 100) / 6)))
    caption = "<br>".join(lines)
    fig.update_layout(height=fig.layout.height + 16 * len(lines) + 8,
                      margin={**fig.layout.margin.to_plotly_json(), "b": fig.layout.margin.b + 16 * len(lines) + 8})
    fig.add_annotation(text=caption, xref="paper", yref="paper", x=0, y=0, yshift=-(fig.layout.margin.b - 12),
                       xanchor="left", yanchor="bottom", showarrow=False, font={"size": 10, "color": "#444444"},
                       align="left", name="caption")
    cols = _grid(len(envs))[1]
    shown: set[str] = set()
    programs = pts.filter(pl.col("variant").is_in(["simple", "residual"]))["label"].n_unique()
    hover = f"<b>%{{customdata}}</b><br>{x} %{{x:.3f}}<br>{y} %{{y:.3f}}<extra>"
    for k, env in enumerate(envs):
        here, row, col = pts.filter(pl.col("env") == env), k // cols + 1, k % cols + 1
        # name program points if several programs share the figure; residual ones only without a simple twin;
        # a run's path is named at its last round only
        simple_labels = set(here.filter(pl.col("variant") == "simple")["label"].to_list())
        last = {lab: max((r for r in here.filter(pl.col("label") == lab)["round"].to_list() if r is not None),
                         default=None) for lab in simple_labels | set(here["label"].to_list())}
        texts = [short_label(lab, env, KIND_STYLE) if programs > 1 and rnd == last.get(lab) and (
                 v == "simple" or (v == "residual" and lab not in simple_labels)) else ""
                 for lab, v, rnd in zip(here["label"].to_list(), here["variant"].to_list(), here["round"].to_list(),
                                        strict=True)]
        cand = here.filter(~pl.col("variant").is_in(list(front_excludes)))
        idx = pareto_front(list(zip(cand[x].to_list(), cand[y].to_list(), strict=True)))
        fx, fy = [cand[x][i] for i in idx], [cand[y][i] for i in idx]
        # the staircase bounding the dominated region: from the y axis, through the front, down to the x axis
        stairs = ([X_RANGE[0]] + fx + fx[-1:], fy[:1] + fy + [Y_RANGE[0]]) if idx else ([], [])
        texts = merge_coincident(list(zip(here[x].to_list(), here[y].to_list(), strict=True)), texts)
        places = place_labels(list(zip(here[x].to_list(), here[y].to_list(), strict=True)), texts,
                              (PANEL_W, PANEL_H), X_RANGE, Y_RANGE, stairs)
        here = here.with_columns(pl.Series("text", texts, dtype=pl.String), pl.Series("place", places))
        for variant, label, part in _groups(here):
            (symbol, color), name, res = _marker(variant, label), _legend_name(variant, label), variant == "residual"
            texts, rank = part["text"].to_list(), _RANK.get(variant, 5) * 10 + _REF_ORDER.get(label, 0)
            fig.add_trace(go.Scatter(
                x=part[x].to_list(), y=part[y].to_list(), mode="markers+text" if any(texts) else "markers", name=name,
                legendgroup=name, showlegend=name not in shown, legendrank=rank, text=texts,
                customdata=part["label"].to_list(),
                textposition=part["place"].to_list(), textfont={"size": 10, "color": "#333333"}, cliponaxis=False,
                marker={"symbol": symbol, "color": color, "size": 14 if res else 10,
                        "line": {"width": 2 if res else 1, "color": color if res else "white"}},
                error_x=_bars(part, x, color), error_y=_bars(part, y, color),
                hovertemplate=hover + variant + "</extra>"), row=row, col=col)
            shown.add(name)
        for (label, _rnd), pair in here.filter(pl.col("variant").is_in(["simple", "residual"])).group_by(
                ["label", "round"], maintain_order=True):
            if pair.height == 2:
                fig.add_trace(go.Scatter(x=pair[x].to_list(), y=pair[y].to_list(), mode="lines", showlegend=False,
                                         name=f"{label}: simple-residual", hoverinfo="skip",
                                         line={"color": "#999999", "dash": "dot", "width": 1}), row=row, col=col)
        for (label, variant), path in here.filter(pl.col("round").is_not_null()).group_by(
                ["label", "variant"], maintain_order=True):
            if path.height > 1:
                path = path.sort("round")
                fig.add_trace(go.Scatter(x=path[x].to_list(), y=path[y].to_list(), mode="lines", showlegend=False,
                                         name=f"{label} ({variant}): rounds", hoverinfo="skip",
                                         line={"color": _marker(variant, label)[1], "width": 1.2}), row=row, col=col)
        if idx:
            fig.add_trace(go.Scatter(x=stairs[0], y=stairs[1], mode="lines",
                                     line_shape="vh", name="Pareto front", legendgroup="front", legendrank=90,
                                     showlegend="front" not in shown, hoverinfo="skip",
                                     line={"color": "#444444", "dash": "dash", "width": 1.5}), row=row, col=col)
            shown.add("front")
    fig.update_xaxes(range=list(X_RANGE), tickvals=TICKS).update_yaxes(range=list(Y_RANGE), tickvals=TICKS)
    return fig


def _bars(part: pl.DataFrame, metric: str, color: str) -> dict:
    """Asymmetric error bars from the ``<metric>_lo``/``_hi`` columns (none where the interval is missing)."""
    lo, hi, mid = part[f"{metric}_lo"].to_list(), part[f"{metric}_hi"].to_list(), part[metric].to_list()
    if all(v is None for v in lo + hi):
        return {"visible": False}
    return {"type": "data", "symmetric": False,
            "array": [0.0 if h is None else max(0.0, h - m) for h, m in zip(hi, mid, strict=True)],
            "arrayminus": [0.0 if v is None else max(0.0, m - v) for v, m in zip(lo, mid, strict=True)],
            "color": color, "thickness": 1, "width": 2, "visible": True}


def horizon_figure(results: pl.DataFrame, title: str = "Rollout fidelity vs horizon (RQ2)") -> go.Figure:
    """Token F1 at horizon h (metrics ``f1@h``) per (label, variant), one panel per env: one colour per
    program (Simple solid, Residual dashed; the Pareto markers), references grey and dotted; error bars are
    the paired bootstrap 95 % intervals (``lo``/``hi``) where the frame has them. Difference rows are left out
    and a run contributes its last accepted program (one curve, not a zigzag over rounds). The rollout AUC (the mean
    of these curves' points) is drawn with its interval on the x axis of ``pareto_figure(x="rollout_auc")``."""
    sub = results.filter(pl.col("metric").str.starts_with("f1@") & (pl.col("variant") != "simple-residual"))
    if "round" in sub.columns and sub["round"].is_not_null().any():  # a run's path: its last accepted program
        sub = sub.filter(pl.col("round").is_null() | (pl.col("round") == pl.col("round").max().over(
            "env", "label", "variant")))
    sub = sub.with_columns(pl.col("metric").str.slice(3).cast(pl.Int64).alias("horizon"))
    envs = list(dict.fromkeys(sub["env"].to_list()))
    keys = list(dict.fromkeys(zip(sub["label"].to_list(), sub["variant"].to_list(), strict=True)))
    programs = list(dict.fromkeys(lab for lab, v in keys if v not in ("reference", "oracle")))
    # legend order: each program's curves together (simple, residual), then the reference points
    keys.sort(key=lambda k: (k[0] not in programs, programs.index(k[0]) if k[0] in programs else 0,
                             {"simple": 0, "residual": 1}.get(k[1], 2), _REF_ORDER.get(k[0], 9), k[0]))
    fig = _facets(envs, title, "horizon (steps into the rollout)", "token F1", n_legend=len(keys))
    cols = _grid(len(envs))[1]
    shown: set[str] = set()
    for k, env in enumerate(envs):
        here, row, col = sub.filter(pl.col("env") == env), k // cols + 1, k % cols + 1
        for label, variant in keys:
            part = here.filter((pl.col("label") == label) & (pl.col("variant") == variant)).sort("horizon")
            if part.is_empty():
                continue
            name, (symbol, color), res = f"{label} ({variant})", _marker(variant, label), variant == "residual"
            if label in programs:
                color = PROGRAM_COLORS[programs.index(label) % len(PROGRAM_COLORS)]
            line = {"color": color, "width": 2 if label in programs else 1.5,
                    "dash": {"simple": "solid", "residual": "dash"}.get(variant, "dot") if label in programs else "dot"}
            bars = part.select(pl.col("value").alias("f1"), pl.col("lo").alias("f1_lo"), pl.col("hi").alias("f1_hi")) \
                if {"lo", "hi"} <= set(part.columns) else None
            fig.add_trace(go.Scatter(x=part["horizon"].to_list(), y=part["value"].to_list(), mode="lines+markers",
                                     error_y=_bars(bars, "f1", color) if bars is not None else {"visible": False},
                                     name=name, legendgroup=name, showlegend=name not in shown, line=line,
                                     legendrank=keys.index((label, variant)) + 1,
                                     marker={"symbol": symbol, "color": color, "size": 9 if res else 7},
                                     hovertemplate=f"<b>{name}</b><br>h=%{{x}}: F1 %{{y:.3f}}<extra>{env}</extra>"),
                          row=row, col=col)
            shown.add(name)
        if ticks := sorted(set(here["horizon"].to_list())):
            fig.update_xaxes(tickvals=ticks, range=[0.3, max(ticks) + 0.7], row=row, col=col)
    fig.update_yaxes(range=[-0.03, 1.05], tickvals=TICKS)
    return fig


TABLE_METRICS = ("token_f1", "token_f1_ref", "exact_match", "coverage", "rollout_auc", "decision_agreement",
                 "model_search_success", "llm_success", "n_chooser_fallbacks", "memory_entries", "memory_wrong_hits")


def results_table(results: pl.DataFrame, metrics: Sequence[str] = TABLE_METRICS, macro: bool = True) -> go.Figure:
    """The per-env results (and macro average) as a plotly Table, three decimals; fixed row heights and
    columns wide enough for every cell (a static export shows all rows), env blocks shaded."""
    from patchworld.results import wide

    frame = wide(_with_macro(results) if macro else results.filter(pl.col("env") != "macro"))
    frame = frame.filter(pl.col("variant") != "simple-residual")
    if frame["round"].is_not_null().any():  # a run's path: the table shows its last accepted program
        last = pl.col("round") == pl.col("round").max().over("env", "label", "variant")
        frame = frame.filter(pl.col("round").is_null() | last)
    kinds = {"simple": 0, "residual": 0, "reference": 1, "oracle": 2}  # per env: programs, references, oracle
    frame = frame.sort(pl.col("env") == "macro", "env", pl.col("variant").replace_strict(kinds, default=3),
                       "label", pl.col("variant") == "residual")  # macro last
    metrics = [m for m in metrics if m in frame.columns]
    header = ["env", "label", "variant"] + list(metrics)
    cells = [frame[c].to_list() for c in header[:3]]
    cells += [["" if v is None else f"{v:.3f}" for v in frame[m].to_list()] for m in metrics]
    widths = [max(7.5 * max(len(str(v)) for v in [h, *col]) + 16, 56) for h, col in zip(header, cells, strict=True)]
    blocks = list(dict.fromkeys(frame["env"].to_list()))
    shade = ["#f3f6fb" if blocks.index(e) % 2 else "#ffffff" for e in frame["env"].to_list()]
    row_h, head_h, align = 24, 28, ["left"] * 3 + ["right"] * len(metrics)
    fig = go.Figure(go.Table(columnwidth=widths, header={"values": header, "fill_color": "#dfe7f2", "align": align,
                                                         "height": head_h, "line_color": "#c8d2e0"},
                             cells={"values": cells, "align": align, "height": row_h, "line_color": "#e3e8ef",
                                    "fill_color": [shade] * len(header)}))
    margin = {"l": 20, "r": 20, "t": 60, "b": 20}
    _style(fig, "Results per environment", int(sum(widths)) + margin["l"] + margin["r"],
           margin["t"] + head_h + row_h * max(frame.height, 1) + margin["b"] + 10, margin)
    return fig
