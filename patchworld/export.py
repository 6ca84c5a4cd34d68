"""Export figures and result tables for papers: SVG/PDF (kaleido + system Chromium), HTML, CSV, LaTeX.

Static images need a Chromium for kaleido. :func:`chromium_path` looks for the system
one (``/usr/bin/chromium`` and friends, or ``$BROWSER_PATH``); when there is none,
:func:`export_figure` says so in its result and writes a self-contained HTML file instead
(plotly.js inlined, viewable offline).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

__all__ = ["chromium_path", "Exported", "export_figure", "export_figures", "export_csv", "latex_table", "export_latex",
           "NO_CHROMIUM"]

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome",
               "/usr/bin/google-chrome-stable")
NO_CHROMIUM = ("no Chromium found (looked at $BROWSER_PATH, " + ", ".join(_CANDIDATES) +
               "): SVG/PDF skipped, wrote self-contained HTML instead; install it with "
               "`apt-get install -y chromium` to get static images")


def chromium_path() -> str | None:
    """The system Chromium kaleido can drive, or None."""
    env = os.environ.get("BROWSER_PATH")
    for path in ([env] if env else []) + list(_CANDIDATES):
        if path and os.path.exists(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found


@dataclass
class Exported:
    """What :func:`export_figure` wrote: format -> path, and why any format is missing."""

    files: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"{fmt}: {path}" for fmt, path in self.files.items()]
        lines += [f"{fmt} skipped: {why}" for fmt, why in self.skipped.items()]
        return "\n".join(lines)


def export_figure(fig: go.Figure, stem: str | Path, formats: Sequence[str] = ("html", "svg", "pdf"),
                  width: int | None = None, height: int | None = None, plotlyjs: str = "inline") -> Exported:
    """Write ``fig`` as ``<stem>.<fmt>`` for each format (see :func:`export_figures`)."""
    stem = Path(stem)
    return export_figures({stem.name: fig}, stem.parent, formats, width, height, plotlyjs)


def export_figures(figures: dict[str, go.Figure], out_dir: str | Path,
                   formats: Sequence[str] = ("html", "svg", "pdf"), width: int | None = None,
                   height: int | None = None, plotlyjs: str = "inline") -> Exported:
    """Write every figure as ``<out_dir>/<name>.<fmt>``; static formats in one kaleido batch.

    ``html`` is always possible: ``plotlyjs="inline"`` embeds plotly.js (about 4.8 MB, works
    offline), ``"cdn"`` links it (small file, needs the network to view). ``svg``/``pdf``/
    ``png`` go through kaleido with the system Chromium; without one they are skipped
    (``Exported.skipped`` says why) and HTML is written even if it was not asked for, so
    there is always something to look at. Keys of ``Exported.files`` are ``<name>.<fmt>``.
    Static images use each figure's own ``layout.width``/``layout.height`` unless ``width``/
    ``height`` override them (plotly's 700x500 default only for a figure without a size).
    """
    if plotlyjs not in ("inline", "cdn"):
        raise ValueError(f"plotlyjs must be 'inline' or 'cdn', got {plotlyjs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Exported()
    static = [f for f in formats if f != "html"]
    browser = chromium_path() if static else None
    jobs = [(name, fmt) for name in figures for fmt in static]
    if jobs and browser is None:
        out.skipped.update({f"{name}.{fmt}": NO_CHROMIUM for name, fmt in jobs})
    elif jobs:
        import plotly.io as pio

        os.environ.setdefault("BROWSER_PATH", browser)
        paths = [out_dir / f"{name}.{fmt}" for name, fmt in jobs]
        # write_images ignores layout.width/height (it falls back to 700x500), so pass each figure's own size
        widths = [width or figures[n].layout.width for n, _ in jobs]
        heights = [height or figures[n].layout.height for n, _ in jobs]
        try:
            pio.write_images([figures[n] for n, _ in jobs], paths, format=[f for _, f in jobs], width=widths,
                             height=heights)
        except Exception as exc:  # kaleido/Chromium failures must not lose the HTML
            out.skipped.update({f"{n}.{f}": f"kaleido failed: {type(exc).__name__}: {exc}" for n, f in jobs})
        for (n, f), p, w, h in zip(jobs, paths, widths, heights, strict=True):
            if f"{n}.{f}" in out.skipped:
                continue
            if not p.exists():   # a batch can drop a figure silently on a busy machine: once more on its own
                try:
                    pio.write_image(figures[n], p, format=f, width=w, height=h)
                except Exception as exc:  # noqa: BLE001
                    out.skipped[f"{n}.{f}"] = f"kaleido failed: {type(exc).__name__}: {exc}"
                    continue
            if p.exists():
                out.files[f"{n}.{f}"] = p
            else:
                out.skipped[f"{n}.{f}"] = "kaleido wrote no file"
    for name, fig in figures.items():
        if "html" in formats or any(k.startswith(f"{name}.") for k in out.skipped):
            path = out_dir / f"{name}.html"
            fig.write_html(str(path), include_plotlyjs=True if plotlyjs == "inline" else "cdn", full_html=True)
            out.files[f"{name}.html"] = path
    return out


def export_csv(results: pl.DataFrame, path: str | Path) -> Path:
    """The frame as CSV (list columns joined with ``|``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = results.with_columns([pl.col(c).cast(pl.List(pl.String)).list.join("|") for c, t in results.schema.items()
                                 if isinstance(t, pl.List)])
    flat.write_csv(path)
    return path


def _tex(text: object) -> str:
    """Escape LaTeX's special characters."""
    s = ("" if text is None else str(text)).replace("\\", "\x00")
    for a, b in (("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("{", r"\{"),
                 ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s.replace("\x00", r"\textbackslash{}")


def latex_table(results: pl.DataFrame, metrics: Sequence[str] | None = None, digits: int = 3,
                caption: str = "Fidelity and planning utility per environment.", label: str = "tab:results",
                bold_best: bool = True) -> str:
    """A booktabs LaTeX table, one row per (env, label, variant); the best value per env in bold.

    ``results`` may be tidy (from ``evaluate``) or already wide. Difference rows (``simple-residual``) are
    left out and a run shows its last accepted program (its earlier rounds are in the figures).
    """
    from patchworld.results import wide
    from patchworld.viz import TABLE_METRICS

    frame = wide(results) if "metric" in results.columns else results
    frame = frame.filter(pl.col("variant") != "simple-residual")
    if "round" in frame.columns and frame["round"].is_not_null().any():
        frame = frame.filter(pl.col("round").is_null()
                             | (pl.col("round") == pl.col("round").max().over("env", "label", "variant")))
    metrics = [m for m in (metrics or TABLE_METRICS) if m in frame.columns]
    best: dict[tuple[str, str], float] = {}
    if bold_best:
        for m in metrics:
            for env, value in frame.group_by("env").agg(pl.col(m).max()).iter_rows():
                if value is not None:
                    best[(env, m)] = value
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{lll" + "r" * len(metrics) + "}", r"\toprule",
             " & ".join(["env", "model", "variant"] + [_tex(m) for m in metrics]) + r" \\", r"\midrule"]
    previous = None
    for row in frame.iter_rows(named=True):
        if previous is not None and row["env"] != previous:
            lines.append(r"\midrule")
        previous = row["env"]
        cells = [_tex(row["env"]), _tex(row["label"]), _tex(row["variant"])]
        for m in metrics:
            v = row[m]
            text = "--" if v is None else f"{v:.{digits}f}"
            if v is not None and best.get((row["env"], m)) == v:
                text = r"\textbf{" + text + "}"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}}}", rf"\label{{{label}}}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"


def export_latex(results: pl.DataFrame, path: str | Path, **kw: object) -> Path:
    """Write :func:`latex_table` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(latex_table(results, **kw), encoding="utf-8")  # type: ignore[arg-type]
    return path
