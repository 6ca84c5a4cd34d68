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
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from patchworld.data_parse import Coercions, FormatProblem, decode_line, parse_record

__all__ = [
    "TrajectoryCoercionWarning",
    "Transition",
    "Trajectory",
    "TrajectoryFormatError",
    "load_trajectories",
    "save_trajectories",
    "to_frame",
    "split_file_name",
]

METADATA_FIELDS: tuple[str, ...] = ("env", "item_id", "task_idx", "rollout_index", "split", "success", "total_reward")
TRANSITION_FIELDS: tuple[str, ...] = ("observation", "action", "next_observation", "reward", "done")
_SPLIT_NAME = re.compile(r"^(?P<env>.+?)_traj_(?P<split>[A-Za-z0-9]+)\.jsonl$")


class TrajectoryCoercionWarning(UserWarning):
    """A trajectory file loaded with values coerced the way the reference's loader coerces them."""


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
    uid: str | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        """A stable identifier, unique within a dataset: ``<env>/<task_idx>/<rollout_index>``.

        Files whose metadata does not tell trajectories apart (e.g. no metadata: every one is
        ``<env>/-1/0``) get ``<env>/-1/0@<file>:<line>`` from the loader instead.
        """
        return self.uid or f"{self.env}/{self.task_idx}/{self.rollout_index}"

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


def _parse_line(path: str, line_no: int, raw: bytes, coercions: Coercions) -> Trajectory:
    name = _SPLIT_NAME.match(os.path.basename(path))
    env_hint, split_hint = (name["env"], name["split"]) if name else ("", "")
    try:
        record = parse_record(decode_line(raw), line_no, env_hint, split_hint, coercions)
    except FormatProblem as exc:
        raise TrajectoryFormatError(path, line_no, exc.field, exc.problem) from None
    transitions = tuple(Transition(**t) for t in record["transitions"])
    return Trajectory(transitions=transitions, extra=record["extra"], **record["metadata"])


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

    Blank lines are skipped. A file with no trajectory at all is an error, as is any line that
    cannot be read: :class:`TrajectoryFormatError` names the file, line and field. Values the
    reference's loader coerces (see :mod:`patchworld.data_parse`) are coerced the same way, with
    one :class:`TrajectoryCoercionWarning` per file saying what and where. Trajectories whose
    ids collide get ids that name their file and line (and a warning).
    """
    out: list[Trajectory] = []
    for path in _expand(paths):
        count = 0
        coercions = Coercions()
        lines: list[int] = []
        with open(path, "rb") as fh:
            for line_no, raw in enumerate(fh, start=1):
                if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]  # a UTF-8 byte order mark, as some editors on Windows write
                if not raw.strip():
                    continue
                out.append(_parse_line(str(path), line_no, raw, coercions))
                lines.append(line_no)
                count += 1
        if count == 0:
            raise TrajectoryFormatError(path, 0, "<file>", "empty file: no trajectories")
        notes = ([f"loaded with coerced values: {coercions.describe()}"] if coercions else []) + \
            _unique_ids(out[len(out) - count:], lines, str(path))
        if notes:
            warnings.warn(f"{path}: {'; '.join(notes)}", TrajectoryCoercionWarning, stacklevel=2)
    return out


def _unique_ids(trajs: list[Trajectory], lines: list[int], path: str) -> list[str]:
    """Give trajectories with colliding ids an id naming file and line; a note saying so, if any."""
    seen: dict[str, int] = {}
    for traj in trajs:
        seen[traj.id] = seen.get(traj.id, 0) + 1
    clashes = {tid for tid, n in seen.items() if n > 1}
    if not clashes:
        return []
    stem = os.path.basename(path)
    for traj, line in zip(trajs, lines, strict=True):
        if traj.id in clashes:
            object.__setattr__(traj, "uid", f"{traj.id}@{stem}:{line}")
    return [f"{sum(seen[t] for t in clashes)} trajectories share ids ({', '.join(sorted(clashes)[:3])}"
            f"{', ...' if len(clashes) > 3 else ''}); they are told apart by file and line"]


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
