"""Where the LLM proposer's settings come from besides its arguments: the environment.

``PATCHWORLD_LLM_MODEL`` / ``_BASE_URL`` / ``_API_KEY`` (or ``OPENAI_*``) name the server;
:data:`ENV_SETTINGS` lets a notebook, or any caller of ``LLMProposer()``, set the limits too.
An explicit argument always wins over the environment.
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["ENV_SETTINGS", "configured", "default_edit_format", "from_environment"]

ENV_SETTINGS: dict[str, tuple[str, type]] = {
    "timeout": ("PATCHWORLD_LLM_TIMEOUT", float), "concurrency": ("PATCHWORLD_LLM_CONCURRENCY", int),
    "max_tokens": ("PATCHWORLD_LLM_MAX_TOKENS", int), "max_retries": ("PATCHWORLD_LLM_RETRIES", int),
    "round_retries": ("PATCHWORLD_LLM_ROUND_RETRIES", int),
    "max_consecutive_malformed": ("PATCHWORLD_LLM_MAX_MALFORMED", int),
    "edit_format": ("PATCHWORLD_LLM_EDIT_FORMAT", str)}
_SMALL_MODEL = re.compile(r"(\b|[-_])(\d{2,3}m|0\.\d+b|1(\.\d)?b|2b|3b|smol|tiny)(\b|[-_.])", re.IGNORECASE)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def configured() -> bool:
    """Whether the environment names a model and a server (base URL or API key)."""
    return bool(_env("PATCHWORLD_LLM_MODEL")) and bool(
        _env("PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL", "PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY")
    )


def default_edit_format(model: str) -> str:
    """``whole`` for small models (they paraphrase SEARCH blocks), ``search_replace`` otherwise."""
    return "whole" if _SMALL_MODEL.search(model or "") else "search_replace"


def from_environment(given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``given`` with each :data:`ENV_SETTINGS` entry left at its default replaced by its variable, if set."""
    out = dict(given)
    for key, (var, cast) in ENV_SETTINGS.items():
        raw = os.environ.get(var)
        if raw and out.get(key) == defaults.get(key):
            try:
                out[key] = cast(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a valid {cast.__name__}") from None
    return out
