"""A self-contained HTML report of one synthesis run (opens offline).

The page holds the run header, the per-round table, the round curve (plotly, with its
JavaScript embedded: ``include_plotlyjs=True``), and for every accepted patch its
side-by-side diff and a few validation transitions it fixed and broke, with the prediction
before and after. Nothing is fetched from the network.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from patchworld.store import Run, atomic_write_text, load_run

__all__ = ["write_report", "report_html", "round_figure"]

_CSS = """
body {font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px}
h1 {font-size: 22px} h2 {font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd}
table.pw {border-collapse: collapse; font-size: 13px} table.pw td, table.pw th {border: 1px solid #ddd; padding: 3px 8px}
table.pw th {background: #f4f4f4} .muted {color: #666; font-size: 12px}
pre {background: #f8f8f8; padding: 6px; white-space: pre-wrap; font-size: 12px}
.flag {color: #8a4b00; font-weight: bold}
.patch {margin: 18px 0; padding: 8px 12px; border: 1px solid #e2e2e2; border-radius: 6px; overflow-x: auto}
"""


def round_figure(run: Run) -> go.Figure:
    """The round curve: :func:`patchworld.viz.round_curve` when available, else a local line plot."""
    try:
        from patchworld.viz import round_curve

        if run.candidates.height:
            return round_curve(run.candidates)
    except ImportError:
        pass
    fig = go.Figure(go.Scatter(x=run.rounds["round"].to_list(), y=run.rounds["val_token_f1"].to_list(),
                               mode="lines+markers", name="accepted program"))
    fig.update_layout(title="Validation score per round", xaxis_title="round", yaxis_title="val token F1",
                      template="plotly_white")
    return fig


def _table(frame: pl.DataFrame, floats: int = 3) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows():
        cells = []
        for v in row:
            text = f"{v:.{floats}f}" if isinstance(v, float) else ("" if v is None else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="pw"><tr>{head}</tr>{"".join(rows)}</table>'


def _kv(items: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items.items())
    return f'<table class="pw">{rows}</table>'


def _examples(summary: dict[str, Any], limit: int = 4) -> str:
    """Up to ``limit`` validation transitions the patch fixed and up to ``limit`` it broke, as the
    notebooks show them (:func:`patchworld.views.counterexamples_html`)."""
    from patchworld.views import counterexample_rows, counterexamples_html

    picked = {"fixed_examples": summary.get("fixed_examples") or [],
              "broken_examples": summary.get("broken_examples") or []}
    rows = counterexample_rows({k: v[:limit] for k, v in picked.items()})
    if not rows:
        return ""
    n_fixed, n_broken = len(summary.get("fixed") or []), len(summary.get("broken") or [])
    return (f"<p class='muted'>Validation transitions this patch fixed ({n_fixed} in all) and broke "
            f"({n_broken}); up to {limit} of each, with the prediction before and after:</p>"
            + counterexamples_html(rows))


def _accepted_patches(run: Run) -> str:
    accepted = run.candidates.filter(pl.col("accepted"))
    if not accepted.height:
        return "<p>No patch was accepted.</p>"
    from patchworld.views import candidate_view

    blocks = []
    for row in accepted.iter_rows(named=True):
        view = candidate_view(run, row)
        blocks.append(
            f"<div class='patch'><h3>Round {row['round']}: {html.escape(row['candidate_id'])} "
            f"({html.escape(row['origin'] or '')})</h3>"
            f"<p>val token F1 {row['score_before']:.3f} &rarr; {row['score_after']:.3f}; fixed {row['n_fixed']}, "
            f"broken {row['n_broken']} transitions. <span class='muted'>{html.escape(row['reason'] or '')}</span></p>"
            + "".join(f"<p class='flag'>&#9888; {html.escape(flag)}</p>" for flag in view.flags)
            + f"{view.diff_html}{view.suspicion_html}{_examples(view.summary)}"
            + (view.prompt_html if view.prompt or view.response else "") + "</div>")
    if blocks:
        from patchworld.views import FIXED_BROKEN_NOTE

        blocks.insert(0, f"<p class='muted'>{FIXED_BROKEN_NOTE}</p>")
    return "".join(blocks)


def report_html(run: Run, title: str | None = None, summary: dict[str, Any] | None = None) -> str:
    """The report page as one HTML string (plotly JS embedded)."""
    h = run.header
    title = title or f"PatchWorld run: {h.get('env')} ({h.get('variant', 'simple')})"
    proposer = h.get("proposer", {}) or {}
    info = {"run folder": str(run.path), "env": h.get("env"), "variant": h.get("variant"),
            "proposer": proposer.get("name"), "seed": h.get("seed"), "candidates per round": h.get("n_candidates"),
            "train transitions": h.get("data", {}).get("train", {}).get("n_transitions"),
            "val transitions": h.get("data", {}).get("val", {}).get("n_transitions"),
            "initial program": h.get("initial_program"), "final program": run.current,
            "versions": ", ".join(f"{k} {v}" for k, v in (h.get("versions") or {}).items())}
    figure = round_figure(run).to_html(full_html=False, include_plotlyjs=True)
    rounds = run.rounds.drop("program") if "program" in run.rounds.columns else run.rounds
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
        + (f"<h2>Summary</h2>{_kv(summary)}" if summary else "")
        + f"<h2>Run</h2>{_kv(info)}<h2>Rounds</h2>{_table(rounds)}<h2>Round curve</h2>{figure}"
        f"<h2>Accepted patches</h2>{_accepted_patches(run)}</body></html>"
    )


def write_report(run_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None,
                 title: str | None = None, summary: dict[str, Any] | None = None) -> Path:
    """Write the report (default ``<run_dir>/report.html``) atomically; returns its path."""
    run = load_run(run_dir)
    target = Path(path) if path else run.path / "report.html"
    return atomic_write_text(target, report_html(run, title, summary))
