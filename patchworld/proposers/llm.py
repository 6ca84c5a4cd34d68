"""The LLM proposer: any OpenAI-compatible chat server, through the ``openai`` client only.

Configuration comes from arguments or the environment: model ``PATCHWORLD_LLM_MODEL``; base URL
``PATCHWORLD_LLM_BASE_URL`` or ``OPENAI_BASE_URL``; key ``PATCHWORLD_LLM_API_KEY`` or
``OPENAI_API_KEY`` (a local server without auth gets a placeholder key, since the client refuses
to start without one). :meth:`LLMProposer.configured` says whether a model is configured.

Each request asks for ``n`` samples, one chat call each; every sample is cached on disk under a
hash of the full request plus its index (:mod:`.llm_cache`), so a rerun replays the same
proposals with zero HTTP calls. Token counts come from the server's ``usage``.

Concurrency: the uncached samples of one request run at the same time in a small thread pool
(``concurrency`` workers, default ``n``, never more than 8), so a round with 4 samples waits about
one reply time, not four. :meth:`LLMProposer.propose_iter` yields each proposal as soon as its
reply arrives (cached samples first, at once and in sample order, with no HTTP call; then live
ones in arrival order); every proposal carries its sample index in ``extra["sample"]``.
:meth:`LLMProposer.propose` returns the same proposals sorted by sample index. The HTTP-call and
token counters are updated under a lock.

Failure policy (documented contract):

* 429, 5xx, 408/409, timeouts and connection errors are retried with exponential backoff
  (our own loop; the client is built with ``max_retries=0``). If a sample still fails, it comes
  back as a ``kind="error"`` proposal and the other samples proceed.
* Other HTTP errors (400, 401, 404...) are configuration problems: :class:`LLMError` is raised.
* A reply with neither SEARCH/REPLACE blocks nor a fenced Python module with a class is a
  ``kind="malformed"`` proposal. After ``max_consecutive_malformed`` malformed replies in a row
  (counted across requests) :class:`MalformedRepliesError` is raised, so a broken model or
  prompt does not burn tokens silently.
* "In a row" means in sample-index order, whatever order the replies arrive in: a sample is
  counted only once every lower-index sample of its request has been counted (a malformed reply
  adds one, a usable patch resets the count to 0, an ``"error"`` sample leaves it unchanged), so
  the outcome does not depend on network timing. The error is raised by the iterator in place of
  the proposal whose arrival completed the count; proposals yielded earlier stay yielded, and the
  remaining queued samples are cancelled (calls already in flight finish in the background and
  are cached).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from patchworld.patches import Edit, Patch, patch_from_sources, source_hash
from patchworld.proposers.base import Proposal, ProposalRequest
from patchworld.proposers.llm_cache import LLMCache, default_cache_dir, request_key
from patchworld.proposers.llm_prompts import (
    contrastive_examples,
    env_description,
    extract_module,
    format_counterexamples,
    load_prompt,
    parse_reply,
    render,
)

if TYPE_CHECKING:
    from patchworld.data import Trajectory

__all__ = ["LLMProposer", "LLMError", "MalformedRepliesError", "configured"]

_PLACEHOLDER_KEY = "sk-no-key-needed"
MAX_CONCURRENCY = 8  # samples of one request in flight at once, at most


class LLMError(RuntimeError):
    """The LLM server refused a request in a way retrying cannot fix (bad model name, auth...)."""


class MalformedRepliesError(LLMError):
    """Too many consecutive replies could not be turned into a patch."""


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


class LLMProposer:
    """Patch proposals (and initial programs) from an OpenAI-compatible chat model."""

    name = "llm"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, temperature: float = 0.8, max_tokens: int = 4096,
                 timeout: float = 120.0, max_retries: int = 5, backoff: float = 1.0, max_backoff: float = 30.0,
                 max_consecutive_malformed: int = 3, n_examples: int = 24, use_cache: bool = True,
                 prompt_dir: str | os.PathLike[str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 concurrency: int | None = None):
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"LLMProposer concurrency must be >= 1 (or None for n), got {concurrency}")
        self.model = model or _env("PATCHWORLD_LLM_MODEL")
        if not self.model:
            raise LLMError("no LLM model configured: pass model= or set PATCHWORLD_LLM_MODEL")
        self.base_url = base_url or _env("PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL")
        self._api_key = api_key or _env("PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY") or _PLACEHOLDER_KEY
        self.cache_dir = str(cache_dir or default_cache_dir()) if use_cache else None
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_consecutive_malformed = max_consecutive_malformed
        self.n_examples = n_examples
        self.prompt_dir = str(prompt_dir) if prompt_dir else None
        self._sleep = sleep
        self.concurrency = concurrency  # samples in flight per request: None = n; capped at MAX_CONCURRENCY
        self._lock = threading.Lock()   # guards the counters below (updated from pool threads)
        self._cache = LLMCache(self.cache_dir)
        self._client: Any = None
        self.http_calls = 0          # HTTP attempts actually made (retries included)
        self.prompt_tokens = 0       # tokens of live (uncached) calls
        self.completion_tokens = 0
        self.malformed_streak = 0
        # build the client now: importing openai and its chat resource takes ~1 s on a cold start,
        # which would otherwise land inside the first round's wall time
        self._get_client().chat.completions  # noqa: B018 (loads the lazily imported resource)

    @classmethod
    def configured(cls) -> bool:
        """Whether the environment configures an LLM (see :func:`configured`)."""
        return configured()

    # -- transport ----------------------------------------------------------------------------------
    def _get_client(self) -> Any:
        with self._lock:  # one client (thread-safe, one connection pool) shared by the sample threads
            if self._client is None:
                import openai

                self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0,
                                             timeout=self.timeout)
            return self._client

    def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        """One chat completion with our retry loop; returns {content, prompt_tokens, completion_tokens}."""
        import openai

        client = self._get_client()
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.http_calls += 1
            try:
                resp = client.chat.completions.create(**body, timeout=self.timeout)
            except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                    openai.InternalServerError) as exc:
                last = exc
            except openai.APIStatusError as exc:
                if exc.status_code not in (408, 409):
                    raise LLMError(f"LLM server at {self.base_url or 'api.openai.com'} refused the request "
                                   f"(HTTP {exc.status_code}): {exc.message}") from exc
                last = exc
            else:
                usage = getattr(resp, "usage", None)
                content = resp.choices[0].message.content if resp.choices else ""
                return {"content": content or "", "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                        "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0)}
            if attempt < self.max_retries:
                self._sleep(self._delay(attempt, last))
        raise TimeoutError(f"LLM request failed after {self.max_retries + 1} attempts: {type(last).__name__}: {last}")

    def _delay(self, attempt: int, exc: Exception | None) -> float:
        delay = self.backoff * (2**attempt)
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        return min(delay, self.max_backoff)

    def _body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens}

    def _fetch(self, body: dict[str, Any], sample: int) -> dict[str, Any]:
        """One live call for a sample: count its tokens, cache it; safe to run in a pool thread."""
        record = self._call(body)
        with self._lock:
            self.prompt_tokens += record["prompt_tokens"]
            self.completion_tokens += record["completion_tokens"]
        self._cache.put(request_key(body, sample), {**record, "model": self.model, "sample": sample})
        return record

    def _fetch_safe(self, body: dict[str, Any], sample: int) -> tuple[dict[str, Any] | None, str]:
        """:meth:`_fetch`, with exhausted retries as ``(None, message)``; :class:`LLMError` propagates."""
        try:
            return self._fetch(body, sample), ""
        except TimeoutError as exc:
            return None, str(exc)

    def _complete(self, messages: list[dict[str, str]], sample: int) -> tuple[dict[str, Any], bool]:
        """A reply record for one sample, from the cache or the server; (record, cached)."""
        body = self._body(messages)
        record = self._cache.get(request_key(body, sample))
        if record is not None:
            return record, True
        return self._fetch(body, sample), False

    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return [{"role": "system", "content": load_prompt("system", self.prompt_dir).strip()},
                {"role": "user", "content": prompt}]

    # -- proposals ----------------------------------------------------------------------------------
    def patch_prompt(self, request: ProposalRequest) -> str:
        """The rendered patch prompt for a request (also useful to show in a notebook)."""
        return render(load_prompt("patch", self.prompt_dir), env=request.env,
                      description=env_description(request.env), program=request.program.source.rstrip("\n"),
                      program_hash=request.program.hash,
                      counterexamples=format_counterexamples(request.counterexamples))

    def initial_prompt(self, env: str, train: Sequence[Trajectory], seed: int = 0) -> str:
        """The rendered initial-program prompt."""
        return render(load_prompt("initial_program", self.prompt_dir), env=env, description=env_description(env),
                      examples=contrastive_examples(train, k=self.n_examples, seed=seed))

    def _sample(self, prompt: str, sample: int) -> tuple[dict[str, Any] | None, bool, str]:
        try:
            record, cached = self._complete(self._messages(prompt), sample)
        except TimeoutError as exc:
            return None, False, str(exc)
        return record, cached, ""

    def _malformed(self, proposal: Proposal) -> Proposal:
        """Count one proposal in the consecutive-malformed streak (callers go in sample-index order)."""
        with self._lock:
            if proposal.kind == "malformed":
                self.malformed_streak += 1
                if self.malformed_streak >= self.max_consecutive_malformed:
                    raise MalformedRepliesError(
                        f"{self.malformed_streak} consecutive malformed LLM replies (last: {proposal.error}); "
                        f"model {self.model!r} does not follow the SEARCH/REPLACE format")
            elif proposal.kind in ("search_replace", "whole_module"):
                self.malformed_streak = 0
        return proposal

    def workers(self, n: int) -> int:
        """How many samples of an ``n``-sample request are in flight at once."""
        return max(1, min(n, self.concurrency or n, MAX_CONCURRENCY))

    def propose(self, request: ProposalRequest) -> list[Proposal]:
        """``request.n`` proposals in sample-index order (samples run concurrently; see :meth:`propose_iter`)."""
        return sorted(self.propose_iter(request), key=lambda p: p.extra["sample"])

    def propose_iter(self, request: ProposalRequest) -> Iterator[Proposal]:
        """Yield ``request.n`` proposals, each as soon as it is ready: cached samples at once (sample
        order, no HTTP call), then live samples in reply-arrival order, up to :meth:`workers` in flight.
        ``extra["sample"]`` holds each proposal's sample index. Raises :class:`MalformedRepliesError`
        (see the module docstring for how the streak is counted) and :class:`LLMError`."""
        prompt = self.patch_prompt(request)
        ids = tuple(getattr(cx, "id", "") for cx in request.counterexamples)
        body = self._body(self._messages(prompt))
        hits: dict[int, dict[str, Any]] = {}
        for sample in range(request.n):
            record = self._cache.get(request_key(body, sample))
            if record is not None:
                hits[sample] = record
        misses = [s for s in range(request.n) if s not in hits]
        pending: dict[int, Proposal] = {}   # known results not yet counted in the streak
        counted = 0                          # samples 0..counted-1 are counted

        def settle(sample: int, proposal: Proposal) -> Proposal:
            nonlocal counted
            pending[sample] = proposal
            while counted in pending:
                self._malformed(pending.pop(counted))
                counted += 1
            return proposal

        pool = None
        if misses:
            self._get_client()  # build the shared client before the threads start
            pool = ThreadPoolExecutor(max_workers=self.workers(len(misses)), thread_name_prefix="llm-sample")
        try:
            futures: dict[Future, int] = {pool.submit(self._fetch_safe, body, s): s for s in misses} if pool else {}
            for sample, record in hits.items():
                yield settle(sample, self._proposal(request.program, record, True, prompt, ids, sample))
            for future in as_completed(futures):
                sample = futures[future]
                record, error = future.result()
                if record is None:
                    proposal = Proposal(None, "error", prompt=prompt, error=error, extra={"sample": sample})
                else:
                    proposal = self._proposal(request.program, record, False, prompt, ids, sample)
                yield settle(sample, proposal)
        finally:
            if pool is not None:  # on an early stop: drop queued samples, let in-flight calls finish alone
                pool.shutdown(wait=False, cancel_futures=True)

    def _proposal(self, program: Any, record: dict[str, Any], cached: bool, prompt: str, ids: tuple[str, ...],
                  sample: int) -> Proposal:
        proposal = self._to_proposal(program, record, cached, prompt, ids)
        proposal.extra["sample"] = sample
        return proposal

    def _to_proposal(self, program: Any, record: dict[str, Any], cached: bool, prompt: str,
                     ids: tuple[str, ...]) -> Proposal:
        text = record["content"]
        common = {"prompt": prompt, "response": text, "prompt_tokens": record["prompt_tokens"],
                  "completion_tokens": record["completion_tokens"], "cached": cached}
        parsed = parse_reply(text)
        if parsed.edits:
            patch = Patch(program.hash, tuple(parsed.edits), ids, "llm", parsed.note)
            return Proposal(patch, "search_replace", **common)
        if parsed.module is not None:
            if parsed.module == program.source:
                return Proposal(None, "malformed", error="the reply repeats the current program unchanged", **common)
            patch = patch_from_sources(program, parsed.module, origin="llm:whole_module", note=parsed.note,
                                       counterexample_ids=ids)
            return Proposal(patch, "whole_module", **common)
        return Proposal(None, "malformed", error=parsed.error, **common)

    def initial_program(self, env: str, train: Sequence[Trajectory], seed: int = 0) -> Proposal:
        """A first program as a patch against the empty program ``""`` (kind ``"whole_module"``)."""
        prompt = self.initial_prompt(env, train, seed)
        record, cached, error = self._sample(prompt, 0)
        if record is None:
            return Proposal(None, "error", prompt=prompt, error=error)
        text = record["content"]
        common = {"prompt": prompt, "response": text, "prompt_tokens": record["prompt_tokens"],
                  "completion_tokens": record["completion_tokens"], "cached": cached}
        module = extract_module(text)
        if module is None:
            return Proposal(None, "malformed", error="no fenced Python module with a class in the reply", **common)
        patch = Patch(source_hash(""), (Edit("", module),), (), "llm:initial", f"initial program for {env}")
        return Proposal(patch, "whole_module", **common)
