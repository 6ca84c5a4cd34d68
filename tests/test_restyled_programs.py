"""The restyled programs (``data/programs/restyled/``) are the hand-written ones written again by another
hand, so that the repair benchmark can plant bugs in code the search was not tuned on. That only means
something while each one behaves like its original: same predictions on val (so the same scores), and a
different text (so it is not a copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchworld.data import load_trajectories
from patchworld.program import Program
from patchworld.replay import replay

ROOT = Path(__file__).resolve().parents[1]
RESTYLED = ROOT / "data" / "programs" / "restyled"
ORIGINALS = {"maze": "maze_reference.py"}   # the others are rewrites of handwritten/<env>.py


def _original(env: str) -> Path:
    return ROOT / "data" / "programs" / ORIGINALS.get(env, f"handwritten/{env}.py")


@pytest.mark.parametrize("env", sorted(p.stem for p in RESTYLED.glob("*.py")))
def test_restyled_program_predicts_what_its_original_does(env):
    val = load_trajectories(ROOT / "data" / "trajectories" / env / f"{env}_traj_val.jsonl")
    restyled, original = Program.from_file(RESTYLED / f"{env}.py"), Program.from_file(_original(env))
    assert restyled.source.splitlines()[2:] != original.source.splitlines()[2:]
    new, old = (replay(p, val, lean=True).steps for p in (restyled, original))
    assert new.height == old.height > 0
    assert new.get_column("error_kind").to_list() == old.get_column("error_kind").to_list()
    differing = [(i, a, b) for i, (a, b) in enumerate(zip(new.get_column("predicted").to_list(),
                                                          old.get_column("predicted").to_list(), strict=True))
                 if a != b]
    assert not differing, f"{env}: {len(differing)} predictions differ, first {differing[0]}"
