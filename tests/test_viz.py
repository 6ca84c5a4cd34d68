"""Figures: round curve, Pareto, horizon and table, checked from the figure objects."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import pytest

from patchworld.evaluate import RESULT_SCHEMA
from patchworld.viz import horizon_figure, pareto_figure, pareto_front, results_table, round_curve


def _results() -> pl.DataFrame:
    """A small synthetic results frame: two envs, a program in both variants, a reference, the oracle."""
    points = {  # (env, label, variant): (token_f1, success, decision_agreement)
        ("maze", "prog", "simple"): (0.8, 0.6, 0.7),
        ("maze", "prog", "residual"): (0.9, 0.5, 0.6),
        ("maze", "lookup table", "reference"): (0.7, 0.2, 0.3),
        ("maze", "perfect model", "oracle"): (1.0, 1.0, 1.0),
        ("wordle", "prog", "simple"): (0.4, 0.3, 0.5),
        ("wordle", "prog", "residual"): (0.5, 0.3, 0.5),
        ("wordle", "lookup table", "reference"): (0.6, 0.1, 0.2),
        ("wordle", "perfect model", "oracle"): (1.0, 0.9, 1.0),
    }
    rows = []
    for (env, label, variant), (f1, success, agree) in points.items():
        for rq, metric, value in (("rq1", "token_f1", f1), ("search", "model_search_success", success),
                                  ("decision", "decision_agreement", agree)):
            rows.append({"env": env, "label": label, "variant": variant, "program": "h", "rq": rq, "metric": metric,
                         "value": value, "n": 4, "note": ""})
        if variant != "oracle":
            for h, v in ((1, f1), (3, f1 - 0.1), (2, f1 - 0.05)):
                rows.append({"env": env, "label": label, "variant": variant, "program": "h", "rq": "rq2",
                             "metric": f"f1@{h}", "value": v, "n": 4, "note": ""})
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


def test_round_curve_line_and_candidate_points() -> None:
    cands = pl.DataFrame({"round": [1, 1, 2, 2, 3], "candidate_id": list("abcde"),
                          "score_before": [0.5, 0.5, 0.6, 0.6, 0.6], "score_after": [0.6, 0.4, None, 0.55, 0.7],
                          "accepted": [True, False, False, False, True]})
    fig = round_curve(cands)
    traces = {t.name: t for t in fig.data}
    assert list(traces) == ["accepted program", "accepted candidate", "rejected candidate",
                            "rejected candidate (no score)"]
    assert list(traces["accepted program"].x) == [0, 1, 2, 3]
    assert list(traces["accepted program"].y) == [0.5, 0.6, 0.6, 0.7]
    assert list(traces["accepted candidate"].y) == [0.6, 0.7]
    assert list(traces["rejected candidate"].y) == [0.4, 0.55]
    assert traces["accepted candidate"].marker.symbol != traces["rejected candidate"].marker.symbol
    assert fig.layout.xaxis.title.text == "round" and fig.layout.yaxis.title.text == "val token F1"
    with pytest.raises(ValueError, match="accepted"):
        round_curve(cands.drop("accepted"))


def test_pareto_front_is_the_non_dominated_set() -> None:
    pts = [(0.1, 0.9), (0.5, 0.5), (0.4, 0.4), (0.9, 0.1), (0.5, 0.2)]
    assert pareto_front(pts) == [0, 1, 3]
    assert pareto_front([]) == []


def test_pareto_figure_traces_legend_and_front() -> None:
    fig = pareto_figure(_results())
    names = {t.name for t in fig.data if t.showlegend}
    assert names == {"Simple (program)", "Residual (program + memory)", "reference: lookup table",
                     "perfect model (oracle)", "Pareto front"}
    titles = [a.text for a in fig.layout.annotations if a.name != "caption"]
    assert titles == ["maze", "wordle", "macro"]
    assert fig.layout.xaxis.title.text.startswith("fidelity") and fig.layout.yaxis.title.text.startswith("planning")
    fronts = [t for t in fig.data if t.name == "Pareto front"]
    assert len(fronts) == 3
    # maze: simple (0.8, 0.6) and residual (0.9, 0.5) are both on the front, the oracle is excluded
    maze_front = fronts[0]
    assert list(maze_front.x)[1:-1] == [0.8, 0.9] and list(maze_front.y)[1:-1] == [0.6, 0.5]
    connectors = [t for t in fig.data if t.name == "prog: simple-residual"]
    assert len(connectors) == 3
    proxy = pareto_figure(_results(), y="decision_agreement", macro=False)
    assert [a.text for a in proxy.layout.annotations if a.name != "caption"] == ["maze", "wordle"]
    assert "decision agreement" in proxy.layout.yaxis.title.text


def test_pareto_defaults_to_the_proxy_without_search() -> None:
    fig = pareto_figure(_results().filter(pl.col("rq") != "search"))
    assert "decision agreement" in fig.layout.yaxis.title.text
    caption = [a.text for a in fig.layout.annotations if a.name == "caption"]
    assert len(caption) == 1 and caption[0].startswith("y = decision_agreement")


def test_pareto_caption_error_bars_and_run_paths() -> None:
    frame = _results().with_columns((pl.col("value") - 0.1).alias("lo"), (pl.col("value") + 0.05).alias("hi"))
    rounds = frame.filter(pl.col("label") == "prog").with_columns(
        pl.lit("run").alias("label"), pl.lit(0, pl.Int64).alias("round"), (pl.col("value") - 0.2).alias("value"))
    frame = pl.concat([frame, rounds, rounds.with_columns(pl.lit(1, pl.Int64).alias("round"),
                                                          (pl.col("value") + 0.1).alias("value"))])
    fig = pareto_figure(frame)
    caption = [a.text for a in fig.layout.annotations if a.name == "caption"][0]
    assert "model_search_success" in caption and "program and the env's goal-text scorer" in caption
    simple = [t for t in fig.data if t.name == "Simple (program)" and t.xaxis == "x"][0]
    assert simple.error_y.visible and list(simple.error_y.array)[0] == pytest.approx(0.05)
    assert list(simple.error_y.arrayminus)[0] == pytest.approx(0.1)
    paths = [t for t in fig.data if t.name == "run (simple): rounds" and t.xaxis == "x"]
    assert len(paths) == 1 and len(paths[0].x) == 2  # round 0 then round 1
    assert list(paths[0].y) == sorted(paths[0].y)
    plain = pareto_figure(_results())
    assert not [t for t in plain.data if t.name == "Simple (program)"][0].error_y.visible  # no intervals, no bars


def test_horizon_figure_curves() -> None:
    fig = horizon_figure(_results())
    legend = {t.name for t in fig.data if t.showlegend}
    assert legend == {"prog (simple)", "prog (residual)", "lookup table (reference)"}
    first = fig.data[0]
    assert list(first.x) == [1, 2, 3]  # sorted by horizon
    assert fig.layout.xaxis.title.text.startswith("horizon") and fig.layout.yaxis.title.text == "token F1"
    assert len(fig.data) == 6  # 3 curves x 2 envs
    assert not any(t.error_y.visible for t in fig.data)  # no intervals in the frame, no bars
    assert all(t.error_y.array is None for t in fig.data)


def test_rollout_intervals_are_drawn_as_error_bars() -> None:
    frame = _results()
    auc = frame.filter(pl.col("metric") == "f1@1").with_columns(pl.lit("rollout_auc").alias("metric"),
                                                                 (pl.col("value") - 0.1).alias("value"))
    frame = pl.concat([frame, auc]).with_columns((pl.col("value") - 0.04).alias("lo"),
                                                 (pl.col("value") + 0.02).alias("hi"))
    horizon = horizon_figure(frame)
    curve = [t for t in horizon.data if t.name == "prog (simple)" and t.xaxis == "x"][0]
    assert curve.error_y.visible and list(curve.error_y.array) == pytest.approx([0.02] * 3)
    assert list(curve.error_y.arrayminus) == pytest.approx([0.04] * 3)
    diff = frame.filter((pl.col("variant") == "simple") & pl.col("metric").str.starts_with("f1@")).with_columns(
        pl.lit("simple-residual").alias("variant"))
    rounds = frame.filter((pl.col("variant") == "simple") & pl.col("metric").str.starts_with("f1@")).with_columns(
        pl.lit("run").alias("label"))
    rounds = pl.concat([rounds.with_columns(pl.lit(0, pl.Int64).alias("round"), pl.lit(0.1).alias("value")),
                        rounds.with_columns(pl.lit(1, pl.Int64).alias("round"), pl.lit(0.9).alias("value"))])
    names = {t.name: t for t in horizon_figure(pl.concat([frame, diff, rounds])).data if t.xaxis == "x"}
    assert "prog (simple-residual)" not in names  # differences are not curves
    assert list(names["run (simple)"].y) == pytest.approx([0.9] * 3)  # the run's last round only
    pareto = pareto_figure(frame, x="rollout_auc")
    point = [t for t in pareto.data if t.name == "Simple (program)" and t.xaxis == "x"][0]
    assert list(point.x) == pytest.approx([0.7]) and point.error_x.visible
    assert list(point.error_x.arrayminus) == pytest.approx([0.04]) and list(point.error_x.array) == pytest.approx([0.02])


def test_results_table_cells() -> None:
    fig = results_table(_results(), metrics=("token_f1", "model_search_success"))
    table = fig.data[0]
    assert list(table.header.values) == ["env", "label", "variant", "token_f1", "model_search_success"]
    envs = list(table.cells.values[0])
    assert envs.count("macro") == 4 and envs.count("maze") == 4
    assert all(isinstance(v, str) and len(v.split(".")[1]) == 3 for v in table.cells.values[3])


def _four_envs() -> pl.DataFrame:
    """The synthetic frame copied to four envs, with a second program near ``prog`` in every env."""
    base = _results()
    near = base.filter(pl.col("label") == "prog").with_columns(pl.lit("other").alias("label"),
                                                               (pl.col("value") - 0.01).alias("value"))
    both = pl.concat([base, near])
    return pl.concat([both.with_columns(pl.lit(f"{e}{i}").alias("env")) for i, e in enumerate(("a", "b"))]
                     + [both]).sort("env")


def test_facet_layout_scales_and_titles_only_outer_facets() -> None:
    small, big = pareto_figure(_results()), pareto_figure(_four_envs())  # 3 facets (one row) vs 5 (two rows)
    assert [a.text for a in big.layout.annotations if a.name != "caption"] == ["a0", "b1", "maze", "wordle", "macro"]
    assert big.layout.height > small.layout.height

    def facet_px(fig: go.Figure) -> tuple[int, int]:
        lay = fig.layout
        return (round((lay.xaxis.domain[1] - lay.xaxis.domain[0]) * (lay.width - lay.margin.l - lay.margin.r)),
                round((lay.yaxis.domain[1] - lay.yaxis.domain[0]) * (lay.height - lay.margin.t - lay.margin.b)))

    assert facet_px(big) == facet_px(small) and facet_px(big) >= (280, 230)  # the figure grows, facets don't shrink
    # 2 rows of 3: x titles where no facet is below (wordle, macro and b1 above the empty cell), y titles in column 1
    x_titled = [bool(big.layout[f"xaxis{i}"].title.text) for i in range(1, 6)]
    y_titled = [bool(big.layout[f"yaxis{i}"].title.text) for i in range(1, 6)]
    assert x_titled == [False, False, True, True, True] and y_titled == [True, False, False, True, False]
    # the legend sits in the empty sixth cell: right of the second column, below the first row
    assert big.layout.legend.x > big.layout.xaxis2.domain[1] and big.layout.legend.y <= big.layout.yaxis4.domain[1]
    assert small.layout.legend.x > 1  # no empty cell: to the right of the grid


def test_pareto_point_labels_do_not_pile_up() -> None:
    fig = pareto_figure(_four_envs())
    simple = [t for t in fig.data if t.name == "Simple (program)" and t.xaxis == "x3"]  # the maze panel
    assert len(simple) == 1 and sorted(simple[0].text) == ["other", "prog"]
    assert len(set(simple[0].textposition)) == 2  # 0.01 apart: one label moves aside
    assert list(simple[0].customdata) == ["other", "prog"]  # full labels for hover and click handlers
    residual = next(t for t in fig.data if t.name == "Residual (program + memory)" and t.xaxis == "x3")
    assert not any(residual.text)  # the dotted connector pairs them with their simple points


def test_horizon_colours_follow_the_program_and_dash_the_variant() -> None:
    fig = horizon_figure(_results())
    simple, residual = (next(t for t in fig.data if t.name == f"prog ({v})") for v in ("simple", "residual"))
    assert simple.line.color == residual.line.color and simple.line.dash != residual.line.dash
    assert simple.marker.symbol != residual.marker.symbol
    ranks = {t.name: t.legendrank for t in fig.data if t.showlegend}
    assert ranks["prog (simple)"] < ranks["prog (residual)"] < ranks["lookup table (reference)"]


def test_points_on_one_spot_share_one_label() -> None:
    from patchworld.viz_labels import merge_coincident, short_label

    points = [(1.0, 1.0), (0.5, 0.2), (1.0004, 1.0), (1.0, 1.0), (0.5, 0.2)]
    assert merge_coincident(points, ["ref", "a", "induced", "", "a"]) == ["ref = induced", "a", "", "", ""]
    assert short_label("maze_flawed", "maze", {"reference"}) == "flawed"
    assert short_label("maze_reference", "maze", {"reference"}) == "maze_reference"
    # in a figure: the second program on the same spot adds its name to the first label, no second label
    base = _results()
    twin = base.filter(pl.col("label") == "prog").with_columns(pl.lit("twin").alias("label"))
    fig = pareto_figure(pl.concat([base, twin]))
    simple = next(t for t in fig.data if t.name == "Simple (program)" and t.xaxis == "x")
    assert sorted(simple.text) == ["", "prog = twin"] and sorted(simple.customdata) == ["prog", "twin"]


def test_every_registered_env_gets_a_facet_even_without_a_measure() -> None:
    """Seven envs and the macro: a 3x3 grid in registry order, the legend in the empty cell; an env whose oracle
    has no model_search_success (SciWorld in `make results`) draws the points it has."""
    from patchworld.envs.base import registered

    envs = registered()
    base = _results().filter(pl.col("env") == "maze")
    frame = pl.concat([base.with_columns(pl.lit(e).alias("env")) for e in envs])
    frame = frame.filter(~((pl.col("env") == "sciworld") & (pl.col("variant") == "oracle")
                           & (pl.col("metric") == "model_search_success")))
    fig = pareto_figure(frame)
    titles = [a.text for a in fig.layout.annotations if a.name != "caption"]
    assert titles == [*envs, "macro"]  # the figure averages what every env measured
    oracle = [t for t in fig.data if t.name and t.name.startswith("perfect model")]
    assert sum(len(t.x) for t in oracle) == len(envs) - 1  # none in sciworld, none in the macro
    assert fig.layout.legend.x < 1  # eight facets in 3x3: the legend takes the ninth cell
