"""The chat model the planning agents use (the LLM chooser, ReAct): where it is, and what it cost.

Calls go through the proposer's :class:`~patchworld.proposers.llm_client.ChatClient` (one per
settings and process), so every server quirk and fault is handled the same way, prompts are
redacted, and :func:`llm_usage_lines` can report calls and tokens per command.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["LLMSettings", "llm_usage_lines", "reset_llm_usage"]


@dataclass
class LLMSettings:
    """Where the chat model is: arguments first, then ``PATCHWORLD_LLM_*``, then ``OPENAI_*``."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout: float = 60.0
    max_retries: int = 1
    temperature: float = 0.0

    @classmethod
    def resolve(cls, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                **kw: Any) -> LLMSettings:
        env = os.environ
        return cls(base_url or env.get("PATCHWORLD_LLM_BASE_URL") or env.get("OPENAI_BASE_URL"),
                   api_key or env.get("PATCHWORLD_LLM_API_KEY") or env.get("OPENAI_API_KEY"),
                   model or env.get("PATCHWORLD_LLM_MODEL"), **kw)

    @property
    def configured(self) -> bool:
        """True when a model name and a base URL are known (no LLM is reached otherwise)."""
        return bool(self.model and self.base_url)

    def client(self) -> Any:
        """The shared :class:`~patchworld.proposers.llm_client.ChatClient` for these settings (one per
        process): the proposer's transport, so every server quirk and fault is handled the same way."""
        key = (self.base_url, self.model, self.timeout, self.max_retries)
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                from patchworld.proposers.llm_client import ChatClient

                _CLIENTS[key] = ChatClient(self.model or "", base_url=self.base_url, api_key=self.api_key,
                                           timeout=self.timeout, max_retries=self.max_retries)
            return _CLIENTS[key]

    def complete(self, prompt: str, max_tokens: int = 128, system: str = "") -> str:
        """One chat completion (redacted prompt); raises on any client error or unusable reply."""
        from patchworld.redact import redact

        messages = ([{"role": "system", "content": redact(system)}] if system else []) + [
            {"role": "user", "content": redact(prompt)}]
        client = self.client()
        return client.complete(client.body(messages, max_tokens, self.temperature)).content


_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def reset_llm_usage() -> None:
    """Start counting anew (a command reports only its own calls, even in a long-lived process)."""
    from patchworld.proposers.llm_client import Stats

    with _CLIENTS_LOCK:
        for client in _CLIENTS.values():
            client.stats = Stats()


def llm_usage_lines() -> list[str]:
    """One usage line (calls, tokens, server model) per chat client this process used for planning."""
    return [f"{client.model} at {client.server}: {client.stats.line()}" for client in _CLIENTS.values()
            if client.stats.calls or client.stats.failures]
