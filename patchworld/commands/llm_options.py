"""The LLM options of the commands (``induce``): server, limits, formats, budget; and their outcomes.

Defaults work against a single-slot CPU server (llama.cpp, Ollama): one request at a time, a
whole-request timeout of 900 s (a cold 3k-token prompt plus a whole program at ~10 tokens/s),
streaming so a timed-out request stops generating on the server. Hosted APIs can take
``--llm-concurrency 4``. On resume, flags not given fall back to the run header's settings.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_llm_arguments", "llm_proposer", "llm_outcome", "SETTINGS"]

# flag dest -> (LLMProposer keyword, type, help)
SETTINGS: dict[str, tuple[str, Any, str]] = {
    "llm_timeout": ("timeout", float, "seconds for a whole request, first token included (default 900)"),
    "llm_concurrency": ("concurrency", int, "requests in flight at once (default 1: a one-slot CPU server)"),
    "llm_max_tokens": ("max_tokens", int, "completion tokens per reply (default 4096: a whole program fits)"),
    "llm_temperature": ("temperature", float, "patch temperature (default 0.8: varied candidates; the gate filters)"),
    "llm_initial_temperature": ("initial_temperature", float,
                                "first-program temperature (default 0.2: one careful program)"),
    "llm_retries": ("max_retries", int, "retries per request for 429/5xx/timeouts/bad bodies (default 3)"),
    "llm_round_retries": ("round_retries", int, "retries shared by all requests of one round (default 8)"),
    "llm_round_timeouts": ("round_timeouts", int, "timed-out attempts after which a round asks no more (default 2)"),
    "llm_max_malformed": ("max_consecutive_malformed", int,
                          "stop after this many unusable replies in a row, at the end of the round; 0 = never "
                          "(default 8)"),
    "llm_reask": ("reask", int, "times an unusable reply is sent back with its reason (default 1)"),
    "llm_initial_retries": ("initial_retries", int, "times a first program that does not load is sent back (default 5)"),
    "llm_edit_format": ("edit_format", str, "answer format asked for: auto (whole for small models), "
                        "search_replace, udiff, whole (default auto)"),
    "max_calls": ("max_calls", int, "stop cleanly before the LLM call that would exceed this many (this process)"),
    "max_tokens": ("max_total_tokens", int, "stop cleanly once prompt + completion tokens reach this (this process)"),
    "llm_price_in": ("price_in", float, "price per million prompt tokens, to print the cost"),
    "llm_price_out": ("price_out", float, "price per million completion tokens, to print the cost"),
}


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    """The LLM flags (all optional; the LLMProposer defaults apply when not given)."""
    group = parser.add_argument_group("LLM proposer")
    for dest, (_kw, kind, help_text) in SETTINGS.items():
        flag = "--" + dest.replace("_", "-")
        if dest == "llm_edit_format":
            group.add_argument(flag, dest=dest, choices=("auto", "search_replace", "udiff", "whole"), help=help_text)
        else:
            group.add_argument(flag, dest=dest, type=kind, default=None, help=help_text)
    group.add_argument("--llm-no-stream", dest="llm_no_stream", action="store_true",
                       help="ask for whole replies (servers without streaming; a timed-out request may keep running)")
    group.add_argument("--llm-grammar", dest="llm_grammar", action="store_true",
                       help="constrain replies with a llama.cpp grammar for SEARCH/REPLACE (llama.cpp servers only)")


def llm_proposer(args: argparse.Namespace, saved: dict[str, Any] | None = None) -> Any:
    """The LLM proposer from the flags; on resume, the header's ``saved`` settings fill the gaps."""
    from patchworld.proposers.llm import LLMProposer

    kw: dict[str, Any] = {k: v for k, v in (("model", getattr(args, "model", None)),
                                            ("base_url", getattr(args, "base_url", None)),
                                            ("cache_dir", getattr(args, "cache_dir", None))) if v}
    for dest, (key, _kind, _help) in SETTINGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            kw[key] = value
    if getattr(args, "llm_no_stream", False):
        kw["stream"] = False
    if getattr(args, "llm_grammar", False):
        kw["grammar"] = True
    return LLMProposer.from_settings(saved or {}, **kw)


def llm_outcome(exc: BaseException | None, proposer: Any, out: str) -> int | None:
    """Print an LLM fault or stop as one line (plus the usage line) and return the exit code.

    ``exc`` is what the run raised (or None); the proposer's ``stopped`` counts too. Returns None
    when there is nothing LLM-related to report (the caller goes on as usual)."""
    from patchworld.proposers.llm_client import BudgetExhausted, LLMError

    if exc is not None and not isinstance(exc, LLMError):
        return None
    usage = getattr(proposer, "usage_line", None)
    if usage is not None:
        print(usage())
    fault = exc if isinstance(exc, LLMError) else getattr(proposer, "stopped", None)
    if fault is None:
        return None
    resume = f"`patchworld induce --out {out} --resume`"
    if isinstance(fault, BudgetExhausted):
        print(f"patchworld induce: {fault}; the run stopped cleanly: continue with {resume} and a new budget",
              file=sys.stderr)
        return 0
    print(f"patchworld induce: {' '.join(str(fault).split())}; the run folder is kept: fix this and continue with "
          f"{resume}", file=sys.stderr)
    return 2
