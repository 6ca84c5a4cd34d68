"""What the notebooks and the report show, as plain data and self-contained HTML.

The marimo notebooks, the Jupyter workbench and the offline report lay these values out; they
live here (one tested implementation, no notebook imports) so the notebooks hold layout only.
Nothing here runs program code: it reads a run folder (:class:`patchworld.store.Run`) or
:class:`patchworld.replay.Replay` results.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["CandidateView", "candidates_table", "default_candidate", "candidate_row", "candidate_view",
           "counterexample_rows", "counterexamples_html", "prediction_html", "metric_deltas", "id_list",
           "remaining_counterexamples", "remaining_html", "exported_figure", "f1_changes", "clickable_points", "picked_points", "FIXED_BROKEN_NOTE"]

_STATUS_COLOUR = {"fixed": "#c8f7c5", "broken": "#ffd0d0"}
_CX_STYLE = (
    "<style>.pw-counterexamples{font-size:12px;border-collapse:collapse;width:100%;table-layout:fixed}"
    ".pw-counterexamples th{text-align:left;padding:2px 4px;border-bottom:1px solid #999}"
    ".pw-counterexamples td{vertical-align:top;padding:2px 4px;overflow-wrap:anywhere;border-top:1px solid #ddd}"
    ".pw-counterexamples pre{white-space:pre-wrap;margin:0;font-size:11px}"
    ".pw-shown{display:inline-block;background:#dbe8ff;color:#123c7a;border-radius:3px;padding:0 3px;"
    "font-size:10px;margin-top:2px}</style>"
)
_CX_COLUMNS = (("status", "8%"), ("transition", "8%"), ("action", "7%"), ("belief (before)", "14%"),
               ("true observation", "19%"), ("prediction before (vs truth)", "19%"),
               ("prediction after (vs truth)", "19%"), ("token F1", "6%"))
FIXED_BROKEN_NOTE = ("<b>fixed</b> = val transitions the parent predicted wrongly and the child exactly; <b>broken</b> = "
                     "the reverse (exact match only). <b>token F1 up/down</b> counts transitions whose token F1 against "
                     "the truth rose or fell, exact or not.")


def candidates_table(candidates: pl.DataFrame) -> pl.DataFrame:
    """The candidate log as the notebooks list it: newest round first, scores rounded, fixed/broken counts."""
    if candidates.is_empty():
        return candidates
    return candidates.select(
        "round", "candidate_id", "accepted", pl.col("score_before").round(4), pl.col("score_after").round(4),
        pl.col("n_fixed").alias("fixed"), pl.col("n_broken").alias("broken"), "reason", "origin", "parent", "child",
    ).sort(["round", "candidate_id"], descending=[True, False])


def candidate_row(candidates: pl.DataFrame, candidate_id: str | None) -> dict[str, Any] | None:
    """The log line of ``candidate_id`` as a dict, or ``None`` when there is no such candidate."""
    if not candidate_id or candidates.is_empty():
        return None
    found = candidates.filter(pl.col("candidate_id") == candidate_id)
    return found.row(0, named=True) if found.height else None


def default_candidate(candidates: pl.DataFrame) -> dict[str, Any] | None:
    """What to show before anything is selected: the newest candidate that produced a program
    (else the newest candidate at all; ``None`` for an empty log)."""
    if candidates.is_empty():
        return None
    made = candidates.filter(pl.col("child").is_not_null())
    pool = made if made.height else candidates
    return pool.sort(["round", "candidate_id"]).row(-1, named=True)


def _status(row: Mapping[str, Any]) -> str:
    """fixed / broken / still wrong / not replayed, from a ``replay_summary.json`` example's exact flags."""
    before, after = bool(row.get("exact_before")), row.get("exact_after")
    if after is None:
        return "not replayed"
    return {(False, True): "fixed", (True, False): "broken"}.get((before, bool(after)), "still wrong")


def _f1(predicted: Any, true: Any) -> float | None:
    from patchworld.metrics import token_f1

    return None if predicted is None else token_f1(str(predicted), str(true or ""))


def counterexample_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The counterexamples shown to the proposer, then the fixed and broken examples of a patch's
    ``replay_summary.json``, one row per transition (first occurrence wins), each with a ``status``,
    ``shown`` (was it in the proposer's prompt), token F1 before and after against the truth
    (``f1_before``, ``f1_after``) and ``f1_change`` (up / down / same / not replayed)."""
    rows: dict[str, dict[str, Any]] = {}
    shown = {r["id"] for r in summary.get("counterexamples") or []}
    for key in ("counterexamples", "fixed_examples", "broken_examples"):
        for r in summary.get(key) or []:
            if r["id"] in rows:
                continue
            before, after = _f1(r.get("predicted_before"), r.get("true")), _f1(r.get("predicted_after"), r.get("true"))
            change = "not replayed" if after is None or before is None else (
                "up" if after > before + 1e-12 else "down" if after < before - 1e-12 else "same")
            rows[r["id"]] = {**r, "status": _status(r), "shown": r["id"] in shown, "f1_before": before,
                             "f1_after": after, "f1_change": change}
    return list(rows.values())


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _f1_cell(r: Mapping[str, Any]) -> str:
    before, after = r.get("f1_before"), r.get("f1_after")
    if before is None:
        return ""
    return f"{before:.2f}" + ("" if after is None else f" &rarr; {after:.2f}")


def counterexamples_html(rows: Sequence[Mapping[str, Any]], prompt_anchor: str | None = None) -> str:
    """A self-contained table (class ``pw-counterexamples``): status (and a "shown to the proposer" mark,
    linked to ``#prompt_anchor`` when given), transition, action, belief before, the true observation in
    full, and each prediction in full with its token differences from the truth highlighted
    (:func:`patchworld.tokendiff.diff_html`), then token F1 before -> after. Fixed rows green, broken red."""
    from patchworld.tokendiff import LEGEND_HTML, TOKEN_STYLE, diff_html

    def mark(r: Mapping[str, Any]) -> str:
        if not r.get("shown"):
            return ""
        label = "shown to the proposer"
        return (f'<br><a class="pw-shown" href="#{html.escape(prompt_anchor)}">{label}</a>' if prompt_anchor
                else f'<br><span class="pw-shown">{label}</span>')

    body = "".join(
        f'<tr style="background:{_STATUS_COLOUR.get(r["status"], "transparent")}">'
        f'<td><b>{_cell(r["status"])}</b>{mark(r)}</td><td>{_cell(r.get("id"))}</td><td>{_cell(r.get("action"))}</td>'
        f'<td><pre>{_cell(r.get("belief_before"))}</pre></td><td><pre>{_cell(r.get("true"))}</pre></td>'
        f'<td>{diff_html(r.get("true"), r.get("predicted_before"))}</td>'
        f'<td>{diff_html(r.get("true"), r.get("predicted_after"))}</td><td>{_f1_cell(r)}</td>'
        "</tr>" for r in rows)
    cols = "".join(f'<col style="width:{w}">' for _, w in _CX_COLUMNS)
    head = "".join(f"<th>{name}</th>" for name, _ in _CX_COLUMNS)
    return (f'{_CX_STYLE}{TOKEN_STYLE}{LEGEND_HTML}<table class="pw-counterexamples"><colgroup>{cols}</colgroup>'
            f"<tr>{head}</tr>{body}</table>")


def prediction_html(truth: str | None, predicted: str | None) -> str:
    """One prediction in full with its token differences from ``truth`` marked (styles included)."""
    from patchworld.tokendiff import TOKEN_STYLE, diff_html

    return TOKEN_STYLE + diff_html(truth, predicted)


@dataclass
class CandidateView:
    """One candidate as the stepper shows it: its log line, a title, the diff of its patch (parent vs
    child), its replay summary, the counterexample rows built from it, and the prompt and reply that
    made it (empty for hand edits and mutations without a prompt)."""

    row: dict[str, Any] | None
    title: str
    diff_html: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    prompt: str = ""
    response: str = ""
    suspicion: dict[int, float] | None = None   # parent line -> score the round localised with (beam rounds)
    suspicion_method: str = ""                  # how: "coverage", "+mutants", "+probes" (patchworld.localise)
    parent_source: str = ""

    @property
    def suspicion_html(self) -> str:
        """The parent's whole source with the suspicion the round localised it with beside every line
        (folded, its most suspicious lines in the summary); empty when the round recorded none (greedy
        rounds, hand edits): where the search looked."""
        if not self.suspicion or not self.parent_source:
            return ""
        from patchworld.diffview import suspicion_html

        row = self.row or {}
        title = (f"Where the search looked: suspicion per line of the parent {row.get('parent', '')} as round "
                 f"{row.get('round', '?')} localised it ({self.suspicion_method or 'recorded'})")
        return suspicion_html(self.parent_source, self.suspicion, title)

    @property
    def anchor(self) -> str:
        """HTML id of this candidate's prompt-and-reply block (the "shown to the proposer" marks link here)."""
        cid = (self.row or {}).get("candidate_id") or "none"
        return f"pw-prompt-{re.sub(r'[^A-Za-z0-9_-]', '_', str(cid))}"

    @property
    def counts(self) -> dict[str, int]:
        """Rows per status, rows shown to the proposer, token-F1 ups and downs among the rows, and the
        candidate's val totals (``val_fixed``, ``val_broken``: exact-match changes; ``val_f1_up``,
        ``val_f1_down``: transitions whose token F1 rose / fell)."""
        out = {k: sum(r["status"] == k for r in self.rows) for k in ("fixed", "broken", "still wrong")}
        out["shown"] = sum(bool(r.get("shown")) for r in self.rows)
        out["f1_up"] = sum(r.get("f1_change") == "up" for r in self.rows)
        out["f1_down"] = sum(r.get("f1_change") == "down" for r in self.rows)
        out["val_fixed"] = len(self.summary.get("fixed") or [])
        out["val_broken"] = len(self.summary.get("broken") or [])
        out["val_f1_up"] = len(self.summary.get("f1_up") or [])      # token-F1 view over all of val
        out["val_f1_down"] = len(self.summary.get("f1_down") or [])
        return out

    @property
    def flags(self) -> list[str]:
        """Warnings a reader should not miss, e.g. an accepted patch that fixed no transition exactly."""
        row = self.row or {}
        if row.get("accepted") and not self.summary.get("fixed") and not row.get("n_fixed"):
            return ["token-F1 gain only: accepted without fixing any val transition exactly"]
        return []

    @property
    def counterexamples_html(self) -> str:
        return counterexamples_html(self.rows, self.anchor if (self.prompt or self.response) else None)

    @property
    def prompt_html(self) -> str:
        """The prompt sent to the proposer and its reply, folded (``<details>``, id :attr:`anchor`)."""
        if not (self.prompt or self.response):
            return f'<p id="{self.anchor}"><i>No prompt recorded (a mutation or a hand edit).</i></p>'
        return (f'<details id="{self.anchor}" class="pw-prompt"><summary>Prompt sent to the proposer and its reply'
                f" ({len(self.prompt):,} / {len(self.response):,} characters)</summary>"
                f'<h5>Prompt</h5><pre style="white-space:pre-wrap;font-size:11px">{html.escape(self.prompt)}</pre>'
                f'<h5>Reply</h5><pre style="white-space:pre-wrap;font-size:11px">{html.escape(self.response)}</pre>'
                "</details>")


def _read(path: Any) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def candidate_view(run: Any, row: Mapping[str, Any] | None) -> CandidateView:
    """Everything the stepper and the report show for one candidate of ``run`` (a
    :class:`patchworld.store.Run`): the side-by-side diff recorded in its patch folder (made from the
    two programs if the record is missing; its edits when no child program came out), its
    counterexamples, and the prompt and reply that produced it."""
    if row is None:
        return CandidateView(None, "No candidate selected")
    from patchworld.patches import side_by_side_html
    from patchworld.suspicion import recorded_localisation, scored_lines

    verdict = "accepted" if row["accepted"] else "rejected"
    title = f"Candidate {row['candidate_id']} (round {row['round']}): {verdict} \u2014 {row['reason']}"
    folder = run.patch_dir(row["patch_id"] or row["candidate_id"])
    found = recorded_localisation(getattr(run, "round_log", ()), row["round"], row["parent"]) if row["parent"] else None
    lines = (scored_lines(found) or None) if found else None
    parent = run.program(row["parent"]).source if lines else ""
    if row["child"] and not lines and (folder / "side_by_side.html").exists():   # the diff recorded as it was
        diff = (folder / "side_by_side.html").read_text(encoding="utf-8")
    elif row["child"]:   # made from the programs, with the round's suspicion beside the parent's lines if any
        diff = side_by_side_html(parent or run.program(row["parent"]).source, run.program(row["child"]).source,
                                 row["parent"], row["child"], suspicion=lines)
    elif (folder / "edits.json").exists():
        diff = "<pre>" + html.escape((folder / "edits.json").read_text(encoding="utf-8")) + "</pre>"
    else:
        diff = "<p><i>No child program and no edits recorded.</i></p>"
    path = folder / "replay_summary.json"
    summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return CandidateView(dict(row), title, diff, summary, counterexample_rows(summary),
                         _read(folder / "prompt.txt"), _read(folder / "response.txt"), lines,
                         str(found.get("method", "")) if found else "", parent)


def metric_deltas(before: Any, after: Any, names: tuple[str, str] = ("loaded", "edited")) -> pl.DataFrame:
    """One row per numeric metric of two replays: ``metric``, the two values and ``delta`` (after - before).
    Column names for the two values are ``names``."""
    first, second = names
    rows = []
    for name, value in before.metrics.items():
        new = after.metrics.get(name)
        if isinstance(value, int | float) and isinstance(new, int | float):
            rows.append({"metric": name, first: float(value), second: float(new), "delta": float(new) - float(value)})
    return pl.DataFrame(rows, schema={"metric": pl.Utf8, first: pl.Float64, second: pl.Float64, "delta": pl.Float64})


def remaining_counterexamples(replay: Any) -> pl.DataFrame:
    """The transitions a replay still gets wrong (not exact), with the columns a person reads first."""
    return replay.steps.filter(~pl.col("exact")).select("id", "action", "error_kind", "belief", "true", "predicted",
                                                          "error")


def f1_changes(before: Any, after: Any) -> tuple[list[str], list[str]]:
    """Transition ids whose token F1 against the truth rose / fell from replay ``before`` to ``after``
    (the token-F1 view of fixed/broken, which also counts progress on transitions still not exact)."""
    from patchworld.gate import token_f1_changes

    return token_f1_changes(before, after)


def remaining_html(edited: Any, loaded: Any | None = None, limit: int = 40) -> str:
    """The first ``limit`` transitions ``edited`` (a replay) still gets wrong, as the counterexample table:
    truth in full, the loaded program's prediction ("before", when ``loaded`` is given) and the edited
    one's ("after"), each with its token differences from the truth highlighted."""
    wrong = edited.steps.filter(~pl.col("exact"))
    before: dict[str, Any] = {}
    if loaded is not None:
        ids = set(wrong["id"].head(limit).to_list())
        before = {r["id"]: r["predicted"] for r in loaded.steps.select("id", "predicted").iter_rows(named=True)
                  if r["id"] in ids}
    rows = []
    for r in wrong.head(limit).iter_rows(named=True):
        item = {"id": r["id"], "action": r["action"], "belief_before": r.get("belief"), "true": r["true"],
                "predicted_before": before.get(r["id"]), "predicted_after": r["predicted"] or r.get("error")}
        b, a = _f1(item["predicted_before"], item["true"]), _f1(item["predicted_after"], item["true"])
        change = "not replayed" if a is None or b is None else ("up" if a > b else "down" if a < b else "same")
        rows.append({**item, "status": r.get("error_kind") or "still wrong", "shown": False, "f1_before": b,
                     "f1_after": a, "f1_change": change})
    more = f"<p><i>{wrong.height - limit} more not shown.</i></p>" if wrong.height > limit else ""
    return counterexamples_html(rows) + more


def exported_figure(results_dir: Any, name: str, slack_seconds: float = 5.0) -> str | None:
    """The SVG markup of ``<results_dir>/<name>.svg`` when it is at least as new as the results it was drawn
    from (``results.parquet``, give or take ``slack_seconds`` for a fresh clone's checkout order), else ``None``.
    Lets a notebook show the exported figure at once while the interactive one is built."""
    from pathlib import Path

    svg, data = Path(results_dir) / f"{name}.svg", Path(results_dir) / "results.parquet"
    try:
        if svg.stat().st_mtime + slack_seconds < data.stat().st_mtime:
            return None
        text = svg.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    start = text.find("<svg")
    return f'<div class="pw-exported-figure">{text[start:]}</div>' if start >= 0 else None


def id_list(ids: Sequence[str], limit: int = 30) -> str:
    """Transition ids as one short line: the first ``limit``, then how many more; "none" when empty."""
    if not ids:
        return "none"
    more = f" ... (+{len(ids) - limit})" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def clickable_points(fig: Any, envs: Sequence[str]) -> dict[tuple[int, int], tuple[str, str, str]]:
    """Map (trace number, point index) of a faceted Pareto figure (:func:`patchworld.viz.pareto_figure`)
    to (env, label, variant), where ``envs`` are the facet titles in facet order.

    Also makes each marker trace clickable in marimo's ``mo.ui.plotly``, which reports clicks only on
    scatter traces drawn with lines: such traces get an invisible (zero-width) line. The variant comes
    from the trace's hover template (``<extra>variant</extra>``); the label from ``customdata``
    (the full label) or else the point's text.
    """
    keys: dict[tuple[int, int], tuple[str, str, str]] = {}
    for number, trace in enumerate(fig.data):
        found = re.search(r"<extra>(.*)</extra>", trace.hovertemplate or "")
        if not trace.mode or "markers" not in trace.mode or not found:
            continue
        n = len(trace.x)
        custom = list(trace.customdata) if trace.customdata is not None else [None] * n
        texts = list(trace.text) if trace.text is not None else [""] * n
        names = [c if isinstance(c, str) else t for c, t in zip(custom, texts, strict=True)]
        facet = int((trace.xaxis or "x")[1:] or 1) - 1
        for index, label in enumerate(names):
            keys[(number, index)] = (envs[facet] if facet < len(envs) else "", label, found.group(1))
        if "lines" not in trace.mode:
            trace.mode = trace.mode + "+lines"
            trace.line = {"width": 0}
    return keys


def picked_points(points: Sequence[Mapping[str, Any]], keys: Mapping[tuple[int, int], tuple[str, str, str]]
                  ) -> list[tuple[str, str, str]]:
    """The (env, label, variant) of clicked/selected plotly points (``curveNumber`` and ``pointIndex``
    or ``pointNumber``), in click order; points not in ``keys`` are skipped."""
    out = []
    for point in points:
        index = point.get("pointIndex", point.get("pointNumber"))
        key = keys.get((int(point.get("curveNumber", -1)), int(-1 if index is None else index)))
        if key:
            out.append(key)
    return out
