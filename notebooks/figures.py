import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: figures", html_head_file="figures_head.html")


@app.cell
def _():
    import os
    from pathlib import Path

    import marimo as mo
    import polars as pl

    return Path, mo, os, pl


@app.cell
def _(Path, mo, os):
    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RESULTS_DIR = Path(os.environ.get("PATCHWORLD_RESULTS_DIR") or ROOT / "data" / "results")
    FIGURES_DIR = Path(os.environ.get("PATCHWORLD_FIGURES_DIR") or ROOT / "figures")
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    PROGRAMS_DIR = ROOT / "data" / "programs"
    return FIGURES_DIR, PROGRAMS_DIR, RESULTS_DIR, ROOT, RUNS_DIR


@app.cell
def _(mo):
    mo.md("""
    # PatchWorld: figures

    Results of `patchworld evaluate` (RQ1 fidelity, RQ2 rollouts, RQ3 planning and the offline proxy):
    the Pareto plot of fidelity against planning utility (click a point for that program's metrics and
    source), rollout curves, synthesis round curves and the results table. The export buttons write
    SVG/PDF/CSV/LaTeX into the figures folder.
    """)
    return


@app.cell
def _(FIGURES_DIR, RESULTS_DIR, mo):
    results_folder = mo.ui.text(value=str(RESULTS_DIR), label="Results folder", full_width=True)
    figures_folder = mo.ui.text(value=str(FIGURES_DIR), label="Figures folder (exports)", full_width=True)
    mo.vstack([results_folder, figures_folder])
    return figures_folder, results_folder


@app.cell
def _(Path, mo, results_folder):
    from patchworld.evaluate import load_results, wide

    try:
        results, results_meta = load_results(Path(results_folder.value).expanduser())
        load_problem = ""
    except (FileNotFoundError, ValueError) as _exc:
        results, results_meta, load_problem = None, {}, str(_exc)
    mo.stop(results is None, mo.callout(mo.md(f"**No results loaded.** {load_problem}"), kind="warn"))
    table = wide(results)
    return load_problem, results, results_meta, table, wide


@app.cell
def _(mo, results):
    from patchworld.viz import FIDELITY_METRICS, UTILITY_METRICS

    _present = set(results["metric"].unique().to_list())
    _xs = [m for m in FIDELITY_METRICS if m in _present] or sorted(_present)
    _ys = [m for m in UTILITY_METRICS if m in _present] or sorted(_present)
    x_metric = mo.ui.dropdown(_xs, value=_xs[0], label="Fidelity (x)")
    y_metric = mo.ui.dropdown(_ys, value=_ys[0], label="Utility (y)")
    default_metrics = (_xs[0], _ys[0])
    mo.vstack([mo.md("## Fidelity vs planning utility (click a point)"), mo.hstack([x_metric, y_metric],
              justify="start")])
    return default_metrics, x_metric, y_metric


@app.cell
def _(Path, default_metrics, mo, results, results_folder, x_metric, y_metric):
    from patchworld.views import clickable_points, exported_figure
    from patchworld.viz import pareto_figure

    # The results folder's exported Pareto figure (when it is as new as the results and the metrics are the
    # default ones) shows at once; the interactive plot replaces it as soon as it is built.
    _static = exported_figure(Path(results_folder.value).expanduser(), "pareto") \
        if (x_metric.value, y_metric.value) == default_metrics else None
    if _static:
        mo.output.replace(mo.vstack([mo.Html(_static), mo.md("_The exported figure; the clickable one follows._")]))
    pareto = pareto_figure(results, x=x_metric.value, y=y_metric.value)
    point_keys = clickable_points(pareto, [a.text for a in pareto.layout.annotations])
    # an explicit config keeps mo.ui.plotly from looking up plotly's default renderer (which imports
    # nbformat and friends: seconds before the first plot)
    pareto_plot = mo.ui.plotly(pareto, config={"displaylogo": False})
    mo.output.replace(pareto_plot)
    return pareto, pareto_plot, point_keys


@app.cell
def _(pareto_plot):
    # The clicked/selected Pareto points (tests substitute this value through app.run(defs=...)).
    clicked_points = list(pareto_plot.value or [])
    return (clicked_points,)


@app.cell
def _(clicked_points, pl, point_keys, table):
    from patchworld.views import picked_points

    picked_keys = picked_points(clicked_points, point_keys)
    picked = table.filter(pl.any_horizontal(*[
        (pl.col("env") == e) & (pl.col("label") == lab) & (pl.col("variant") == v) for e, lab, v in picked_keys
    ])) if picked_keys else table.clear()
    return picked, picked_keys


@app.cell
def _(PROGRAMS_DIR, RUNS_DIR, results_folder):
    from patchworld.evaluate import program_source

    def find_source(program_hash: str) -> str | None:
        """The results folder's copy, else data/programs or a run folder with that content hash."""
        return program_source(results_folder.value, program_hash, search=[PROGRAMS_DIR, RUNS_DIR])

    return (find_source,)


@app.cell
def _(find_source, mo, picked, pl, results):
    _views = []
    picked_sources = {}
    for _row in picked.iter_rows(named=True):
        _rows = results.filter((pl.col("env") == _row["env"]) & (pl.col("label") == _row["label"])
                               & (pl.col("variant") == _row["variant"]))
        _hash = _rows["program"][0]
        picked_sources[_hash] = find_source(_hash)
        _views.append(mo.vstack([
            mo.md(f"### {_row['label']} ({_row['variant']}) on {_row['env']}: program `{_hash}`"),
            mo.ui.table(_rows.select("rq", "metric", pl.col("value").round(4), "n", "note"), selection=None,
                        page_size=30),
            mo.ui.code_editor(picked_sources[_hash], language="python", disabled=True, max_height=400)
            if picked_sources[_hash] else mo.md("_Source not stored (a reference model built from train data, "
                                               "or a program from elsewhere)._"),
        ]))
    mo.vstack(_views) if _views else mo.md("_Click a point in the Pareto plot to see its metrics and source._")
    return (picked_sources,)


@app.cell
def _(mo, results):
    from patchworld.viz import horizon_figure

    horizon = horizon_figure(results) if results["metric"].str.starts_with("f1@").any() else None
    mo.vstack([mo.md("## Rollout fidelity vs horizon (RQ2)"),
               horizon if horizon is not None else mo.md("_No RQ2 rollout metrics in these results._")])
    return (horizon,)


@app.cell
def _(Path, ROOT, RUNS_DIR, mo, results_meta):
    # Runs the results were made from (listed in the results folder) and runs on disk; a listed run that is
    # missing (a fresh clone: `make results` makes them) is named, with the command, instead of pre-selected.
    _listed = [str(p if Path(p).is_absolute() else ROOT / p)
               for p in (results_meta.get("arguments") or {}).get("runs") or []]
    _found = sorted(str(p.parent) for p in RUNS_DIR.glob("*/header.json"))
    _runs = [r for r in dict.fromkeys(_listed + _found) if (Path(r) / "header.json").exists()]
    missing_runs = [r for r in _listed if r not in _runs]
    run_pick = mo.ui.multiselect(_runs, value=[r for r in _listed if r in _runs][:3] or _runs[:3],
                                 label="Synthesis runs (round curves)")
    return missing_runs, run_pick


@app.cell
def _(Path, missing_runs, mo, run_pick):
    from patchworld.store import load_run
    from patchworld.viz import round_curve

    round_figures = {}
    for _d in run_pick.value:
        if (Path(_d) / "header.json").exists():
            round_figures[f"rounds_{Path(_d).name}"] = round_curve(load_run(_d).candidates,
                                                                   title=f"Validation score per round: {Path(_d).name}")
    _missing = mo.md(
        f"_{len(missing_runs)} run(s) these results were made from are not on this machine "
        f"({', '.join(Path(r).name for r in missing_runs)}): `make results` makes them (a few minutes)._"
    ) if missing_runs else mo.md("")
    mo.vstack([mo.md("## Synthesis rounds"), run_pick, _missing, *round_figures.values()]
              if round_figures else [mo.md("## Synthesis rounds"), run_pick, _missing,
                                     mo.md("_No run selected._" if run_pick.options else "_No run folders found._")])
    return (round_figures,)


@app.cell
def _(mo, pl, table):
    mo.vstack([mo.md("## Results table"),
               mo.ui.table(table.with_columns(pl.col(pl.Float64).round(3)), selection=None, page_size=25)])
    return


@app.cell
def _(mo):
    svg_button = mo.ui.run_button(label="Export SVG")
    pdf_button = mo.ui.run_button(label="Export PDF")
    csv_button = mo.ui.run_button(label="Export CSV")
    latex_button = mo.ui.run_button(label="Export LaTeX")
    mo.hstack([svg_button, pdf_button, csv_button, latex_button], justify="start")
    return csv_button, latex_button, pdf_button, svg_button


@app.cell
def _(csv_button, latex_button, pdf_button, svg_button):
    # Which exports were asked for (tests substitute this value through app.run(defs=...)).
    export_formats = [fmt for fmt, button in (("svg", svg_button), ("pdf", pdf_button), ("csv", csv_button),
                                              ("latex", latex_button)) if button.value]
    return (export_formats,)


@app.cell
def _(Path, export_formats, figures_folder, horizon, mo, pareto, results, round_figures, table):
    from patchworld.export import export_csv, export_figures, export_latex

    exported = []
    export_notes = set()
    _out = Path(figures_folder.value).expanduser()
    _figures = {"pareto": pareto, **({"horizon": horizon} if horizon is not None else {}), **round_figures}
    _static = [f for f in export_formats if f in ("svg", "pdf")]
    if _static:
        # every figure in one kaleido batch: one renderer start-up, not one per figure
        with mo.status.spinner(title=f"Exporting {len(_figures)} figures ({', '.join(_static)})"):
            _done = export_figures(_figures, _out, _static)
        exported += [str(p) for p in _done.files.values()]
        export_notes.update(_done.skipped.values())
    if "csv" in export_formats:
        exported.append(str(export_csv(table, _out / "results_wide.csv")))
    if "latex" in export_formats:
        exported.append(str(export_latex(results, _out / "results.tex")))
    mo.md("Wrote:\n\n" + "\n".join(f"- `{p}`" for p in exported)
          + "".join(f"\n\n_Note: {n}_" for n in sorted(export_notes))) if exported or export_notes else mo.md("")
    return export_notes, exported


if __name__ == "__main__":
    app.run()
