"""What a run header records: data hashes and counts, versions, proposer settings (and rebuilding
the proposer from them on resume). Split from :mod:`patchworld.store`, which re-exports these names."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import polars as pl

__all__ = ["trajectories_sha256", "file_sha256", "versions", "data_summary", "proposer_settings",
           "proposer_from_header"]


def trajectories_sha256(trajectories: Sequence[Any]) -> str:
    """sha256 of the trajectories' canonical JSON lines (same data, same hash, whatever the file)."""
    import hashlib

    digest = hashlib.sha256()
    for traj in trajectories:
        digest.update(json.dumps(traj.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """Versions of python, patchworld and polars (recorded in every run header)."""
    import platform
    from importlib import metadata

    try:
        own = metadata.version("patchworld")
    except metadata.PackageNotFoundError:
        own = "unknown"
    return {"python": platform.python_version(), "patchworld": own, "polars": pl.__version__}


def data_summary(trajectories: Sequence[Any], files: Sequence[str | os.PathLike[str]] = ()) -> dict[str, Any]:
    """What the header records about one split: counts, the data hash, and source file hashes if known."""
    return {
        "n_trajectories": len(trajectories),
        "n_transitions": sum(len(t.transitions) for t in trajectories),
        "splits": sorted({t.split for t in trajectories}),
        "sha256": trajectories_sha256(trajectories),
        "files": {str(f): file_sha256(f) for f in files},
    }


def proposer_settings(proposer: Any) -> dict[str, Any]:
    """A proposer's name, class and simple settings (secrets left out) for the run header."""
    if proposer is None:
        return {"name": None}
    settings = {k.lstrip("_"): v for k, v in vars(proposer).items()
                if isinstance(v, (str, int, float, bool, type(None)))
                and not any(s in k.lower() for s in ("key", "secret", "password"))}
    cls = type(proposer)
    return {"name": getattr(proposer, "name", cls.__name__), "class": f"{cls.__module__}.{cls.__qualname__}",
            "settings": settings}


def proposer_from_header(info: dict[str, Any], seed: int) -> Any:
    """Rebuild the run's proposer from its header settings (for resume without ``proposer=``)."""
    name = (info or {}).get("name")
    settings = (info or {}).get("settings", {})
    if name == "mutation":
        from patchworld.proposers.mutation import MutationProposer

        return MutationProposer(seed=int(settings.get("seed", seed)))
    if name == "llm":
        from patchworld.proposers.llm import LLMProposer

        return LLMProposer.from_settings(settings)   # every saved limit (timeout, retries, budgets ...)
    raise ValueError(f"cannot rebuild proposer {name!r} from the run header: pass proposer= to Session.resume")
