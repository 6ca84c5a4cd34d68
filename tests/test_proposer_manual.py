"""Manual proposer: a person's edit becomes a minimal patch that goes through the same gate."""

from __future__ import annotations

import pytest

from patchworld.counterexamples import Counterexample
from patchworld.patches import apply_patch
from patchworld.program import Program
from patchworld.proposers import ManualProposer, Proposer, manual_patch
from patchworld.proposers.base import ProposalRequest

SRC = "class M:\n    def predict_belief(self, b, a):\n        return b + 1\n\n    def readout_observation(self, b, a=''):\n        return str(b)\n"
EDITED = SRC.replace("return b + 1", "return b + 2")


def test_manual_patch_is_minimal_and_applies() -> None:
    parent = Program(SRC)
    patch = manual_patch(parent, EDITED)
    assert patch.origin == "manual" and patch.parent == parent.hash
    assert len(patch.edits) == 1 and "b + 1" in patch.edits[0].search and "b + 2" in patch.edits[0].replace
    assert "readout_observation" not in patch.edits[0].search  # only the changed region plus context
    assert apply_patch(SRC, patch).source == EDITED


def test_manual_patch_rejects_a_no_op() -> None:
    with pytest.raises(ValueError, match="identical"):
        manual_patch(Program(SRC), SRC)


def test_manual_proposer_returns_one_proposal() -> None:
    cx = Counterexample("t/0/0", 3, "1", "a", "1", "2", "3", "mismatch", "")
    proposer = ManualProposer(EDITED)
    assert isinstance(proposer, Proposer) and proposer.name == "manual"
    (proposal,) = proposer.propose(ProposalRequest("t", Program(SRC), [cx], n=4))
    assert proposal.kind == "manual" and proposal.patch.counterexample_ids == ("t/0/0#3",)
    assert apply_patch(SRC, proposal.patch).source == EDITED
    (same,) = ManualProposer(SRC).propose(ProposalRequest("t", Program(SRC), [cx], n=1))
    assert same.kind == "error" and same.patch is None and "identical" in same.error
