"""Results folders: the tidy frame's schema and I/O, and the program sources kept beside it.

The frame (:data:`RESULT_SCHEMA`) has one row per (env, label, variant, round, metric):
``value`` with its paired-bootstrap 95 % interval ``lo``/``hi`` (null where none applies),
``n`` units measured, ``round`` the run round of an accepted program (null for a plain file).
:func:`save_results` / :func:`load_results` write and read it (parquet + CSV + metadata);
:func:`wide` pivots it; :func:`macro_average` averages over envs without intervals (the
evaluation computes macro intervals itself).

Program sources: a results folder (``patchworld evaluate --out``) names each evaluated program by its content
hash (the frame's ``program`` column, :attr:`patchworld.program.Program.hash`).
:func:`write_programs` stores every evaluated source next to the frame, so the folder stays
readable after the run folders and program files it came from are gone;
:func:`program_source` finds a source again by hash. Both are re-exported by
:mod:`patchworld.evaluate`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["program_source", "write_programs", "check_hash", "PROGRAMS_DIR", "NO_SOURCE", "RESULT_SCHEMA",
           "save_results", "load_results", "wide", "macro_average"]

RESULT_SCHEMA = {"env": pl.String, "label": pl.String, "variant": pl.String, "round": pl.Int64, "program": pl.String,
                 "rq": pl.String, "metric": pl.String, "value": pl.Float64, "lo": pl.Float64, "hi": pl.Float64,
                 "n": pl.Int64, "note": pl.String}
"""Columns of the tidy results frame (see the module docstring)."""
_KEY = ["env", "label", "variant", "round"]

PROGRAMS_DIR = "programs"
"""Sub-folder of a results folder holding ``<hash>.py``."""

NO_SOURCE = frozenset({"oracle", "react"})
"""Values of the ``program`` column that name no program source (the perfect world model, the ReAct agent)."""

_HASH = re.compile(r"[0-9a-f]{12}")


def _content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def check_hash(program_hash: object) -> str:
    """``program_hash`` if it is a program hash (12 lower-case hex characters), else ``ValueError``."""
    if not isinstance(program_hash, str) or not _HASH.fullmatch(program_hash):
        raise ValueError(f"not a program hash: {program_hash!r} (expected 12 lower-case hex characters, "
                         "as in the results frame's `program` column)")
    return program_hash


def write_programs(out_dir: str | os.PathLike[str], sources: Mapping[str, str]) -> list[Path]:
    """Write each ``{hash: source}`` to ``<out_dir>/programs/<hash>.py`` (UTF-8, text unchanged);
    returns the paths. A key that is not the source's content hash is a ``ValueError``."""
    folder = Path(out_dir) / PROGRAMS_DIR
    paths = []
    for program_hash, source in sorted(sources.items()):
        if check_hash(program_hash) != _content_hash(source):
            raise ValueError(f"write_programs: source given for {program_hash} has hash {_content_hash(source)}")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{program_hash}.py"
        data = source.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)  # bytes: no newline translation, the file is exactly the source
        paths.append(path)
    return paths


def _read_matching(path: Path, program_hash: str) -> str | None:
    """The text of ``path`` if its content hash is ``program_hash``: as stored, or as
    :meth:`Program.from_file <patchworld.program.Program.from_file>` reads it (universal newlines)."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for text in (raw, raw.replace("\r\n", "\n").replace("\r", "\n")):
        if _content_hash(text) == program_hash:
            return text
    return None


def program_source(results_dir: str | os.PathLike[str], program_hash: str,
                   search: Iterable[str | os.PathLike[str]] = ()) -> str | None:
    """The source of the program with content hash ``program_hash``, or ``None`` if not found.

    Looks in ``<results_dir>/programs/<hash>.py`` first, then in the extra ``search`` folders
    (e.g. ``data/programs``, ``runs``): files named ``<hash>.py`` anywhere under them (a run
    folder's ``programs/``), then every other ``*.py`` under them. A file counts only if its
    content hash is ``program_hash``, so a renamed or edited file is never shown for the wrong
    program. ``"oracle"`` (the perfect world model's entry) has no source: ``None``. Any other
    ``program_hash`` that is not 12 hex characters (``"../x"``, a path) raises ``ValueError``.
    """
    if program_hash in NO_SOURCE:
        return None
    check_hash(program_hash)
    name = f"{program_hash}.py"
    found = _read_matching(Path(results_dir) / PROGRAMS_DIR / name, program_hash)
    if found is not None:
        return found
    folders = [Path(f) for f in search if Path(f).is_dir()]
    seen: set[Path] = set()
    for pattern in (name, "*.py"):  # by name first (cheap), then by content
        for folder in folders:
            for path in sorted(folder.rglob(pattern)):
                if path in seen or not path.is_file():
                    continue
                seen.add(path)
                found = _read_matching(path, program_hash)
                if found is not None:
                    return found
    return None


def wide(results: pl.DataFrame) -> pl.DataFrame:
    """One row per (env, label, variant, round), one column per metric (metric names are unique across rqs)."""
    return results.pivot(on="metric", index=_KEY, values="value", aggregate_function="first").sort(
        "env", "variant", "label", "round", nulls_last=True)


def macro_average(results: pl.DataFrame) -> pl.DataFrame:
    """The tidy rows averaged over envs (env = ``"macro"``), for (label, variant, round) present in every env.

    Without intervals (``lo``/``hi`` null): :func:`patchworld.evaluate.evaluate` adds macro rows with them."""
    frame = results.filter(pl.col("env") != "macro")
    n_env = frame["env"].n_unique()
    grouped = frame.group_by("label", "variant", "round", "rq", "metric").agg(
        pl.col("value").mean(), pl.col("n").sum(), pl.col("env").n_unique().alias("_envs"),
        pl.col("program").first(), pl.col("note").first())
    return (grouped.filter(pl.col("_envs") == n_env).drop("_envs")
            .with_columns(pl.lit("macro").alias("env"), pl.lit(None, pl.Float64).alias("lo"),
                          pl.lit(None, pl.Float64).alias("hi")).select(list(RESULT_SCHEMA)))


def save_results(results: pl.DataFrame, out_dir: str | Path, metadata: dict[str, Any] | None = None,
                 name: str = "results", sources: dict[str, str] | None = None) -> Path:
    """Write ``<name>.parquet`` (metadata under key ``patchworld``), ``<name>.csv``, ``<name>.meta.json`` and
    the sources of the frame's programs (``sources``: ``{hash: source}``) to ``out_dir``; returns the parquet path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    used = set(results["program"].to_list())
    kept = {h: src for h, src in (sources or {}).items() if h in used}
    meta = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(), "polars": pl.__version__, **(metadata or {})}
    if kept:
        meta["program_files"] = [f"programs/{h}.py" for h in sorted(kept)]
    text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    write_programs(out, kept)
    path = out / f"{name}.parquet"
    results.write_parquet(path, metadata={"patchworld": text})
    results.write_csv(out / f"{name}.csv")
    (out / f"{name}.meta.json").write_text(text + "\n", encoding="utf-8")
    return path


def _brief(exc: BaseException) -> str:
    """``exc``'s message on one line, at most 160 characters (polars' messages run over several)."""
    return " ".join(str(exc).split())[:160]


def load_results(path: str | Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a results parquet (a file, or a folder holding ``results.parquet``) and its metadata.

    A frame written before ``round``/``lo``/``hi`` existed gets them as nulls."""
    p = Path(path)
    if p.is_dir() or (not p.exists() and p.suffix != ".parquet"):  # a results folder, made or not yet made
        p = p / "results.parquet"
    if not p.exists():
        raise FileNotFoundError(f"{p}: no results file (run `patchworld evaluate --out {p.parent}` first)")
    try:
        frame = pl.read_parquet(p)
        meta = json.loads(pl.read_parquet_metadata(p).get("patchworld", "{}"))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:   # truncated, not parquet, bad metadata
        raise ValueError(f"{p}: not a readable results file ({_brief(exc)})") from None
    for column in ("round", "lo", "hi"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, RESULT_SCHEMA[column]).alias(column))
    missing = [c for c in RESULT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"{p}: not a results frame, missing columns {missing}")
    try:
        return frame.select(list(RESULT_SCHEMA)).cast(RESULT_SCHEMA), meta
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"{p}: a results column has the wrong type ({_brief(exc)})") from None
