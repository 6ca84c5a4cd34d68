"""Undoing one hunk of an earlier accepted edit (patchworld.revert): the compensation case behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchworld.patches import apply_patch
from patchworld.program import Program
from patchworld.revert import hunks, reverts

ROOT = Path(__file__).resolve().parents[1]

_BASE = '''def f(x):
    y = x + 1
    z = y * 2
    return z


def g(x):
    if x > 0:
        return "pos"
    return "neg"
'''


def test_hunks_carry_one_context_line_each_side():
    after = _BASE.replace("    z = y * 2\n", "").replace('"neg"', '"zero"')
    blocks = hunks(_BASE, after)
    assert len(blocks) == 2
    pattern, replacement, lead = blocks[0]           # a deleted line: context only, the line comes back
    assert pattern == ["    y = x + 1\n", "    return z\n"] and lead == 1
    assert replacement == ["    y = x + 1\n", "    z = y * 2\n", "    return z\n"]
    pattern, replacement, lead = blocks[1]
    assert pattern[1] == '    return "zero"\n' and replacement[1] == '    return "neg"\n'


def test_each_hunk_of_an_accepted_edit_is_undone_alone_in_the_current_program():
    edited = _BASE.replace("    z = y * 2\n", "").replace('"neg"', '"zero"')   # one accepted (combined) edit
    current = Program(edited.replace("x > 0", "x >= 0"))                      # then a later one elsewhere
    history = [(_BASE, edited, "r001b007")]
    props = reverts(current, history)
    children = [apply_patch(current.source, p.patch).source for p in props]
    assert children == [current.source.replace("    return z\n", "    z = y * 2\n    return z\n", 1),
                        current.source.replace('"zero"', '"neg"')]
    assert [(p.extra["function"], p.extra["line"], p.extra["revert"]) for p in props] == [
        ("f", 3, "r001b007"), ("g", 9, "r001b007")]
    assert all(p.patch.origin == "revert" for p in props)


def test_a_revert_giving_back_a_known_program_or_no_longer_applying_is_skipped():
    edited = _BASE.replace('"neg"', '"zero"')
    assert reverts(Program(edited), [(_BASE, edited, "r001b000")]) == []
    moved_on = Program(edited.replace('"zero"', '"none"'))     # the hunk's text is gone from the program
    assert reverts(moved_on, [(_BASE, edited, "r001b000")]) == []


@pytest.mark.slow
def test_a_compensating_deletion_is_undone_once_the_bug_it_hid_is_fixed(tmp_path):
    """Hand-written WebShop with a negated ``elif`` in ``correct_belief`` (seed 77 of the repair
    benchmark). Once, round 1 accepted deleting ``predict_belief``'s reset of reward, done and
    prediction (with the ``elif`` wrong, that scored better) and round 3 fixed the ``elif``; the
    deletion then cost val and no mutation puts a statement back. Which path a search takes to that
    state depends on its pool (since joined beam members get redos, seed 77 repairs the bug another
    way), so the session starts in it: the fixed program without the statement, that history
    accepted. Only undoing round 1's hunk reaches the original's val in one round."""
    from patchworld.beam import Member
    from patchworld.bugs import plant_sites
    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    source = (ROOT / "data/programs/handwritten/webshop.py").read_text(encoding="utf-8")
    bug = next(b for b in plant_sites(source) if b.label.startswith("negate_if@correct_belief:89"))
    reset = '        b["reward"], b["done"], b["pred"] = 0.0, False, belief["obs"]\n'
    assert source.count(reset) == 1
    buggy = bug.apply(source)
    compensated = buggy.replace(reset, "")
    fixed = source.replace(reset, "")    # the elif fixed, the compensation still there
    folder = ROOT / "data/trajectories/webshop"
    train, val = (load_trajectories(folder / f"webshop_traj_{s}.jsonl") for s in ("train", "val"))
    original = score_key(score(replay(Program(source), val)))
    session = Session("webshop", train, val, program=Program(fixed), proposer=MutationProposer(seed=77),
                      run_dir=tmp_path / "run", n_candidates=64, search="beam", seed=77)
    assert score_key(session.score) < original   # the compensation is a bug of its own now
    session.beam.accepted = [(buggy, compensated, "r001b000"), (compensated, fixed, "r003b000")]
    session.beam.reset(Member.of(session.current, session.val_replay()))
    session.beam.members[0].revert = True   # as beam_step leaves a program it just accepted
    try:
        session.step()
    finally:
        session.close()
    accepted = [r for r in session.store.candidates() if r.get("accepted")]
    assert [r["origin"] for r in accepted] == ["revert"], [r.get("note") for r in accepted]
    assert score_key(session.score) >= original
    assert session.current.source == source
