"""Export: HTML always, SVG/PDF through kaleido when Chromium is present, CSV and LaTeX tables."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest
from test_viz import _results

import patchworld.export as export
from patchworld.export import chromium_path, export_csv, export_figure, export_figures, latex_table
from patchworld.viz import pareto_figure


def _fig() -> go.Figure:
    return go.Figure(go.Scatter(x=[0, 1], y=[1, 0], name="line"), layout={"title": "t"})


def test_html_is_self_contained_or_cdn(tmp_path: Path) -> None:
    inline = export_figure(_fig(), tmp_path / "a", ["html"])
    cdn = export_figure(_fig(), tmp_path / "b", ["html"], plotlyjs="cdn")
    assert inline.files == {"a.html": tmp_path / "a.html"} and not inline.skipped
    big, small = inline.files["a.html"].read_text(), cdn.files["b.html"].read_text()
    assert 'src="https://cdn.plot.ly' not in big and len(big) > 1_000_000
    assert 'src="https://cdn.plot.ly' in small and len(small) < 100_000
    with pytest.raises(ValueError, match="plotlyjs"):
        export_figure(_fig(), tmp_path / "c", ["html"], plotlyjs="remote")


def test_without_chromium_static_formats_fall_back_to_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "chromium_path", lambda: None)
    out = export_figures({"p": _fig()}, tmp_path, ["svg", "pdf"])
    assert set(out.skipped) == {"p.svg", "p.pdf"}
    assert "no Chromium found" in out.skipped["p.svg"] and "apt-get install" in out.skipped["p.svg"]
    assert out.files == {"p.html": tmp_path / "p.html"} and (tmp_path / "p.html").exists()
    assert not (tmp_path / "p.svg").exists()
    assert "p.svg skipped" in str(out)


@pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (/usr/bin/chromium): kaleido cannot render")
def test_svg_and_pdf_render_with_chromium(tmp_path: Path) -> None:
    fig = pareto_figure(_results())
    out = export_figures({"pareto": fig, "plain": _fig()}, tmp_path, ["svg", "pdf"])
    assert not out.skipped, out.skipped
    svg = (tmp_path / "pareto.svg").read_text()
    assert svg.lstrip().startswith("<svg") and "Pareto front" in svg and "macro" in svg
    # each image at its figure's own layout size (kaleido alone would use 700x500), plotly's default without one
    assert f'width="{fig.layout.width}" height="{fig.layout.height}"' in svg[:300]
    assert (fig.layout.width, fig.layout.height) != (700, 500)
    assert 'width="700" height="500"' in (tmp_path / "plain.svg").read_text()[:300]
    assert (tmp_path / "pareto.pdf").read_bytes()[:4] == b"%PDF"
    assert "pareto.html" not in out.files and "plain.html" not in out.files  # not asked for, nothing failed


def test_csv_flattens_lists(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": [1, 2], "tags": [["x", "y"], []]})
    path = export_csv(frame, tmp_path / "sub" / "f.csv")
    assert path.read_text().splitlines() == ["a,tags", "1,x|y", '2,""']


def test_latex_table_escapes_and_bolds_the_best() -> None:
    results = _results().with_columns(pl.col("label").str.replace("lookup table", "look_up & 50%"))
    tex = latex_table(results, metrics=["token_f1", "model_search_success"])
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[t]" and r"\toprule" in lines and lines[-1] == r"\end{table}"
    assert r"look\_up \& 50\%" in tex and "token\\_f1" in tex
    rows = [line for line in lines if line.startswith(("maze", "wordle"))]
    assert len(rows) == 8
    oracle = next(r for r in rows if r.startswith("maze & perfect model"))
    assert oracle.count(r"\textbf{1.000}") == 2
    simple = next(r for r in rows if r.startswith("maze & prog & simple"))
    assert r"\textbf" not in simple and "0.800" in simple
