"""``patchworld figures``: Pareto, horizon and round figures, tables (CSV, LaTeX) from a results folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", required=True, help="results folder (or .parquet) written by `patchworld evaluate`")
    parser.add_argument("--out", required=True, help="output folder for figures and tables")
    parser.add_argument("--runs", nargs="*", default=[], metavar="RUN_DIR", help="run folders: draw their round curves")
    parser.add_argument("--formats", nargs="*", default=["html", "svg", "pdf"], choices=["html", "svg", "pdf", "png"],
                        help="figure formats (SVG/PDF need the system Chromium; default html svg pdf)")
    parser.add_argument("--plotlyjs", choices=["inline", "cdn"], default="inline",
                        help="HTML: embed plotly.js (offline, ~4.8 MB per file) or link it from the CDN")
    parser.add_argument("--x", default="token_f1", help="fidelity metric on the Pareto x axis (default token_f1)")
    parser.add_argument("--y", default=None, help="utility metric on the y axis (default success, else the proxy)")


def run(args: argparse.Namespace) -> int:
    from patchworld.evaluate import load_results, wide
    from patchworld.export import export_csv, export_figures, export_latex
    from patchworld.progress import TextProgress
    from patchworld.viz import horizon_figure, pareto_figure, results_table, round_curve

    try:
        results, _meta = load_results(args.results)
    except (FileNotFoundError, ValueError) as exc:
        print(f"patchworld figures: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    figures = {"pareto": pareto_figure(results, x=args.x, y=args.y)}
    if (results["metric"] == "decision_agreement").any():
        figures["pareto_proxy"] = pareto_figure(results, x=args.x, y="decision_agreement")
    if args.x != "rollout_auc" and (results["metric"] == "rollout_auc").any():  # RQ2 fidelity, with its interval
        figures["pareto_rollout"] = pareto_figure(results, x="rollout_auc", y=args.y)
    if results["metric"].str.starts_with("f1@").any():
        figures["horizon"] = horizon_figure(results)
    figures["table"] = results_table(results)
    if args.runs:
        from patchworld.store import load_run

        for d in args.runs:
            run_ = load_run(d)
            figures[f"rounds_{Path(d).name}"] = round_curve(run_.candidates, title=f"Validation score per round: {d}")
    bar = TextProgress("figures")
    bar(0, 1, f"exporting {len(figures)} figures")
    static = {k: v for k, v in figures.items() if k != "table"}
    done = export_figures(static, out, args.formats, plotlyjs=args.plotlyjs)
    table = export_figures({"table": figures["table"]}, out, ["html"], plotlyjs=args.plotlyjs)
    bar(1, 1, "done")
    for key, path in {**done.files, **table.files}.items():
        print(f"{key.rsplit('.', 1)[1]:4s} {path}")
    for note in sorted(set(done.skipped.values())):
        print(f"note: {note}", file=sys.stderr)
    print(f"csv  {export_csv(wide(results), out / 'results_wide.csv')}")
    print(f"tex  {export_latex(results, out / 'results.tex')}")
    return 0
