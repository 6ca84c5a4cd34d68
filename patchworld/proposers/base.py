"""What every proposer takes and returns: `ProposalRequest` in, a list of `Proposal` out.

A proposer turns the current program plus a few counterexamples into candidate patches. It
never judges them: the synthesis gate replays each candidate on validation data. A reply
that cannot be turned into a patch still comes back, as a `Proposal` with ``patch=None`` and
``kind="malformed"`` (or ``"error"`` for a failed request), so the run log shows every
attempt and its token cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from patchworld.patches import Patch

if TYPE_CHECKING:  # imported for annotations only, so this module loads on its own
    from patchworld.counterexamples import Counterexample
    from patchworld.data import Trajectory
    from patchworld.program import Program

__all__ = ["ProposalRequest", "Proposal", "Proposer", "PROPOSAL_KINDS"]

PROPOSAL_KINDS = ("search_replace", "whole_module", "ast_mutation", "manual", "malformed", "error")


@dataclass
class ProposalRequest:
    """Ask for ``n`` candidate patches of ``program`` for ``env``, motivated by ``counterexamples``."""

    env: str
    program: Program
    counterexamples: Sequence[Counterexample]
    n: int
    round: int = 0
    seed: int = 0
    train: Sequence[Trajectory] = ()
    suspicion: Any = None   # a patchworld.localise.Suspicion: rank every function's lines by it (wide search)
    replay: Any = None      # the parent's whole val replay (the LLM prompt's failure table counts all of it)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"ProposalRequest.n must be >= 1, got {self.n}")


@dataclass
class Proposal:
    """One candidate: a patch (or None when the reply could not be parsed) plus its provenance."""

    patch: Patch | None
    kind: str
    prompt: str = ""
    response: str = ""
    error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in PROPOSAL_KINDS:
            raise ValueError(f"Proposal.kind must be one of {PROPOSAL_KINDS}, got {self.kind!r}")

    @property
    def ok(self) -> bool:
        return self.patch is not None


@runtime_checkable
class Proposer(Protocol):
    """Anything with a ``name`` and ``propose(request) -> list[Proposal]``."""

    name: str

    def propose(self, request: ProposalRequest) -> list[Proposal]: ...
