"""A person's edit as a patch, so hand edits pass through the same gate as proposals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from patchworld.patches import Patch, patch_from_sources
from patchworld.proposers.base import Proposal, ProposalRequest

if TYPE_CHECKING:
    from patchworld.program import Program

__all__ = ["manual_patch", "ManualProposer"]


def manual_patch(parent: Program, edited_source: str, note: str = "hand edit",
                 counterexample_ids: Sequence[str] = ()) -> Patch:
    """The minimal SEARCH/REPLACE patch turning ``parent`` into ``edited_source`` (origin ``"manual"``).

    Raises ``ValueError`` when the edit changes nothing.
    """
    if edited_source == parent.source:
        raise ValueError("the edited source is identical to the current program: nothing to submit")
    return patch_from_sources(parent, edited_source, origin="manual", note=note, counterexample_ids=counterexample_ids)


class ManualProposer:
    """Proposes exactly one thing: the given edited source, as a patch against the request's program."""

    name = "manual"

    def __init__(self, edited_source: str, note: str = "hand edit"):
        self.edited_source = edited_source
        self.note = note

    def propose(self, request: ProposalRequest) -> list[Proposal]:
        """One proposal (``kind="manual"``); an unchanged source gives a ``kind="error"`` proposal."""
        ids = [getattr(cx, "id", "") for cx in request.counterexamples]
        try:
            patch = manual_patch(request.program, self.edited_source, self.note, ids)
        except ValueError as exc:
            return [Proposal(None, "error", error=str(exc))]
        return [Proposal(patch, "manual", response=self.edited_source)]
