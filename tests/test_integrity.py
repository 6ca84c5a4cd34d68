"""No number means anything while a program can read the answer: the cheats corpus.

Each program in ``tests/hostile/cheats/`` is a ``_cheat(observation, action)`` that tries to
find the true next observation (frame walks, ``gc``, ``inspect``, ``sys.modules``, the data on
disk, ``/proc/self/mem``, forged result frames, a ``str`` whose ``==`` is always true). It is
wrapped around the flawed maze program: the wrapper returns the cheat's answer when it finds one,
else the honest prediction. The same wrapper with a cheat that finds nothing is the baseline.
In the sandbox, every cheat must score no higher than the baseline, in teacher and rollout
mode, end with a typed outcome, and be rejected by ``Session.submit``'s gate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from patchworld.data import load_trajectories
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import Limits
from patchworld.sandbox.job import OUTCOMES
from patchworld.synthesis import Session

ROOT = Path(__file__).resolve().parents[1]
CHEATS = Path(__file__).parent / "hostile" / "cheats"
BASE = ROOT / "data" / "programs" / "maze_flawed.py"
LIMITS = Limits(cpu_seconds=20, memory_mb=600, wall_seconds=60, step_seconds=5)
NAMES = sorted(p.stem for p in CHEATS.glob("*.py") if not p.stem.startswith("_"))

WRAPPER = '''

class CheatingModel({base}):
    def correct_belief(self, belief, obs):
        self._pw_obs = obs
        return super().correct_belief(belief, obs)

    def readout_observation(self, belief, action=""):
        honest = super().readout_observation(belief, action)
        try:
            answer = _cheat(getattr(self, "_pw_obs", ""), action)
        except BaseException:
            answer = None
        if answer == "WRAP" and "_Yes" in globals():
            return globals()["_Yes"](honest)
        return answer if isinstance(answer, str) else honest
'''


def _source(cheat: str | None) -> str:
    base = BASE.read_text()
    name = re.findall(r"^class (\w+)\(", base, re.M)[-1]
    body = (CHEATS / f"{cheat}.py").read_text() if cheat else "def _cheat(obs, action):\n    return None\n"
    return "\n".join([base, (CHEATS / "_finder.py").read_text(), body, WRAPPER.format(base=name)])


@pytest.fixture(scope="module")
def splits():
    folder = ROOT / "data" / "trajectories" / "maze"
    return load_trajectories(folder / "maze_traj_train.jsonl")[:3], load_trajectories(folder / "maze_traj_val.jsonl")[:4]


@pytest.fixture(scope="module")
def baseline(splits):
    honest = Program.from_source(_source(None))
    return {mode: replay(honest, splits[1], mode=mode, limits=LIMITS) for mode in ("teacher", "rollout")}


def test_the_baseline_is_imperfect_so_a_cheat_could_gain(baseline):
    for result in baseline.values():
        assert result.outcome == "ok", result.detail
        assert result.metrics["exact_match"] < 1.0  # room for a cheat to show up


@pytest.mark.parametrize("name", ["getframe_walk", "traceback_frames", "inspect_stack", "read_trajectories"])
def test_the_cheats_work_where_the_answer_is_reachable(name, splits):
    # in this (trusted) process, where the answers are on the stack and the disk is open, they find
    # every answer: the corpus has teeth, so a leak in the sandbox would show as a gain
    cheat = replay(Program.from_source(_source(name)), splits[1], sandbox=False)
    assert cheat.metrics["exact_match"] == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_a_cheat_gains_nothing_and_the_gate_rejects_it(name, splits, baseline, tmp_path):
    program = Program.from_source(_source(name))
    for mode, honest in baseline.items():
        result = replay(program, splits[1], mode=mode, limits=LIMITS)
        assert result.outcome in OUTCOMES, result.outcome
        for metric in ("token_f1", "exact_match"):
            assert result.metrics[metric] <= honest.metrics[metric] + 1e-9, (mode, metric, result.metrics[metric])
    session = Session("maze", splits[0], splits[1], program=Program.from_source(_source(None)),
                      run_dir=tmp_path / "run", sandbox=True, limits=LIMITS, workers=1)
    try:
        verdict = session.submit(program.source)
    finally:
        session.close()
    assert not verdict.accepted, verdict.reason


PER_TRAJECTORY_MEMORY = """

class MemoInBelief(MazeWorldModel):  # the same memory kept in the belief: one trajectory's only
    def init_belief(self):
        return {**super().init_belief(), "seen": {}, "last": None, "obs": ""}

    def correct_belief(self, belief, obs):
        seen = dict(belief.get("seen", {}))
        if belief.get("last") is not None:
            seen[belief["last"]] = obs
        return {**super().correct_belief(belief, obs), "seen": seen, "obs": obs}

    def predict_belief(self, belief, action):
        return {**super().predict_belief(belief, action), "last": (belief.get("obs", ""), action)}

    def readout_observation(self, belief, action=""):
        honest = super().readout_observation(belief, action)
        return belief.get("seen", {}).get(belief.get("last"), honest)
"""


def test_memory_across_trajectories_is_cut_off_by_isolation_and_the_gate_scores_without_it(tmp_path):
    """Within one job the program sees every trajectory's true observations (each after predicting it);
    a table kept across trajectories turns val labels into predictions for other trajectories. With
    one worker per trajectory (``isolate``: what the gate confirms an accepted program with and what
    evaluation reports) it scores exactly what the same memory kept per trajectory (in the belief,
    legitimate) scores, and the gate's recorded score is that one, not the leaked one."""
    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = load_trajectories(folder / "maze_traj_train.jsonl")[:3], load_trajectories(folder / "maze_traj_val.jsonl")
    base = BASE.read_text()
    cheat = Program.from_source(base + "\n" + (CHEATS.parent / "cross_trajectory_memory.py").read_text())
    fair = Program.from_source(base + PER_TRAJECTORY_MEMORY)
    shared = replay(cheat, val, mode="teacher", limits=LIMITS)
    alone = replay(cheat, val, mode="teacher", limits=LIMITS, isolate=True)
    legit = replay(fair, val, mode="teacher", limits=LIMITS, isolate=True)
    assert alone.outcome == legit.outcome == "ok"
    # in one job its predictions depend on the other trajectories (the leak is real) ...
    assert shared.steps["predicted"].to_list() != alone.steps["predicted"].to_list()
    assert alone.steps["predicted"].to_list() == legit.steps["predicted"].to_list()  # ... and gone when isolated
    session = Session("maze", train, val, program=Program.from_source(base), run_dir=tmp_path / "run",
                      limits=LIMITS, workers=1)
    try:
        verdict = session.submit(cheat.source)
        recorded = session.score["token_f1"]
    finally:
        session.close()
    if verdict.accepted:   # accepted for what it earns without the leak, and recorded at that score
        assert recorded == legit.metrics["token_f1"] != shared.metrics["token_f1"]
    else:
        assert "other trajectories" in verdict.reason, verdict.reason


def test_the_replay_command_reports_what_a_program_scores_without_other_trajectories(tmp_path, capsys):
    """``patchworld replay`` gives each trajectory a fresh worker unless told otherwise: a table kept
    across trajectories scores there exactly what the same table kept per trajectory scores; only
    ``--shared-workers`` lets the other trajectories' labels change its score."""
    from patchworld.cli import main

    cheat = tmp_path / "cheat.py"
    cheat.write_text(BASE.read_text() + "\n" + (CHEATS.parent / "cross_trajectory_memory.py").read_text())
    fair = tmp_path / "fair.py"
    fair.write_text(BASE.read_text() + PER_TRAJECTORY_MEMORY)

    def f1(*args: str) -> float:
        assert main(["replay", *args, "--env", "maze", "--split", "val", "--show", "0"]) == 0
        return float(re.search(r"token_f1\s+([0-9.]+)", capsys.readouterr().out).group(1))

    isolated, legit, shared = f1(str(cheat)), f1(str(fair)), f1(str(cheat), "--shared-workers")
    assert isolated == legit != shared
