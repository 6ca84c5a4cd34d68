"""A synthesis run on disk: header, append-only candidate log, program files, patch folders.

Layout of a run folder::

    header.json            env, data hashes, seeds, proposer settings, variant, versions
    candidates.jsonl       one summary line per candidate (appended, flushed, fsynced)
    rounds.jsonl           one line per finished round (round 0 = the starting program)
    programs/<hash>.py     every program evaluated (+ <hash>.json: origin, parent, label)
    patches/<id>/          edits.json, diff.patch, side_by_side.html, prompt.txt, response.txt,
                           replay_summary.json
    data/{train,val}.jsonl copies of the trajectories the run was started with (for resume)

Whole files are written atomically (temp file + ``os.replace``); log lines are appended
with one ``write`` per round and fsynced, so a run killed with SIGKILL loses no accepted
round. A torn last line (a kill mid-write) is skipped with a warning when loading.
Programs and logs are fsynced (resume needs them after a power cut too); the files of a
patch folder are records for reading, written atomically but without an fsync each, which
keeps a round's tail short (a SIGKILL never loses them; only a power cut could).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["RunStore", "Run", "load_run", "atomic_write_text", "read_jsonl", "RunStoreError", "candidates_frame",
           "rounds_frame", "data_summary", "trajectories_sha256", "versions", "proposer_settings",
           "proposer_from_header"]


class RunStoreError(ValueError):
    """A run folder is missing or malformed; the message names the file (and line)."""


def atomic_write_text(path: str | os.PathLike[str], text: str, fsync: bool = True) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder, fsync (unless ``fsync=False``),
    then ``os.replace``: readers and a SIGKILL see the old file or the new one, never half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _append_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append JSON lines with a single write, then fsync. Repairs a torn previous last line first."""
    payload = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    if not payload:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size > 0 and os.pread(fd, 1, size - 1) != b"\n":
            payload = "\n" + payload  # a kill tore the last line: start ours on a fresh line
        os.write(fd, payload.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSON Lines log. A torn LAST line is skipped with a warning; any other bad line is an error."""
    p = Path(path)
    if not p.exists():
        return []
    lines = p.read_text(encoding="utf-8").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    out: list[dict[str, Any]] = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            if i == len(lines):
                warnings.warn(f"{p}:{i}: ignoring a torn last line ({exc})", stacklevel=2)
                break
            # a torn line in the middle is only possible if a line was glued after a tear: skip it too
            warnings.warn(f"{p}:{i}: ignoring a corrupt line ({exc})", stacklevel=2)
            continue
        out.append(record)
    return out


class RunStore:
    """Reads and writes one run folder. Create with :meth:`create`, reopen with the constructor."""

    def __init__(self, run_dir: str | os.PathLike[str]):
        self.path = Path(run_dir)
        if not (self.path / "header.json").exists():
            raise RunStoreError(f"{self.path}: not a run folder (no header.json)")

    @classmethod
    def create(cls, run_dir: str | os.PathLike[str], header: dict[str, Any]) -> RunStore:
        """Start a new run folder; refuses a folder that already holds a run."""
        path = Path(run_dir)
        if (path / "header.json").exists():
            raise FileExistsError(f"{path} already holds a run (header.json); resume it or pick another folder")
        for sub in ("programs", "patches", "data"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_text(path / "header.json", json.dumps(header, indent=2, sort_keys=True, default=str))
        return cls(path)

    # -- header -------------------------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        path = self.path / "header.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RunStoreError(f"{path}: invalid JSON: {exc}") from None

    def update_header(self, **fields: Any) -> None:
        header = self.header
        header.update(fields)
        atomic_write_text(self.path / "header.json", json.dumps(header, indent=2, sort_keys=True, default=str))

    # -- programs -----------------------------------------------------------------------------------
    def save_program(self, program: Any) -> Path:
        """Write ``programs/<hash>.py`` (and its provenance ``<hash>.json``) unless already there."""
        target = self.path / "programs" / f"{program.hash}.py"
        if not target.exists():
            meta = {"hash": program.hash, "origin": program.origin, "parent": program.parent, "label": program.label}
            atomic_write_text(target.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True))
            atomic_write_text(target, program.source)
        return target

    def load_program(self, program_hash: str) -> Any:
        from patchworld.program import Program

        target = self.path / "programs" / f"{program_hash}.py"
        if not target.exists():
            raise RunStoreError(f"{target}: program {program_hash} not in this run")
        meta_path = target.with_suffix(".json")
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return Program(source=target.read_text(encoding="utf-8"), origin=meta.get("origin", "source"),
                       parent=meta.get("parent"), label=meta.get("label", ""))

    # -- patches ------------------------------------------------------------------------------------
    def patch_dir(self, patch_id: str) -> Path:
        return self.path / "patches" / patch_id

    def save_patch_files(self, patch_id: str, files: dict[str, Any], fsync: bool = False) -> Path:
        """Write each file of ``patches/<id>/`` atomically (fsynced only if asked: they are records,
        not resume state); dict/list values are written as JSON."""
        folder = self.patch_dir(patch_id)
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2, default=str)
            atomic_write_text(folder / name, text, fsync=fsync)
        return folder

    # -- logs ---------------------------------------------------------------------------------------
    def append_candidates(self, records: Sequence[dict[str, Any]]) -> None:
        """Append one round's candidate lines in a single write (all or nothing under SIGKILL)."""
        _append_lines(self.path / "candidates.jsonl", records)

    def append_round(self, record: dict[str, Any]) -> None:
        _append_lines(self.path / "rounds.jsonl", [record])

    def candidates(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / "candidates.jsonl")

    def rounds(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / "rounds.jsonl")

    # -- data ---------------------------------------------------------------------------------------
    def save_data(self, split: str, trajectories: Sequence[Any]) -> Path:
        from patchworld.data import save_trajectories

        return save_trajectories(trajectories, self.path / "data" / f"{split}.jsonl")

    def load_data(self, split: str) -> list[Any]:
        from patchworld.data import load_trajectories

        return load_trajectories(self.path / "data" / f"{split}.jsonl")

    # -- state for resume ---------------------------------------------------------------------------
    def last_accepted(self) -> str | None:
        """Hash of the newest accepted program whose file is on disk (None: still the initial program)."""
        for record in reversed(self.candidates()):
            child = record.get("child")
            if record.get("accepted") and child and (self.path / "programs" / f"{child}.py").exists():
                return child
        return None

    def last_round(self) -> int:
        """The highest round number seen in either log (0 before the first round)."""
        rounds = [int(r.get("round", 0)) for r in self.candidates()] + [int(r.get("round", 0)) for r in self.rounds()]
        return max(rounds, default=0)


def _f1(score: Any) -> float | None:
    if isinstance(score, dict):
        return float(score.get("token_f1", 0.0))
    return None if score is None else float(score)


_CANDIDATE_SCHEMA = {
    "round": pl.Int64, "candidate_id": pl.Utf8, "parent": pl.Utf8, "child": pl.Utf8, "patch_id": pl.Utf8,
    "apply_tier": pl.Utf8, "origin": pl.Utf8, "score_before": pl.Float64, "score_after": pl.Float64,
    "fixed": pl.List(pl.Utf8), "broken": pl.List(pl.Utf8), "n_fixed": pl.Int64, "n_broken": pl.Int64,
    "accepted": pl.Boolean, "reason": pl.Utf8, "prompt_tokens": pl.Int64, "completion_tokens": pl.Int64,
}
_ROUND_SCHEMA = {"round": pl.Int64, "candidates": pl.Int64, "accepted": pl.Boolean, "val_token_f1": pl.Float64,
                 "fixed": pl.Int64, "broken": pl.Int64, "program": pl.Utf8}


def candidates_frame(records: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per candidate (scores flattened to val token F1), per the contract's columns."""
    rows = []
    for r in records:
        fixed, broken = list(r.get("fixed") or []), list(r.get("broken") or [])
        rows.append({
            "round": int(r.get("round", 0)), "candidate_id": r.get("candidate_id"), "parent": r.get("parent"),
            "child": r.get("child"), "patch_id": r.get("patch_id"), "apply_tier": r.get("apply_tier", ""),
            "origin": r.get("origin", ""), "score_before": _f1(r.get("score_before")),
            "score_after": _f1(r.get("score_after")), "fixed": fixed, "broken": broken,
            "n_fixed": len(fixed), "n_broken": len(broken), "accepted": bool(r.get("accepted")),
            "reason": r.get("reason", ""), "prompt_tokens": int(r.get("prompt_tokens") or 0),
            "completion_tokens": int(r.get("completion_tokens") or 0),
        })
    return pl.DataFrame(rows, schema=_CANDIDATE_SCHEMA)


def rounds_frame(candidates: Sequence[dict[str, Any]], rounds: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per round: candidate count, whether one was accepted, val token F1 after the round.

    Built from the candidate log (authoritative for accepted rounds) plus the round log for
    round 0 (the starting program) and rounds whose proposer returned nothing.
    """
    by_round: dict[int, dict[str, Any]] = {}
    for r in rounds:
        n = int(r.get("round", 0))
        by_round[n] = {"round": n, "candidates": int(r.get("candidates", 0)), "accepted": bool(r.get("accepted")),
                       "val_token_f1": _f1(r.get("val_token_f1")), "fixed": int(r.get("fixed", 0)),
                       "broken": int(r.get("broken", 0)), "program": r.get("program")}
    grouped: dict[int, list[dict[str, Any]]] = {}
    for r in candidates:
        grouped.setdefault(int(r.get("round", 0)), []).append(r)
    for n, items in grouped.items():
        winner = next((r for r in items if r.get("accepted")), None)
        f1 = _f1(winner.get("score_after")) if winner else _f1(items[0].get("score_before"))
        program = winner.get("child") if winner else items[0].get("parent")
        by_round[n] = {"round": n, "candidates": len(items), "accepted": winner is not None, "val_token_f1": f1,
                       "fixed": len(winner.get("fixed") or []) if winner else 0,
                       "broken": len(winner.get("broken") or []) if winner else 0, "program": program}
    return pl.DataFrame([by_round[k] for k in sorted(by_round)], schema=_ROUND_SCHEMA)


@dataclass
class Run:
    """A loaded run folder: header, candidate and round frames, access to programs and patches."""

    path: Path
    header: dict[str, Any]
    candidates: pl.DataFrame
    rounds: pl.DataFrame
    records: list[dict[str, Any]] = field(default_factory=list)   # raw candidate lines (full score dicts)

    def program(self, program_hash: str) -> Any:
        return RunStore(self.path).load_program(program_hash)

    def patch_dir(self, patch_id: str) -> Path:
        return self.path / "patches" / patch_id

    @property
    def current(self) -> str:
        """Hash of the last accepted program (the initial one if none was accepted)."""
        accepted = [r["child"] for r in self.records if r.get("accepted") and r.get("child")]
        return accepted[-1] if accepted else self.header.get("initial_program", "")


def load_run(run_dir: str | os.PathLike[str]) -> Run:
    """Load a run folder written by :class:`RunStore` (tolerates a torn last log line)."""
    store = RunStore(run_dir)
    records = store.candidates()
    return Run(path=store.path, header=store.header, candidates=candidates_frame(records),
               rounds=rounds_frame(records, store.rounds()), records=records)


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

        names = ("model", "base_url", "cache_dir", "temperature", "max_tokens", "n_examples", "concurrency")
        keep = {k: settings[k] for k in names if settings.get(k) is not None}
        return LLMProposer(**keep)
    raise ValueError(f"cannot rebuild proposer {name!r} from the run header: pass proposer= to Session.resume")
