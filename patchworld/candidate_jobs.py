"""Module-level pieces of a synthesis round that need no session: a candidate's place in its round,
its child program and verdict skeleton, its files in the run folder, the candidate replay an executor
runs (plain arguments, so any node can run it), and a fresh run folder name. Shared by the greedy round
(:mod:`patchworld.synthesis`) and the wide search (:mod:`patchworld.population`), and kept out of
the session so that module stays the session itself."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

__all__ = ["slot_of", "child_of", "write_candidate", "default_run_dir", "replay_candidate"]


def slot_of(proposal: Any, arrival: int, used: set[int]) -> int:
    """A candidate's place in its round: its sample index (``extra["sample"]``) when it has a free one,
    else its arrival position (or the next free one), so ids and tie-breaks ignore arrival order."""
    sample = (getattr(proposal, "extra", None) or {}).get("sample")
    slot = sample if isinstance(sample, int) and not isinstance(sample, bool) and sample >= 0 else arrival
    while slot in used:
        slot += 1
    used.add(slot)
    return slot


def child_of(cid: str, r: int, proposal: Any, before: dict, parent: Any) -> tuple[Any, Any | None]:
    """A verdict skeleton for one proposal of round ``r`` and its child of ``parent``; the child is
    None (and the verdict says why) if the patch is missing, does not apply or changes nothing."""
    from patchworld.gate import Verdict
    from patchworld.patches import PatchError, apply_patch
    from patchworld.program import Program

    patch = proposal.patch
    v = Verdict(cid, r, parent.hash, None, patch.id if patch else None, "", before, None, [], [], False, "",
                int(proposal.prompt_tokens or 0), int(proposal.completion_tokens or 0),
                origin=(patch.origin if patch and patch.origin else proposal.kind), note=patch.note if patch else "")
    if patch is None:
        v.reason = f"no patch ({proposal.kind}): {proposal.error or 'the reply held no usable edit'}"
        return v, None
    try:
        applied = apply_patch(parent.source, patch)
    except PatchError as exc:
        v.reason = f"patch does not apply: {exc}"
        return v, None
    v.apply_tier = applied.tier
    if applied.source == parent.source:
        v.reason = "patch changes nothing"
        return v, None
    child = Program(source=applied.source, origin=v.origin or "patch", parent=parent.hash, label=cid)
    v.child = child.hash
    return v, child


def write_candidate(store: Any, parent: Any, proposal: Any, v: Any, child: Any | None, diff: bool = True) -> None:
    """Everything of one candidate that does not depend on its replay (runs in the writer thread
    while the replays run): the child program (fsynced: resume needs it), edits, prompt, reply,
    unified diff and side-by-side HTML; for a proposal without a child, its final verdict.

    ``diff=False`` (the wide search, many candidates a round): no diffs (the accepted child's are
    written after the round, views render the others from the two programs), no edits file
    when there is a child (views read it only when there is none), no empty prompt file, and
    the child program not fsynced (the accepted one is, before its candidate line is written)."""
    from patchworld.patches import side_by_side_html, unified_diff

    files: dict[str, Any] = {"prompt.txt": proposal.prompt or "", "response.txt": proposal.response or ""}
    if not diff and not proposal.prompt:
        del files["prompt.txt"]
    if proposal.patch is not None and (diff or child is None):
        files["edits.json"] = proposal.patch.to_dict()
    if child is None:
        if proposal.prompt or proposal.response or proposal.patch is not None:
            store.save_patch_files(v.patch_id or v.candidate_id, {**files, "verdict.json": v.to_record()})
        return
    store.save_program(child, fsync=diff)
    if diff:   # the wide search renders only the accepted child's (views render others on demand)
        files["diff.patch"] = unified_diff(parent.source, child.source, f"{parent.hash}.py", f"{child.hash}.py")
        files["side_by_side.html"] = side_by_side_html(parent.source, child.source, parent.hash, child.hash)
    store.save_patch_files(v.patch_id or v.candidate_id, files)


def default_run_dir(env: str, root: str | os.PathLike[str] = "runs") -> Path:
    """A fresh run folder name: ``runs/<env>-<UTC timestamp>`` (``-2``, ``-3``... if taken)."""
    base = Path(root) / f"{env}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def replay_candidate(program: Any, val: Any, sandbox: bool, residual: Any, limits: Any, lean: bool = False) -> Any:
    """A candidate's val replay as an executor job (plain arguments, runs on any node's sandbox);
    an internal failure comes back as the exception, rejecting this candidate only. ``lean``: no belief
    summaries or BLEU (the wide search's survivors: the gate needs neither)."""
    from patchworld.replay import replay

    try:
        return replay(program, val, mode="teacher", sandbox=sandbox, residual=residual, limits=limits, lean=lean)
    except Exception as exc:  # noqa: BLE001
        return exc
