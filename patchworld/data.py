"""Trajectory data: transitions, trajectories and the reference JSON Lines format.

A trajectory file holds one trajectory per line::

    {"metadata": {"env", "item_id", "task_idx", "rollout_index", "split", "success",
                  "total_reward"},
     "transitions": [{"observation", "action", "next_observation", "reward", "done"}, ...]}

This is the format of the PatchWorld reference tools, so their files load unchanged.
Malformed input raises :class:`TrajectoryFormatError`, whose message names the file,
the line number and the field at fault.
"""

from __future__ import annotations

import glob as globlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "Transition",
    "Trajectory",
    "TrajectoryFormatError",
    "load_trajectories",
    "save_trajectories",
    "to_frame",
    "split_file_name",
]

METADATA_FIELDS: dict[str, tuple[type, ...]] = {
    "env": (str,),
    "item_id": (str, int),
    "task_idx": (int,),
    "rollout_index": (int,),
    "split": (str,),
    "success": (bool,),
    "total_reward": (int, float),
}
TRANSITION_FIELDS: dict[str, tuple[type, ...]] = {
    "observation": (str,),
    "action": (str,),
    "next_observation": (str,),
    "reward": (int, float),
    "done": (bool,),
}


class TrajectoryFormatError(ValueError):
    """A trajectory file is malformed; the message names file, line and field."""

    def __init__(self, path: str | os.PathLike[str], line: int, field_name: str, problem: str):
        self.path = str(path)
        self.line = line
        self.field = field_name
        self.problem = problem
        super().__init__(f"{self.path}:{line}: field '{field_name}': {problem}")


@dataclass(frozen=True)
class Transition:
    """One step of a trajectory: ``observation --action--> next_observation``."""

    observation: str
    action: str
    next_observation: str
    reward: float
    done: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "observation": self.observation,
            "action": self.action,
            "next_observation": self.next_observation,
            "reward": self.reward,
            "done": self.done,
        }


@dataclass(frozen=True)
class Trajectory:
    """An episode's transitions plus its metadata (env, task, split, outcome).

    ``extra`` keeps any metadata keys beyond the reference's seven, so a round trip
    through :func:`save_trajectories` is lossless.
    """

    env: str
    item_id: str | int
    task_idx: int
    rollout_index: int
    split: str
    success: bool
    total_reward: float
    transitions: tuple[Transition, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        """A stable identifier, unique within a dataset: ``<env>/<task_idx>/<rollout_index>``."""
        return f"{self.env}/{self.task_idx}/{self.rollout_index}"

    def __len__(self) -> int:
        return len(self.transitions)

    def metadata(self) -> dict[str, Any]:
        meta = {
            "env": self.env,
            "item_id": self.item_id,
            "task_idx": self.task_idx,
            "rollout_index": self.rollout_index,
            "split": self.split,
            "success": self.success,
            "total_reward": self.total_reward,
        }
        meta.update(self.extra)
        return meta

    def to_dict(self) -> dict[str, Any]:
        return {"metadata": self.metadata(), "transitions": [t.to_dict() for t in self.transitions]}


def _check_type(path: str, line: int, name: str, value: Any, types: tuple[type, ...]) -> None:
    # bool is a subclass of int: a bool where a number is wanted (or the reverse) is an error.
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        wanted = " or ".join(t.__name__ for t in types)
        raise TrajectoryFormatError(path, line, name, f"expected {wanted}, got {type(value).__name__} {value!r:.60}")


def _parse_line(path: str, line_no: int, text: str) -> Trajectory:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrajectoryFormatError(path, line_no, "<json>", f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise TrajectoryFormatError(path, line_no, "<record>", f"expected an object, got {type(record).__name__}")
    for key in ("metadata", "transitions"):
        if key not in record:
            raise TrajectoryFormatError(path, line_no, key, "missing")
    meta = record["metadata"]
    if not isinstance(meta, dict):
        raise TrajectoryFormatError(path, line_no, "metadata", f"expected an object, got {type(meta).__name__}")
    for name, types in METADATA_FIELDS.items():
        if name not in meta:
            raise TrajectoryFormatError(path, line_no, f"metadata.{name}", "missing")
        _check_type(path, line_no, f"metadata.{name}", meta[name], types)
    raw_transitions = record["transitions"]
    if not isinstance(raw_transitions, list):
        raise TrajectoryFormatError(path, line_no, "transitions", f"expected a list, got {type(raw_transitions).__name__}")
    transitions = []
    for i, raw in enumerate(raw_transitions):
        where = f"transitions[{i}]"
        if not isinstance(raw, dict):
            raise TrajectoryFormatError(path, line_no, where, f"expected an object, got {type(raw).__name__}")
        for name, types in TRANSITION_FIELDS.items():
            if name not in raw:
                raise TrajectoryFormatError(path, line_no, f"{where}.{name}", "missing")
            _check_type(path, line_no, f"{where}.{name}", raw[name], types)
        transitions.append(Transition(**{name: raw[name] for name in TRANSITION_FIELDS}))
    extra = {k: v for k, v in meta.items() if k not in METADATA_FIELDS}
    return Trajectory(
        transitions=tuple(transitions), extra=extra, **{name: meta[name] for name in METADATA_FIELDS}
    )


def _expand(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for item in items:
        text = str(item)
        if any(ch in text for ch in "*?["):
            matches = sorted(globlib.glob(text))
            if not matches:
                raise FileNotFoundError(f"no trajectory files match {text!r}")
            files.extend(Path(m) for m in matches)
        else:
            path = Path(text)
            if not path.exists():
                raise FileNotFoundError(f"trajectory file not found: {text}")
            files.append(path)
    return files


def load_trajectories(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Trajectory]:
    """Load trajectories from a path, a glob pattern, or a list of either.

    Blank lines are skipped. A file with no trajectory at all is an error, as is any
    malformed line: :class:`TrajectoryFormatError` names the file, line and field.
    """
    out: list[Trajectory] = []
    for path in _expand(paths):
        count = 0
        with open(path, encoding="utf-8") as fh:
            for line_no, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                out.append(_parse_line(str(path), line_no, text))
                count += 1
        if count == 0:
            raise TrajectoryFormatError(path, 0, "<file>", "empty file: no trajectories")
    return out


def save_trajectories(trajectories: Sequence[Trajectory], path: str | os.PathLike[str]) -> Path:
    """Write trajectories as JSON Lines, atomically (temp file then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            for traj in trajectories:
                fh.write(json.dumps(traj.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def split_file_name(env: str, split: str) -> str:
    """The reference's file name for one split: ``<env>_traj_<split>.jsonl``."""
    return f"{env}_traj_{split}.jsonl"


def to_frame(trajectories: Sequence[Trajectory]) -> pl.DataFrame:
    """One row per transition, with the trajectory's metadata repeated on each row."""
    rows = [
        {
            "traj_id": traj.id,
            "env": traj.env,
            "item_id": str(traj.item_id),
            "task_idx": traj.task_idx,
            "rollout_index": traj.rollout_index,
            "split": traj.split,
            "success": traj.success,
            "total_reward": float(traj.total_reward),
            "step": step,
            "observation": t.observation,
            "action": t.action,
            "next_observation": t.next_observation,
            "reward": float(t.reward),
            "done": t.done,
        }
        for traj in trajectories
        for step, t in enumerate(traj.transitions)
    ]
    schema = {
        "traj_id": pl.Utf8, "env": pl.Utf8, "item_id": pl.Utf8, "task_idx": pl.Int64,
        "rollout_index": pl.Int64, "split": pl.Utf8, "success": pl.Boolean,
        "total_reward": pl.Float64, "step": pl.Int64, "observation": pl.Utf8, "action": pl.Utf8,
        "next_observation": pl.Utf8, "reward": pl.Float64, "done": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)
