"""The trajectory stepper: one val trajectory of a run, transition by transition, parent beside child.

For a candidate of a run (its parent program and, when it made one, its child), both programs
are replayed (teacher-forced, in the sandbox) on ONE trajectory of the run's own val copy; each
transition then shows the action, the belief before and after it, the truth and each program's
prediction with its token differences from the truth. Used by the marimo trajectory notebook and
the Jupyter workbench; no notebook imports.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TransitionView", "trajectory_choices", "step_through", "transition_html"]


@dataclass
class TransitionView:
    """One transition of the stepped trajectory, for the parent (and the child, if any)."""

    index: int
    id: str
    action: str
    true: str
    parent: dict[str, Any]
    child: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        """Whether the child's prediction differs from the parent's here."""
        return self.child is not None and self.child["predicted"] != self.parent["predicted"]


def trajectory_choices(run: Any, row: Mapping[str, Any] | None = None) -> list[str]:
    """Trajectory ids of the run's val copy; those holding the candidate's fixed, broken or shown
    transitions first (they are what a reader wants to step through), then the rest in file order."""
    from patchworld.store import RunStore

    ids = [t.id for t in RunStore(run.path).load_data("val")]
    if row is None:
        return ids
    from patchworld.views import candidate_view

    view = candidate_view(run, row)
    wanted = {r["id"].split("#")[0] for r in view.rows}
    wanted |= {str(i).split("#")[0] for i in (view.summary.get("fixed") or []) + (view.summary.get("broken") or [])}
    return [i for i in ids if i in wanted] + [i for i in ids if i not in wanted]


def _side(steps: Any) -> list[dict[str, Any]]:
    rows = steps.sort("step").to_dicts() if "step" in steps.columns else steps.to_dicts()
    out = []
    for i, r in enumerate(rows):
        after = rows[i + 1]["belief"] if i + 1 < len(rows) else None
        out.append({"predicted": r.get("predicted") or "", "exact": bool(r.get("exact")), "token_f1":
                    float(r.get("token_f1") or 0.0), "belief_before": r.get("belief") or "", "belief_after": after,
                    "error": r.get("error") or "", "error_kind": r.get("error_kind") or ""})
    return out


def step_through(run: Any, row: Mapping[str, Any], trajectory_id: str, sandbox: bool = True) -> list[TransitionView]:
    """Replay the candidate's parent and child on trajectory ``trajectory_id`` of the run's val copy and
    pair them up per transition. Program code runs only in the sandbox (``sandbox=False`` is for
    trusted tests)."""
    from patchworld.replay import replay
    from patchworld.store import RunStore

    chosen = [t for t in RunStore(run.path).load_data("val") if t.id == trajectory_id]
    if not chosen:
        raise ValueError(f"{run.path}: no val trajectory {trajectory_id!r}")
    parent = replay(run.program(row["parent"]), chosen, mode="teacher", sandbox=sandbox)
    child = replay(run.program(row["child"]), chosen, mode="teacher", sandbox=sandbox) if row.get("child") else None
    p_side = _side(parent.steps)
    c_side = _side(child.steps) if child is not None else None
    base = parent.steps.sort("step") if "step" in parent.steps.columns else parent.steps
    views = []
    for i, r in enumerate(base.iter_rows(named=True)):
        views.append(TransitionView(i, r["id"], r["action"], r["true"], p_side[i],
                                    c_side[i] if c_side is not None and i < len(c_side) else None))
    return views


def _column(title: str, side: Mapping[str, Any] | None, truth: str) -> str:
    from patchworld.tokendiff import diff_html

    if side is None:
        return f"<div class='pw-step-col'><h5>{title}</h5><p><i>No child program (the patch did not apply).</i></p></div>"
    mark = "exact" if side["exact"] else f"token F1 {side['token_f1']:.2f}"
    after = side["belief_after"]
    error = f"<p><b>{html.escape(side['error_kind'])}</b>: <code>{html.escape(side['error'][-400:])}</code></p>" \
        if side["error"] else ""
    return (f"<div class='pw-step-col'><h5>{title}: {mark}</h5>"
            f"<div class='pw-step-label'>belief before</div><pre>{html.escape(side['belief_before'])}</pre>"
            f"<div class='pw-step-label'>prediction (vs truth)</div>{diff_html(truth, side['predicted'])}{error}"
            f"<div class='pw-step-label'>belief after (corrected with the truth)</div>"
            f"<pre>{html.escape(after) if after is not None else '&mdash; (last transition)'}</pre></div>")


_STYLE = ("<style>.pw-step{display:flex;gap:12px}.pw-step-col{flex:1;min-width:0}.pw-step pre{white-space:pre-wrap;"
          "overflow-wrap:anywhere;font-size:11px;margin:0 0 6px 0;background:#f8f8f8;padding:4px}"
          ".pw-step-label{font-size:11px;color:#555}.pw-step-truth{white-space:pre-wrap;font-size:11px;"
          "background:#eef6ee;padding:4px}</style>")


def transition_html(views: Sequence[TransitionView], index: int) -> str:
    """Transition ``index`` (clamped) as HTML: header, the truth, then parent and child side by side."""
    from patchworld.tokendiff import LEGEND_HTML, TOKEN_STYLE

    if not views:
        return "<p><i>No transitions.</i></p>"
    index = max(0, min(index, len(views) - 1))
    v = views[index]
    changed = " &mdash; <b>the child predicts differently here</b>" if v.changed else ""
    return (f"{_STYLE}{TOKEN_STYLE}<div class='pw-stepper' data-index='{index}'>"
            f"<h4>Transition {index + 1} of {len(views)}: <code>{html.escape(v.id)}</code>, action "
            f"<code>{html.escape(v.action)}</code>{changed}</h4>"
            f"<div class='pw-step-label'>true next observation</div><pre class='pw-step-truth'>{html.escape(v.true)}</pre>"
            f"{LEGEND_HTML}<div class='pw-step'>{_column('parent', v.parent, v.true)}"
            f"{_column('child', v.child, v.true)}</div></div>")
