"""The LLM proposer: any OpenAI-compatible chat server, through :mod:`.llm_client` (the ``openai`` client).

Configuration comes from arguments or the environment: model ``PATCHWORLD_LLM_MODEL``; base URL
``PATCHWORLD_LLM_BASE_URL`` or ``OPENAI_BASE_URL``; key ``PATCHWORLD_LLM_API_KEY`` or
``OPENAI_API_KEY`` (a local server without auth gets a placeholder key).

A round asks for ``n`` samples, one chat call each (servers such as llama.cpp ignore ``n``).
Every usable reply is cached on disk under a hash of the full request plus the sample index
(:mod:`.llm_cache`), so a rerun replays the run with zero HTTP calls. Up to ``concurrency``
samples are in flight at once (default 1: a CPU server serves one request at a time and
queued requests only time out; raise it for hosted APIs). :meth:`LLMProposer.propose_iter`
yields cached samples at once in sample order, then live ones as they arrive; each proposal
carries ``extra["sample"]``, ``extra["attempts"]`` (every raw reply with the reason it was or
was not usable), ``extra["format"]`` and ``extra["match"]``.

Replies (:mod:`.llm_interpret`): SEARCH/REPLACE blocks, unified diffs, tolerated malformed
shapes, or a whole module (which must load before it costs a replay). A reply that cannot be
used is sent back once (``reask``) with the reason before it counts as malformed.

Faults end as outcomes (see the README's tables): a request that still fails after its retries
is a ``kind="error"`` proposal; a round in which no sample got any reply, ``max_consecutive_malformed``
malformed replies in a row (counted in sample order), or a spent budget set :attr:`LLMProposer.stopped`:
the round finishes and is logged, and the next request raises that :class:`LLMError`. Fatal
answers (401, 404, context overflow) raise :class:`LLMError` at once. The run folder stays resumable.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from patchworld.patches import Edit, Patch, patch_from_sources, source_hash
from patchworld.proposers import llm_prompts as prompts
from patchworld.proposers.base import Proposal, ProposalRequest
from patchworld.proposers.llm_cache import LLMCache, default_cache_dir, request_key
from patchworld.proposers.llm_client import (
    Budget,
    BudgetExhausted,
    ChatClient,
    ContextOverflow,
    LLMError,
    RequestFailed,
    RetryBudget,
)
from patchworld.proposers.llm_edits import extract_module
from patchworld.proposers.llm_interpret import Outcome, interpret, module_error
from patchworld.proposers.llm_prompts import EDIT_FORMATS, load_prompt, render
from patchworld.proposers.llm_settings import ENV_SETTINGS, _env, configured, default_edit_format, from_environment
from patchworld.redact import redact

if TYPE_CHECKING:
    from patchworld.data import Trajectory

__all__ = ["LLMProposer", "LLMError", "MalformedRepliesError", "BudgetExhausted", "ContextOverflow", "configured",
           "default_edit_format", "ENV_SETTINGS"]

MAX_CONCURRENCY = 8  # samples of one request in flight at once, at most


class MalformedRepliesError(LLMError):
    """Too many consecutive replies could not be turned into a patch."""


class LLMProposer:
    """Patch proposals (and initial programs) from an OpenAI-compatible chat model.

    Arguments left at their defaults fall back to :data:`ENV_SETTINGS` environment variables."""

    name = "llm"

    @classmethod
    def from_settings(cls, settings: dict[str, Any], **overrides: Any) -> LLMProposer:
        """A proposer from saved settings (a run header's), keeping only the constructor's arguments."""
        known = set(inspect.signature(cls.__init__).parameters) - {"self", "api_key", "sleep"}
        kw = {k: v for k, v in settings.items() if k in known and v is not None}
        return cls(**{**kw, **overrides})

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, temperature: float = 0.8,
                 initial_temperature: float = 0.2, max_tokens: int = 4096, timeout: float = 900.0,
                 max_retries: int = 3, round_retries: int = 8, round_timeouts: int = 2, backoff: float = 2.0,
                 max_backoff: float = 60.0,
                 max_consecutive_malformed: int = 8, n_examples: int = 24, use_cache: bool = True,
                 prompt_dir: str | os.PathLike[str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 concurrency: int | None = 1, edit_format: str = "auto", reask: int = 1, initial_retries: int = 5,
                 stream: bool = True, grammar: bool = False, max_calls: int | None = None,
                 max_total_tokens: int | None = None, price_in: float | None = None, price_out: float | None = None,
                 load_check: bool = True):
        given = from_environment(dict(locals()), {k: p.default for k, p in
                                                  inspect.signature(LLMProposer.__init__).parameters.items()})
        timeout, concurrency, max_tokens = given["timeout"], given["concurrency"], given["max_tokens"]
        max_retries, round_retries = given["max_retries"], given["round_retries"]
        max_consecutive_malformed, edit_format = given["max_consecutive_malformed"], given["edit_format"]
        for label, value, low in (("timeout", timeout, 1e-9), ("max_tokens", max_tokens, 1),
                                  ("max_retries", max_retries, 0), ("round_retries", round_retries, 0),
                                  ("round_timeouts", given["round_timeouts"], 1), ("reask", reask, 0),
                                  ("initial_retries", initial_retries, 0),
                                  ("max_consecutive_malformed", max_consecutive_malformed, 0)):
            if value < low:
                bound = "> 0" if low < 1e-6 else f">= {low:g}"
                flag = {"max_retries": "retries", "max_consecutive_malformed": "max-malformed"}.get(label, label)
                raise ValueError(f"LLMProposer {label} must be {bound}, got {value} (CLI: --llm-{flag.replace('_', '-')})")
        if concurrency is not None and concurrency < 1:
            raise ValueError(f"LLMProposer concurrency must be >= 1 (or None for n), got {concurrency}")
        self.model = model or _env("PATCHWORLD_LLM_MODEL")
        if not self.model:
            raise LLMError("no LLM model configured: pass model= or set PATCHWORLD_LLM_MODEL")
        fmt = default_edit_format(self.model) if edit_format == "auto" else edit_format
        if fmt not in EDIT_FORMATS:
            raise ValueError(f"unknown edit format {edit_format!r}: expected auto or one of {', '.join(EDIT_FORMATS)}")
        self.base_url = base_url or _env("PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL")
        api_key = api_key or _env("PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY")
        self.cache_dir = str(cache_dir or default_cache_dir()) if use_cache else None
        self.temperature = temperature
        self.initial_temperature = initial_temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.max_retries = max_retries
        self.round_retries = round_retries
        self.round_timeouts = round_timeouts
        self.max_consecutive_malformed = max_consecutive_malformed
        self.n_examples = n_examples
        self.prompt_dir = str(prompt_dir) if prompt_dir else None
        self.concurrency = concurrency
        self.edit_format = fmt
        self.reask = reask
        self.initial_retries = initial_retries
        self.stream = stream
        self.grammar = grammar
        self.max_calls = max_calls
        self.max_total_tokens = max_total_tokens
        self.price_in = price_in
        self.price_out = price_out
        self.load_check = load_check
        extra = {"grammar": load_prompt("search_replace.gbnf", self.prompt_dir)} \
            if grammar and fmt == "search_replace" else None
        self.client = ChatClient(self.model, self.base_url, api_key, timeout=timeout, max_retries=max_retries,
                                 backoff=backoff, max_backoff=max_backoff, stream=stream,
                                 budget=Budget(max_calls, max_total_tokens), sleep=sleep, extra_body=extra)
        self._cache = LLMCache(self.cache_dir)
        self._lock = threading.Lock()
        self.malformed_streak = 0
        self.stopped: LLMError | None = None   # set when the run must stop after the current round
        self.client.client().chat.completions  # noqa: B018 (build the client now, not inside round 1's time)

    @classmethod
    def configured(cls) -> bool:
        """Whether the environment configures an LLM (see :func:`configured`)."""
        return configured()

    # -- counters -----------------------------------------------------------------------------------
    @property
    def stats(self) -> Any:
        """Calls, retries, tokens and cache hits so far (:class:`~.llm_client.Stats`)."""
        return self.client.stats

    @property
    def http_calls(self) -> int:
        return self.client.stats.calls

    @property
    def prompt_tokens(self) -> int:
        return self.client.stats.prompt_tokens

    @property
    def completion_tokens(self) -> int:
        return self.client.stats.completion_tokens

    def usage_line(self) -> str:
        """One line: calls, tokens, cache hits and the cost when a price is configured."""
        return self.client.stats.line(self.price_in, self.price_out)

    # -- prompts ------------------------------------------------------------------------------------
    def _messages(self, prompt: str) -> list[dict[str, str]]:
        return prompts.chat_messages(prompt, self.prompt_dir)

    def patch_prompt(self, request: ProposalRequest) -> str:
        """The rendered patch prompt for a request (also useful to show in a notebook)."""
        return prompts.patch_prompt(request, self.edit_format, self.prompt_dir)

    def initial_prompt(self, env: str, train: Sequence[Trajectory], seed: int = 0) -> str:
        """The rendered initial-program prompt."""
        return prompts.initial_prompt(env, train, self.n_examples, seed, self.prompt_dir)

    # -- one reply ----------------------------------------------------------------------------------
    def _reply(self, body: dict[str, Any], sample: int, retries: RetryBudget) -> tuple[dict[str, Any], bool]:
        """(record, cached) for one sample of ``body``: from the cache, else one live call (then cached)."""
        key = request_key(body, sample)
        record = self._cache.get(key)
        if record is not None:
            with self._lock:
                self.client.stats.cache_hits += 1
            return record, True
        reply = self.client.complete(body, retries)
        record = {"content": redact(reply.content), "prompt_tokens": reply.prompt_tokens,
                  "completion_tokens": reply.completion_tokens, "model": self.model, "server_model": reply.model,
                  "finish_reason": reply.finish_reason, "notes": reply.notes, "sample": sample}
        self._cache.put(key, record)
        return record, False

    def _followup(self, body: dict[str, Any], reply: str, text: str, temperature: float) -> dict[str, Any]:
        messages = [*body["messages"], {"role": "assistant", "content": reply}, {"role": "user", "content": text}]
        return self.client.body(messages, self.max_tokens, temperature) | \
            {k: v for k, v in body.items() if k not in ("model", "messages", "temperature", "max_tokens")}

    def _sample(self, parent: Any, prompt: str, body: dict[str, Any], sample: int, ids: tuple[str, ...],
                retries: RetryBudget) -> Proposal:
        """One sample: its reply, one re-ask with the reason when unusable, and the proposal."""
        attempts: list[dict[str, Any]] = []
        outcome: Outcome | None = None
        error = ""
        for turn in range(1 + max(0, self.reask)):
            try:
                record, cached = self._reply(body, sample, retries)
            except RequestFailed as exc:
                error = str(exc)
                break
            outcome = interpret(parent.source, record["content"], self.load_check)
            attempts.append({"response": record["content"], "cached": cached, "format": outcome.format,
                             "usable": outcome.ok, "reason": outcome.reason, "repairs": outcome.repairs,
                             "prompt_tokens": int(record.get("prompt_tokens") or 0),
                             "completion_tokens": int(record.get("completion_tokens") or 0)})
            if outcome.ok or turn == self.reask:
                break
            hint = load_prompt("reask", self.prompt_dir)
            body = self._followup(body, record["content"], render(hint, error=outcome.reason, format_hint=(
                "Copy SEARCH lines exactly from the program." if self.edit_format != "whole" else
                "Send the complete module.")), self.temperature)
        common = {"prompt": redact(prompt), "response": _responses(attempts),
                  "prompt_tokens": sum(a["prompt_tokens"] for a in attempts),
                  "completion_tokens": sum(a["completion_tokens"] for a in attempts),
                  "cached": bool(attempts) and all(a["cached"] for a in attempts),
                  "extra": {"sample": sample, "attempts": attempts}}
        if outcome is None:
            return Proposal(None, "error", error=error, **common)
        common["extra"].update(format=outcome.format, match=outcome.tiers)
        if not outcome.ok:
            reason = outcome.reason + (f" (re-ask failed: {error})" if error else "")
            return Proposal(None, "malformed", error=reason, **common)
        origin = "llm" if outcome.format == "search_replace" else f"llm:{outcome.format}"
        patch = patch_from_sources(parent, outcome.child, origin=origin, note=outcome.note, counterexample_ids=ids)
        return Proposal(patch, outcome.kind, **common)

    # -- rounds -------------------------------------------------------------------------------------
    def workers(self, n: int) -> int:
        """How many samples of an ``n``-sample request are in flight at once."""
        return max(1, min(n, self.concurrency or n, MAX_CONCURRENCY))

    def propose(self, request: ProposalRequest) -> list[Proposal]:
        """``request.n`` proposals in sample-index order (see :meth:`propose_iter`)."""
        return sorted(self.propose_iter(request), key=lambda p: p.extra["sample"])

    def _count(self, proposal: Proposal) -> None:
        """Count one proposal in the consecutive-malformed streak (callers go in sample-index order)."""
        if proposal.kind == "malformed":
            self.malformed_streak += 1
            limit = self.max_consecutive_malformed
            if limit and self.malformed_streak >= limit and self.stopped is None:
                self.stopped = MalformedRepliesError(
                    f"{self.malformed_streak} consecutive malformed LLM replies (last: {proposal.error[:160]}); model "
                    f"{self.model!r} does not follow the {self.edit_format} format: try --llm-edit-format or a "
                    "stronger model, or raise --llm-max-malformed")
        elif proposal.kind in ("search_replace", "whole_module"):
            self.malformed_streak = 0

    def propose_iter(self, request: ProposalRequest) -> Iterator[Proposal]:
        """Yield ``request.n`` proposals, each as soon as it is ready (cached ones first, in sample order).

        Raises :class:`LLMError` for fatal answers, and at the start when an earlier round set
        :attr:`stopped` (malformed limit, no replies, budget)."""
        if self.stopped is not None:
            raise self.stopped
        prompt = self.patch_prompt(request)
        ids = tuple(getattr(cx, "id", "") for cx in request.counterexamples)
        body = self.client.body(self._messages(prompt), self.max_tokens, self.temperature)
        retries = RetryBudget(self.round_retries, self.round_timeouts)
        hits = [s for s in range(request.n) if self._cache.get(request_key(body, s)) is not None]
        misses = [s for s in range(request.n) if s not in hits]
        if misses:
            try:
                self.client.budget.check(self.client.stats)
            except BudgetExhausted as exc:
                self.stopped = exc
                raise
        pending: dict[int, Proposal] = {}
        counted = 0

        def settle(sample: int, proposal: Proposal) -> Proposal:
            nonlocal counted
            pending[sample] = proposal
            while counted in pending:
                self._count(pending.pop(counted))
                counted += 1
            return proposal

        pool = ThreadPoolExecutor(self.workers(len(misses)), thread_name_prefix="llm-sample") if misses else None
        got_reply, last_error = bool(hits), ""
        abort = threading.Event()   # set on a fatal answer or an early stop: queued samples make no call

        def run(sample: int) -> Proposal:
            if abort.is_set():
                raise CancelledError()
            try:
                return self._sample(request.program, prompt, body, sample, ids, retries)
            except LLMError:
                abort.set()
                raise

        try:
            futures: dict[Future, int] = {pool.submit(run, s): s for s in misses} if pool else {}
            for sample in hits:
                yield settle(sample, self._sample(request.program, prompt, body, sample, ids, retries))
            for future in as_completed(futures):
                sample = futures[future]
                try:
                    proposal = future.result()
                except CancelledError:
                    proposal = Proposal(None, "error", prompt=prompt, error=f"not asked: {self.stopped}",
                                        extra={"sample": sample})
                except BudgetExhausted as exc:
                    abort.clear()   # a spent budget is not fatal: the round finishes
                    self.stopped = self.stopped or exc
                    proposal = Proposal(None, "error", prompt=prompt, error=f"not asked: {exc}", extra={"sample": sample})
                got_reply = got_reply or proposal.kind != "error"
                last_error = proposal.error if proposal.kind == "error" else last_error
                yield settle(sample, proposal)
                if self.stopped is not None and pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
        finally:
            abort.set()
            if pool is not None:  # on an early stop: drop queued samples, let in-flight calls finish alone
                pool.shutdown(wait=False, cancel_futures=True)
        if misses and not got_reply and self.stopped is None:
            self.stopped = LLMError(f"no reply in a whole round: {last_error}; check that the server is running "
                                    "and answers within --llm-timeout")

    # -- the first program --------------------------------------------------------------------------
    def initial_program(self, env: str, train: Sequence[Trajectory], seed: int = 0) -> Proposal:
        """A first program (a patch against the empty program ``""``); a module that does not load is sent
        back with its error up to ``initial_retries`` times."""
        prompt = self.initial_prompt(env, train, seed)
        body = self.client.body(self._messages(prompt), self.max_tokens, self.initial_temperature)
        retries = RetryBudget(self.round_retries + self.initial_retries, self.round_timeouts)
        attempts: list[dict[str, Any]] = []
        problem = ""
        for _ in range(1 + max(0, self.initial_retries)):
            try:
                record, cached = self._reply(body, 0, retries)
            except RequestFailed as exc:
                return Proposal(None, "error", prompt=redact(prompt), error=str(exc), extra={"attempts": attempts})
            module = extract_module(record["content"])
            problem = "no fenced Python module with a class in the reply" if module is None else \
                module_error(module, self.load_check)
            attempts.append({"response": record["content"], "cached": cached, "usable": not problem,
                             "reason": problem, "prompt_tokens": int(record.get("prompt_tokens") or 0),
                             "completion_tokens": int(record.get("completion_tokens") or 0)})
            if not problem:
                break
            body = self._followup(body, record["content"], render(load_prompt("initial_retry", self.prompt_dir),
                                                                  error=problem), self.initial_temperature)
        common = {"prompt": redact(prompt), "response": _responses(attempts),
                  "prompt_tokens": sum(a["prompt_tokens"] for a in attempts),
                  "completion_tokens": sum(a["completion_tokens"] for a in attempts),
                  "cached": all(a["cached"] for a in attempts), "extra": {"attempts": attempts}}
        if problem:
            return Proposal(None, "malformed", error=f"{len(attempts)} attempts, last: {problem}", **common)
        patch = Patch(source_hash(""), (Edit("", module),), (), "llm:initial", f"initial program for {env}")
        return Proposal(patch, "whole_module", **common)


def _responses(attempts: list[dict[str, Any]]) -> str:
    """Every raw reply of a sample, each followed by why it was (not) usable, for response.txt."""
    if len(attempts) == 1:   # the reason of an unusable reply is the proposal's error
        return attempts[0]["response"]
    parts = []
    for n, a in enumerate(attempts, 1):
        verdict = "usable" if a["usable"] else f"not usable: {a['reason']}"
        parts.append(f"{a['response']}\n\n----- reply {n} of {len(attempts)}: {verdict} -----")
    return "\n\n".join(parts)
