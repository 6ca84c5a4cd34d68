"""One cached chat call for the baselines, through the workbench's LLM client and reply cache.

Configuration is the proposer's (``PATCHWORLD_LLM_MODEL``, ``PATCHWORLD_LLM_BASE_URL`` or
``OPENAI_BASE_URL``, ``PATCHWORLD_LLM_API_KEY`` or ``OPENAI_API_KEY``) or arguments. Every reply
is cached under a hash of the whole request plus a sample index, so a rerun of a baseline makes
zero HTTP calls; empty replies are not cached (the cache refuses them). Prompts pass through
:func:`patchworld.redact.redact` before they are sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchworld.proposers.llm_cache import LLMCache, default_cache_dir, request_key
from patchworld.proposers.llm_client import ChatClient, LLMError
from patchworld.redact import redact

__all__ = ["CachedChat", "LLMError", "llm_from_env"]


def _env(*names: str) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


@dataclass
class CachedChat:
    """``ask(system, user)`` -> reply text, cached; counts calls, cache hits and tokens."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    cache_dir: str | os.PathLike[str] | None = None
    timeout: float = 900.0
    max_tokens: int = 2048
    temperature: float = 0.0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _client: Any = field(default=None, repr=False)
    _cache: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._client = ChatClient(self.model, base_url=self.base_url, api_key=self.api_key, timeout=self.timeout)
        self._cache = LLMCache(Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir())

    @property
    def cache_hits(self) -> int:
        return self._cache.hits

    def ask(self, system: str, user: str, sample: int = 0, max_tokens: int | None = None) -> str:
        """The reply's text for this prompt (from the cache when this exact request was made before)."""
        messages = [{"role": "system", "content": redact(system)}, {"role": "user", "content": redact(user)}]
        body = self._client.body(messages, max_tokens or self.max_tokens, self.temperature)
        key = request_key({"kind": "baseline", **body}, sample)
        cached = self._cache.get(key)
        if cached is not None:
            return cached["content"]
        reply = self._client.complete(body)
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens or 0
        self.completion_tokens += reply.completion_tokens or 0
        self._cache.put(key, {"content": reply.content, "prompt_tokens": reply.prompt_tokens,
                              "completion_tokens": reply.completion_tokens})
        return reply.content

    def summary(self) -> str:
        """``calls N, cache hits H, tokens P+C``: what a command prints at its end."""
        return (f"LLM calls {self.calls}, cache hits {self.cache_hits}, "
                f"tokens {self.prompt_tokens} prompt + {self.completion_tokens} completion")


def llm_from_env(cache_dir: str | os.PathLike[str] | None = None, **options: Any) -> CachedChat:
    """A :class:`CachedChat` from the environment; :class:`LLMError` when no model is configured."""
    model = _env("PATCHWORLD_LLM_MODEL")
    if not model:
        raise LLMError("no LLM configured: set PATCHWORLD_LLM_MODEL and PATCHWORLD_LLM_BASE_URL "
                       "(see the README's 'Using an LLM')")
    return CachedChat(model, base_url=_env("PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL"),
                      api_key=_env("PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY"), cache_dir=cache_dir, **options)
