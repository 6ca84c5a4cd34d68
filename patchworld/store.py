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
round. A torn last line (a kill mid-write) is skipped with a warning when loading. A short
write is continued until every byte is out; a disk error (full disk, quota, I/O) truncates the
log back to its last whole line and raises :class:`RunDiskError`, a one-line message, so
nothing already written is lost and the run resumes once there is space.

One writer per folder: the first write (or ``RunStore(dir, write=True)``) takes the folder's
lock (:mod:`patchworld.runlock`); a second writer gets :class:`~patchworld.runlock.RunLockedError`.
A new folder is made under that lock with ``header.json`` written last, so a folder without a
header (or with a header but no data, from older versions) is a half-made run: :meth:`RunStore.create`
restarts it with a warning and resuming it says so.
Programs and logs are fsynced (resume needs them after a power cut too); the files of a
patch folder are records for reading, written atomically but without an fsync each, which
keeps a round's tail short (a SIGKILL never loses them; only a power cut could).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from patchworld.run_header import (
    data_summary,
    file_sha256,
    proposer_from_header,
    proposer_settings,
    trajectories_sha256,
    versions,
)
from patchworld.runio import RunDiskError, append_lines, atomic_write_text, disk_error, read_jsonl, write_all
from patchworld.runlock import RunLock, RunLockedError

__all__ = ["RunStore", "Run", "load_run", "atomic_write_text", "read_jsonl", "RunStoreError", "RunDiskError",
           "RunLockedError", "candidates_frame",
           "rounds_frame", "data_summary", "trajectories_sha256", "versions", "proposer_settings",
           "proposer_from_header", "file_sha256", "write_all"]


class RunStoreError(ValueError):
    """A run folder is missing or malformed; the message names the file (and line)."""


class RunStore:
    """Reads and writes one run folder. Create with :meth:`create`, reopen with the constructor
    (``write=True`` takes the writer lock at once; otherwise the first write takes it)."""

    def __init__(self, run_dir: str | os.PathLike[str], write: bool = False, what: str = ""):
        self.path = Path(run_dir)
        self._lock = RunLock(self.path, what)
        if not (self.path / "header.json").exists():
            hint = " (a half-made run: start it again with the same settings to restart it)" \
                if any((self.path / d).is_dir() for d in ("data", "programs")) else ""
            raise RunStoreError(f"{self.path}: not a run folder (no header.json){hint}")
        if write:
            missing = self.missing()
            if missing:
                raise RunStoreError(f"{self.path}: a half-made run folder (no {missing[0]}; it was stopped while "
                                    "being created): start it again without resuming to restart it")
            self._writable()

    def missing(self) -> list[str]:
        """What a resumable run needs but this folder lacks (empty for a complete run)."""
        need = ["data/train.jsonl", "data/val.jsonl"]
        try:
            initial = self.header.get("initial_program")
        except RunStoreError:
            return ["a readable header.json"]
        if initial:
            need.append(f"programs/{initial}.py")
        return [n for n in need if not (self.path / n).exists()]

    def _writable(self) -> None:
        """Take the folder's writer lock unless this store already holds it."""
        if not self._lock.held:
            self._lock.acquire()

    def close(self) -> None:
        """Give the writer lock back (also happens when the store is garbage collected or the process ends)."""
        self._lock.release()

    @property
    def locked(self) -> bool:
        """Whether this store holds the folder's writer lock."""
        return self._lock.held

    @classmethod
    def create(cls, run_dir: str | os.PathLike[str], header: dict[str, Any], data: dict[str, Sequence[Any]] | None = None,
               programs: Sequence[Any] = (), what: str = "") -> RunStore:
        """Start a new run folder under its writer lock: trajectories (``data``: split -> trajectories) and
        ``programs`` first, ``header.json`` last, so a kill leaves a folder without a header that the next
        ``create`` restarts. Refuses a folder that already holds a complete run (or one being written)."""
        path = Path(run_dir)
        half = cls.__new__(cls)
        half.path = path

        def complete() -> bool:
            return (path / "header.json").exists() and (not half.missing() or (path / "candidates.jsonl").exists())

        if complete():
            raise FileExistsError(f"{path} already holds a run (header.json); resume it or pick another folder")
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"{path} is a file, not a folder: pick a folder for the run")
        path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path, what).acquire()
        try:
            if (path / "header.json").exists():
                if not complete():
                    warnings.warn(f"{path}: restarting a half-made run folder (no {half.missing()[0]})", stacklevel=2)
                    (path / "header.json").unlink()
                else:
                    raise FileExistsError(f"{path} already holds a run (header.json); resume it or pick another folder")
            leftovers = [d for d in ("programs", "patches", "data") if (path / d).is_dir() and any((path / d).iterdir())]
            if leftovers:
                warnings.warn(f"{path}: restarting a half-made run folder (files in {', '.join(d + '/' for d in leftovers)} but no "
                              "header.json)", stacklevel=2)
                for d in leftovers:
                    shutil.rmtree(path / d)
            for name in ("candidates.jsonl", "rounds.jsonl"):
                (path / name).unlink(missing_ok=True)
            for sub in ("programs", "patches", "data"):
                (path / sub).mkdir(exist_ok=True)
            self = cls.__new__(cls)
            self.path, self._lock = path, lock
            for split, trajectories in (data or {}).items():
                self.save_data(split, trajectories)
            for program in programs:
                self.save_program(program)
            atomic_write_text(path / "header.json", json.dumps(header, indent=2, sort_keys=True, default=str))
        except BaseException:
            lock.release()
            raise
        return self

    # -- header -------------------------------------------------------------------------------------
    @property
    def header(self) -> dict[str, Any]:
        path = self.path / "header.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RunStoreError(f"{path}: invalid JSON: {exc}") from None

    def update_header(self, **fields: Any) -> None:
        self._writable()
        header = self.header
        header.update(fields)
        atomic_write_text(self.path / "header.json", json.dumps(header, indent=2, sort_keys=True, default=str))

    # -- programs -----------------------------------------------------------------------------------
    def save_program(self, program: Any, fsync: bool = True) -> Path:
        """Write ``programs/<hash>.py`` (and its provenance ``<hash>.json``) unless already there
        (``fsync=False``: a candidate no resume depends on; fsync it later if it is accepted)."""
        self._writable()
        target = self.path / "programs" / f"{program.hash}.py"
        if not target.exists():
            meta = {"hash": program.hash, "origin": program.origin, "parent": program.parent, "label": program.label}
            atomic_write_text(target.with_suffix(".json"), json.dumps(meta, indent=2, sort_keys=True), fsync=fsync)
            atomic_write_text(target, program.source, fsync=fsync)
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
        self._writable()
        folder = self.patch_dir(patch_id)
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2, default=str)
            atomic_write_text(folder / name, text, fsync=fsync)
        return folder

    # -- logs ---------------------------------------------------------------------------------------
    def append_candidates(self, records: Sequence[dict[str, Any]]) -> None:
        """Append one round's candidate lines in a single write (all or nothing under SIGKILL)."""
        self._writable()
        append_lines(self.path / "candidates.jsonl", records)

    def append_round(self, record: dict[str, Any]) -> None:
        self._writable()
        append_lines(self.path / "rounds.jsonl", [record])

    def candidates(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / "candidates.jsonl")

    def rounds(self) -> list[dict[str, Any]]:
        return read_jsonl(self.path / "rounds.jsonl")

    # -- data ---------------------------------------------------------------------------------------
    def save_data(self, split: str, trajectories: Sequence[Any]) -> Path:
        from patchworld.data import save_trajectories

        self._writable()
        target = self.path / "data" / f"{split}.jsonl"
        try:
            return save_trajectories(trajectories, target)
        except OSError as exc:
            raise disk_error(target, exc) from None

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
    round_log: list[dict[str, Any]] = field(default_factory=list)  # raw round lines (a beam round's suspicion)

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
    records, round_log = store.candidates(), store.rounds()
    return Run(path=store.path, header=store.header, candidates=candidates_frame(records),
               rounds=rounds_frame(records, round_log), records=records, round_log=round_log)
