"""One chat completion from any OpenAI-compatible server, with every server fault as an outcome.

Used by the LLM proposer (and usable by any other LLM caller). The transport is the ``openai``
client (``max_retries=0``: the retry policy is ours); the body is read raw and decoded by
:mod:`.llm_reply`, so a server's odd answers become :class:`~.llm_reply.BadReply`, not tracebacks.

What the client does about each server behaviour (the README's table lists the tests):

* one sample per call, never ``n`` (llama.cpp silently returns one choice for ``n`` > 1);
  no ``seed`` (not honoured above temperature 0: reproducibility comes from the cache);
  ``max_tokens``, not ``max_completion_tokens`` (ignored by llama.cpp);
* streaming by default: the whole request (first token included) has ``timeout`` seconds; on
  expiry the connection is closed, which makes llama.cpp and vLLM stop generating, so a retry
  never queues behind its own orphan on a one-slot server;
* 408/409/425/429/5xx, timeouts, dropped connections and bad 200 bodies (not JSON, no choices,
  empty, content of the wrong type) are retried with exponential backoff (``Retry-After``
  honoured, capped at ``max_backoff``), at most ``max_retries`` times per request and at most
  the shared :class:`RetryBudget` per round; then :class:`RequestFailed`;
* 400 for a prompt over the context is :class:`ContextOverflow`; 401/403/404 and other 4xx are
  :class:`LLMError`: one line naming the server, the status and the remedy;
* :class:`Budget` stops cleanly before a call that would pass ``--max-calls`` / ``--max-tokens``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from patchworld.proposers.llm_reply import BadReply, Reply, StreamDecoder, decode_body, estimate_tokens
from patchworld.redact import redact, register_secret

__all__ = ["LLMError", "ContextOverflow", "BudgetExhausted", "RequestFailed", "RetryBudget", "Budget", "Stats",
           "ChatClient", "RETRYABLE_STATUS"]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524, 529})
_OVERFLOW_WORDS = ("context", "too long", "exceed", "maximum", "n_ctx", "token limit", "too many tokens")
PLACEHOLDER_KEY = "sk-no-key-needed"


class LLMError(RuntimeError):
    """A fault retrying cannot fix (auth, URL, model name, prompt too long): one line with a remedy."""


class ContextOverflow(LLMError):
    """The prompt (plus ``max_tokens``) does not fit the server's context window."""


class BudgetExhausted(LLMError):
    """The configured call or token budget is spent; the run stops cleanly and can be resumed."""


class RequestFailed(Exception):
    """One request still failed after its retries (the caller records it and goes on)."""


class RetryBudget:
    """Retries and timeouts shared by the requests of one round, so a dead or too slow server costs a
    bounded time per round: at most ``retries`` retries, and no new attempt once ``timeouts`` attempts
    have timed out (a server slower than the timeout costs about ``timeouts`` x the timeout a round)."""

    def __init__(self, retries: int, timeouts: int = 2):
        self.left = max(0, int(retries))
        self.timeouts_left = max(1, int(timeouts))
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def timed_out(self) -> None:
        with self._lock:
            self.timeouts_left -= 1

    @property
    def too_slow(self) -> bool:
        return self.timeouts_left <= 0


@dataclass
class Budget:
    """Optional caps on live HTTP calls and on tokens (prompt + completion) for one process."""

    max_calls: int | None = None
    max_tokens: int | None = None

    def check(self, stats: Stats) -> None:
        if self.max_calls is not None and stats.calls >= self.max_calls:
            raise BudgetExhausted(f"LLM budget reached: {stats.calls} calls of --max-calls {self.max_calls}")
        if self.max_tokens is not None and stats.tokens >= self.max_tokens:
            raise BudgetExhausted(f"LLM budget reached: {stats.tokens} tokens of --max-tokens {self.max_tokens}")


@dataclass
class Stats:
    """What the LLM cost so far: HTTP calls, retries, tokens (estimated when not reported), cache hits."""

    calls: int = 0
    replies: int = 0
    retries: int = 0
    failures: int = 0
    bad_replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_tokens: int = 0
    cache_hits: int = 0
    server_models: set[str] = field(default_factory=set)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def cost(self, price_in: float | None, price_out: float | None) -> float | None:
        """Cost at a price per million prompt / completion tokens (None when no price is set)."""
        if price_in is None and price_out is None:
            return None
        return (self.prompt_tokens * (price_in or 0.0) + self.completion_tokens * (price_out or 0.0)) / 1e6

    def line(self, price_in: float | None = None, price_out: float | None = None) -> str:
        """One line for a command's output."""
        text = (f"LLM: {self.calls} calls ({self.retries} retries, {self.failures} failed requests, "
                f"{self.bad_replies} bad bodies), {self.prompt_tokens} prompt + {self.completion_tokens} completion "
                f"tokens, {self.cache_hits} cache hits")
        if self.estimated_tokens:
            text += f" ({self.estimated_tokens} tokens estimated: the server reported no usage)"
        if self.server_models:
            text += f", server model {', '.join(sorted(self.server_models))}"
        cost = self.cost(price_in, price_out)
        if cost is not None:
            text += f", cost {cost:.4f}"
        return text


def _status_error(server: str, status: int, message: str) -> LLMError:
    """A fatal HTTP status as a one-line error with the remedy."""
    message = " ".join(redact(message or "").split())[:200]
    where = f"LLM server {server} answered HTTP {status}"
    if status in (401, 403):
        return LLMError(f"{where} ({message}): check the key (PATCHWORLD_LLM_API_KEY or OPENAI_API_KEY)")
    if status == 404:
        return LLMError(f"{where} ({message}): check --base-url (it usually ends in /v1) and --model")
    if status in (400, 413, 422) and any(w in message.lower() for w in _OVERFLOW_WORDS):
        return ContextOverflow(f"{where}: the prompt does not fit the context ({message}); lower --counterexamples "
                               "or --llm-max-tokens, or start the server with a larger context")
    return LLMError(f"{where} ({message}): the server refused the request; check --model and the server's options")


class ChatClient:
    """Chat completions with the retry, timeout, streaming and budget policy of the module docstring."""

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, timeout: float = 900.0,
                 connect_timeout: float = 10.0, max_retries: int = 3, backoff: float = 2.0, max_backoff: float = 60.0,
                 stream: bool = True, budget: Budget | None = None, sleep: Callable[[float], None] = time.sleep,
                 extra_body: dict[str, Any] | None = None):
        self.model = model
        self.base_url = base_url
        self._api_key = api_key or PLACEHOLDER_KEY
        register_secret(api_key)
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.stream = bool(stream)
        self.budget = budget or Budget()
        self.extra_body = dict(extra_body or {})
        self.stats = Stats()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._client: Any = None

    @property
    def server(self) -> str:
        return self.base_url or "https://api.openai.com/v1"

    def client(self) -> Any:
        """The shared ``openai.OpenAI`` client (built once; thread-safe)."""
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0,
                                             timeout=self.timeout)
            return self._client

    def body(self, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> dict[str, Any]:
        """The request body (also the cache key's input): one sample, no ``n``, no ``seed``."""
        return {"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens,
                **self.extra_body}

    def complete(self, body: dict[str, Any], retries: RetryBudget | None = None) -> Reply:
        """One reply for ``body``; retries per the policy; raises :class:`RequestFailed` or :class:`LLMError`."""
        import openai

        last = ""
        for attempt in range(self.max_retries + 1):
            if retries is not None and retries.too_slow:
                last = (last or "not asked") + (f" (this round already timed out {'twice' if attempt else 'enough'}; "
                                                 "raise --llm-timeout for a slow server)")
                break
            if attempt:
                if retries is not None and not retries.take():
                    last += " (the round's retry budget is spent)"
                    break
                with self._lock:
                    self.stats.retries += 1
            with self._lock:
                self.budget.check(self.stats)
                self.stats.calls += 1
            delay_hint: float | None = None
            try:
                reply = self._once(body)
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status not in RETRYABLE_STATUS:
                    raise _status_error(self.server, status, _message(exc)) from None
                last = f"HTTP {status} ({' '.join(_message(exc).split())[:120]})"
                delay_hint = _retry_after(exc)
            except (openai.APITimeoutError, TimeoutError):
                last = f"no complete reply within --llm-timeout {self.timeout:g} s"
                if retries is not None:
                    retries.timed_out()
            except openai.APIConnectionError as exc:
                last = f"connection failed ({type(exc.__cause__ or exc).__name__})"
            except BadReply as exc:
                with self._lock:
                    self.stats.bad_replies += 1
                last = f"unusable reply: {exc}"
            except Exception as exc:  # noqa: BLE001 (the transport's own errors while a stream is read)
                kind = _transport_error(exc)
                if kind is None:
                    raise
                last = (f"no complete reply within --llm-timeout {self.timeout:g} s" if kind == "timeout"
                        else f"connection failed ({type(exc).__name__})")
                if kind == "timeout" and retries is not None:
                    retries.timed_out()
            else:
                self._count(reply, body)
                return reply
            if attempt < self.max_retries:
                delay = min(self.backoff * (2**attempt), self.max_backoff)
                if delay_hint is not None:
                    delay = min(max(delay, delay_hint), self.max_backoff)
                self._sleep(delay)
        with self._lock:
            self.stats.failures += 1
        raise RequestFailed(f"LLM server {self.server}: {last}")

    def _count(self, reply: Reply, body: dict[str, Any]) -> None:
        with self._lock:
            self.stats.replies += 1
            if reply.prompt_tokens is None:
                reply.prompt_tokens = estimate_tokens(" ".join(str(m.get("content", "")) for m in body["messages"]))
                self.stats.estimated_tokens += reply.prompt_tokens
                reply.notes.append("prompt tokens estimated")
            if reply.completion_tokens is None:
                reply.completion_tokens = estimate_tokens(reply.content)
                self.stats.estimated_tokens += reply.completion_tokens
                reply.notes.append("completion tokens estimated")
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
            if reply.model:
                self.stats.server_models.add(reply.model)

    def _once(self, body: dict[str, Any]) -> Reply:
        """One HTTP attempt; the whole attempt is bounded by ``timeout`` (the stream is closed on expiry)."""
        import httpx

        deadline = time.monotonic() + self.timeout
        timeout = httpx.Timeout(self.timeout, connect=min(self.connect_timeout, self.timeout))
        create = self.client().chat.completions.with_streaming_response.create
        kwargs: dict[str, Any] = {k: v for k, v in body.items() if k not in ("model", "messages")}
        extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in ("temperature", "max_tokens")}
        if self.stream:
            with create(model=body["model"], messages=body["messages"], stream=True, timeout=timeout,
                        stream_options={"include_usage": True}, extra_body=extra or None, **kwargs) as resp:
                decoder = StreamDecoder()
                for line in resp.iter_lines():
                    decoder.feed(line)
                    if time.monotonic() > deadline:
                        raise TimeoutError("deadline")  # leaving the block closes the connection
                    if decoder.done:
                        break
                return decoder.reply()
        with create(model=body["model"], messages=body["messages"], timeout=timeout, extra_body=extra or None,
                    **kwargs) as resp:
            return decode_body(resp.text())


def _transport_error(exc: BaseException) -> str | None:
    """``"timeout"`` or ``"connection"`` for an HTTP transport error (httpx or the copy openai vendors), else None."""
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0].startswith(("httpx", "httpcore")):
            return "timeout" if "Timeout" in type(exc).__name__ else "connection"
    return None


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        return str(err)
    return str(getattr(exc, "message", "") or exc)


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
