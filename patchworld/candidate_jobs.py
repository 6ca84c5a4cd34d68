"""Module-level pieces of a synthesis round that need no session: a candidate's place in its round,
the candidate replay an executor runs (plain arguments, so any node can run it), and a fresh run
folder name. Kept out of :mod:`patchworld.synthesis` so that module stays the session itself."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

__all__ = ["slot_of", "default_run_dir", "replay_candidate"]


def slot_of(proposal: Any, arrival: int, used: set[int]) -> int:
    """A candidate's place in its round: its sample index (``extra["sample"]``) when it has a free one,
    else its arrival position (or the next free one), so ids and tie-breaks ignore arrival order."""
    sample = (getattr(proposal, "extra", None) or {}).get("sample")
    slot = sample if isinstance(sample, int) and not isinstance(sample, bool) and sample >= 0 else arrival
    while slot in used:
        slot += 1
    used.add(slot)
    return slot


def default_run_dir(env: str, root: str | os.PathLike[str] = "runs") -> Path:
    """A fresh run folder name: ``runs/<env>-<UTC timestamp>`` (``-2``, ``-3``... if taken)."""
    base = Path(root) / f"{env}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def replay_candidate(program: Any, val: Any, sandbox: bool, residual: Any, limits: Any) -> Any:
    """A candidate's val replay as an executor job (plain arguments, runs on any node's sandbox);
    an internal failure comes back as the exception, rejecting this candidate only."""
    from patchworld.replay import replay

    try:
        return replay(program, val, mode="teacher", sandbox=sandbox, residual=residual, limits=limits)
    except Exception as exc:  # noqa: BLE001
        return exc
