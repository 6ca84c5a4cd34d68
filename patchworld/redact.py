"""Keeping secrets out of everything the workbench writes or sends.

A secret is any configured credential: the value of an environment variable whose name says it
holds one (``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*PASSWORD*``, ``OPENAI_API_KEY`` ...) and
any value passed to :func:`register_secret` (e.g. an ``api_key=`` argument). :func:`redact`
replaces every occurrence of a secret, and anything shaped like a common API key (``sk-...``),
with ``[REDACTED]``. Every text that leaves the trusted process for a file, a prompt or a log
goes through it: run folders, replay summaries, LLM prompts and the LLM cache.
"""

from __future__ import annotations

import os
import re
import threading

__all__ = ["redact", "register_secret", "secrets", "REDACTED", "is_secret_name", "refuse_secrets"]

REDACTED = "[REDACTED]"
_NAME_RE = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY)", re.IGNORECASE)
_SHAPE_RE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|gh[pousr]_[A-Za-z0-9]{20,})")
_MIN_LENGTH = 6
"""Shorter values (``1``, ``true``, ``dummy``) are not treated as secrets: redacting them would mangle text."""
_extra: set[str] = set()
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential."""
    return bool(_NAME_RE.search(name))


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (e.g. an API key passed as an argument)."""
    if value and len(value) >= _MIN_LENGTH:
        with _lock:
            _extra.add(value)


def secrets() -> list[str]:
    """Every secret currently known, longest first (so a key containing another is replaced whole)."""
    found = {v for k, v in os.environ.items() if is_secret_name(k) and v and len(v) >= _MIN_LENGTH}
    with _lock:
        found |= _extra
    return sorted(found, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every known secret and key-shaped string replaced by ``[REDACTED]``."""
    if not text:
        return text
    for value in secrets():
        if value in text:
            text = text.replace(value, REDACTED)
    return _SHAPE_RE.sub(REDACTED, text)


def refuse_secrets(text: str, what: str) -> None:
    """Raise ``ValueError`` (one line, naming ``what``) when ``text`` holds a configured secret or a
    key-shaped string: such a text (e.g. a program) is kept verbatim, so it must not enter a run folder."""
    if text and redact(text) != text:
        raise ValueError(f"{what} contains a configured secret or an API key; remove it (a run folder keeps programs "
                         "verbatim, and secrets never go into one)")
