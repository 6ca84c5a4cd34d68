"""Proposers: turn a program and its counterexamples into candidate patches.

``MutationProposer`` (offline AST repair, the default), ``LLMProposer`` (any OpenAI-compatible
server) and ``ManualProposer`` (a person's edit). Exports are lazy so that importing this
package does not import the ``openai`` client.
"""

from __future__ import annotations

import importlib
from typing import Any

from patchworld.proposers.base import Proposal, ProposalRequest, Proposer

_LAZY = {
    "LLMProposer": "patchworld.proposers.llm",
    "LLMError": "patchworld.proposers.llm",
    "MalformedRepliesError": "patchworld.proposers.llm",
    "MutationProposer": "patchworld.proposers.mutation",
    "ManualProposer": "patchworld.proposers.manual",
    "manual_patch": "patchworld.proposers.manual",
}

__all__ = ["Proposal", "ProposalRequest", "Proposer", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patchworld.proposers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
