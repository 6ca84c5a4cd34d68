"""On-disk cache of LLM replies, so a rerun replays a run with zero HTTP calls.

The key is a SHA-256 of the full request (model, messages, temperature, max tokens, ...)
plus the sample index: the ``n`` samples of one request are distinct entries, and the same
request asked again returns the same ``n`` replies in the same order. One JSON file per
entry (``<dir>/<key[:2]>/<key>.json``), written atomically, so concurrent workers (processes or
threads) and a killed run never leave a half-written entry.

Only usable answers are stored: a record without text (an empty reply, a server glitch) is
refused, so a rerun asks again instead of replaying the glitch forever. Records are written as
ASCII JSON after :func:`patchworld.redact.redact`, so any text (lone surrogates included) can be
stored and no configured key lands on disk; a failed write removes its temporary file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from patchworld.redact import redact

__all__ = ["LLMCache", "request_key", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$PATCHWORLD_LLM_CACHE_DIR``, else ``~/.cache/patchworld/llm``."""
    env = os.environ.get("PATCHWORLD_LLM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "patchworld" / "llm"


def request_key(request: dict[str, Any], sample: int) -> str:
    """A stable key for one sample of one request (any JSON-serialisable request dict)."""
    payload = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{payload}\n#sample={sample}".encode()).hexdigest()


class LLMCache:
    """Reply records keyed by :func:`request_key`; ``directory=None`` disables caching."""

    def __init__(self, directory: str | os.PathLike[str] | None):
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored record, or None (missing, disabled, or unreadable: a corrupt entry is a miss)."""
        if self.directory is None:
            return None
        path = self._path(key)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.misses += 1
            return None
        if not isinstance(record, dict) or not isinstance(record.get("content"), str) or not record["content"].strip():
            self.misses += 1   # an entry written by an older version for an empty reply: ask again
            return None
        self.hits += 1
        return record

    def put(self, key: str, record: dict[str, Any]) -> bool:
        """Store a record atomically (temp file + rename); False (nothing stored) for a record without text
        or when the disk refuses the write."""
        if self.directory is None:
            return False
        content = record.get("content")
        if not isinstance(content, str) or not content.strip():
            return False
        record = {k: redact(v) if isinstance(v, str) else v for k, v in record.items()}
        path = self._path(key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # unique per writer thread
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(record, ensure_ascii=True, indent=1), encoding="ascii")
            os.replace(tmp, path)
        except (OSError, ValueError):
            tmp.unlink(missing_ok=True)
            return False
        return True
