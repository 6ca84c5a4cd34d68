"""Program sources of a results folder: ``<out>/programs/<hash>.py`` and the look-up by hash.

A results folder (``patchworld evaluate --out``) names each evaluated program by its content
hash (the frame's ``program`` column, :attr:`patchworld.program.Program.hash`).
:func:`write_programs` stores every evaluated source next to the frame, so the folder stays
readable after the run folders and program files it came from are gone;
:func:`program_source` finds a source again by hash. Both are re-exported by
:mod:`patchworld.evaluate`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["program_source", "write_programs", "check_hash", "PROGRAMS_DIR", "NO_SOURCE"]

PROGRAMS_DIR = "programs"
"""Sub-folder of a results folder holding ``<hash>.py``."""

NO_SOURCE = frozenset({"oracle"})
"""Values of the ``program`` column that name no program source (the perfect world model)."""

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
