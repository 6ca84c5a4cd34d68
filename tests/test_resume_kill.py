"""A run killed with SIGKILL mid-run loses no accepted round, stays loadable, and resumes.

The test starts a real run in a subprocess (this file run as a script), waits until the
candidate log holds an accepted round, kills the process with SIGKILL, then loads and
resumes the run folder.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAWED = ROOT / "data" / "programs" / "maze_flawed.py"
GOAL_BUG = ("{GOAL[1]}, {GOAL[0]}", "{GOAL[0]}, {GOAL[1]}")
MOVE_BUG = ("row + MOVES[action][1], col + MOVES[action][0]", "row + MOVES[action][0], col + MOVES[action][1]")


def _trajectories(split: str, tasks: list[int]):
    from patchworld.data import Trajectory
    from patchworld.envs import make
    from patchworld.envs.generate import rollout
    from patchworld.envs.policies import mixture_policy

    env = make("maze")
    out = []
    for task in tasks:
        transitions, success = rollout(env, task, mixture_policy(0.5, 0.1), random.Random(f"k-{task}"), 10)
        out.append(Trajectory("maze", f"maze_{task}", task, 0, split, success, sum(t.reward for t in transitions),
                              tuple(transitions)))
    return out


class SlowProposer:
    """In ``fix_rounds`` it proposes a fix of the next remaining planted bug (goal bug first, and in
    the killed run only that one, so the run never ends by itself); otherwise harmless comments."""

    name = "slow-scripted"

    def __init__(self, delay: float = 0.15, fix_rounds: set[int] | None = None, fixes=(GOAL_BUG,)):
        self.delay = delay
        self.fix_rounds = fix_rounds
        self.fixes = fixes

    def propose(self, request):
        from patchworld.patches import Edit, Patch
        from patchworld.proposers.base import Proposal

        time.sleep(self.delay)
        src = request.program.source
        fix_now = self.fix_rounds is None or request.round in self.fix_rounds
        edits = [e for e in self.fixes if e[0] in src][:1] if fix_now else []
        edits = edits or [("import re\n", f"import re  # round {request.round}\n")]
        out = []
        for k, (search, replace) in enumerate(edits * 2):   # two candidates: a fix (or comment) and its twin
            replace = replace if k == 0 else replace + f"# twin {request.round}\n"
            patch = Patch(request.program.hash, (Edit(search, replace),), (), "scripted", "scripted edit")
            out.append(Proposal(patch, "search_replace", prompt="p", response="r"))
        return out


def _child(run_dir: str) -> None:
    """Run forever (until killed): the subprocess side of the test."""
    from patchworld.program import Program
    from patchworld.synthesis import Session

    session = Session("maze", _trajectories("train", [0, 13]), _trajectories("val", [2, 9, 16]),
                      program=Program.from_file(FLAWED), proposer=SlowProposer(fix_rounds={1}), run_dir=run_dir,
                      sandbox=False)
    session.run(10_000, patience=10_000)


def _wait_for_accepted(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the run exited early: {proc.stderr.read().decode()[-2000:]}")
        if path.exists() and '"accepted": true' in path.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.05)
    raise AssertionError("no accepted round appeared in time")


def test_sigkill_mid_run_then_resume(tmp_path):
    from patchworld.store import RunStore, load_run
    from patchworld.synthesis import Session

    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, __file__, str(run_dir)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_accepted(run_dir / "candidates.jsonl", proc)
        time.sleep(random.Random(os.getpid()).uniform(0.0, 0.6))   # land somewhere inside a later round
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a torn last line is allowed (and only warned about)
        run = load_run(run_dir)
        records = RunStore(run_dir).candidates()
    accepted = [r for r in records if r["accepted"]]
    assert accepted, "the accepted round seen before the kill is gone"
    assert accepted[0]["round"] == 1
    for r in accepted:
        assert (run_dir / "programs" / f"{r['child']}.py").exists()
    assert run.current == accepted[-1]["child"]
    last_round = max(r["round"] for r in records)

    session = Session.resume(run_dir, proposer=SlowProposer(delay=0.0, fixes=(GOAL_BUG, MOVE_BUG)))
    assert session.current.hash == accepted[-1]["child"]
    assert session.round >= last_round
    session.run(4, patience=4)      # the resumed run fixes the remaining (move) bug and reaches exact val
    assert "{GOAL[0]}, {GOAL[1]}" in session.current.source and MOVE_BUG[1] in session.current.source
    assert session.score["exact_match"] == 1.0

    final = load_run(run_dir)
    ids = final.candidates["candidate_id"].to_list()
    assert len(ids) == len(set(ids)), "a resumed run reuses candidate ids"
    kept = final.candidates.filter(final.candidates["accepted"])["child"].to_list()
    assert kept[: len(accepted)] == [r["child"] for r in accepted]     # history intact, in order
    assert final.rounds["round"].to_list() == sorted(set(final.rounds["round"].to_list()))
    assert session.score["token_f1"] >= run.rounds["val_token_f1"].max()


if __name__ == "__main__":
    _child(sys.argv[1])
