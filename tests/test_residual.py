"""The residual memory: train-only, thresholds, capacity, serialization, and its effect on replay."""

from __future__ import annotations

import pickle

import pytest

from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.residual import PRESETS, Residual, ResidualMemory, hit_counts

SHIPPED = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "trajectories"

# A program that always predicts the current observation unchanged (wrong whenever things change).
ECHO = '''
class Echo:
    def init_belief(self):
        return {}
    def correct_belief(self, belief, obs):
        return {"obs": obs}
    def predict_belief(self, belief, action):
        return dict(belief)
    def readout_observation(self, belief, action=""):
        return belief.get("obs", "")
'''


def _traj(i: int, steps: list[tuple[str, str, str]], split: str = "train") -> Trajectory:
    ts = tuple(Transition(o, a, n, 0.0, False) for o, a, n in steps)
    return Trajectory("toy", str(i), i, 0, split, False, 0.0, ts)


def _light_world(split: str = "train") -> list[Trajectory]:
    # flipping the switch toggles the light; seen several times
    steps = [("The light is off.", "flip switch", "The light is on."), ("The light is on.", "flip switch", "The light is off.")]
    return [_traj(i, steps, split) for i in range(3)]


def test_build_refuses_val_and_test() -> None:
    for split in ("val", "test"):
        with pytest.raises(ValueError, match=split):
            ResidualMemory.build(_light_world() + _light_world(split))


def test_thresholds_and_normalization() -> None:
    trajs = [
        _traj(0, [("a  room ", "go north", "hall"), ("x", "wait", "y")]),
        _traj(1, [("A room", "go  North", "hall"), ("x", "wait", "z")]),
        _traj(2, [("a room", "go north", "garden")]),
    ]
    memory = ResidualMemory.build(trajs, min_count=2, min_confidence=0.6)
    assert memory.lookup(" a ROOM", "go north ") == "hall"  # 2 of 3 = 0.67 >= 0.6; case and whitespace ignored
    assert memory.lookup("x", "wait") is None  # count 1 < 2
    assert ResidualMemory.build(trajs, min_count=2, min_confidence=0.7).lookup("a room", "go north") is None
    default = ResidualMemory.build(trajs)  # the reference's settings: count >= 1, confidence 1.0, unlimited
    assert (default.min_count, default.min_confidence, default.max_entries, default.lowercase) == (1, 1.0, 0, True)
    assert default.lookup("a room", "go north") is None and default.lookup("x", "wait") is None  # conflicting keys
    conservative = ResidualMemory.preset(trajs, "conservative")
    assert conservative.lookup("A room", "go  North") is None  # the conservative preset keeps case
    assert conservative.lookup("a room", "go north") is None  # "A room" and "a room" are different keys: 1 each
    with pytest.raises(ValueError, match="reference, conservative"):
        ResidualMemory.preset(trajs, "huge")


def test_capacity_keeps_the_most_frequent_keys_and_zero_means_unlimited() -> None:
    trajs = [_traj(i, [("common", "act", "next")]) for i in range(5)] + [
        _traj(10 + i, [("rare", "act", "other")]) for i in range(2)
    ]
    memory = ResidualMemory.build(trajs, max_entries=1)
    assert len(memory) == 1
    assert memory.lookup("common", "act") == "next" and memory.lookup("rare", "act") is None
    assert len(ResidualMemory.build(trajs, max_entries=0)) == 2


def _reference_rule_count(path) -> int:
    """The reference's rule, written out independently: keys lower-cased and whitespace-collapsed; a key is
    kept when its most common next observation is every one of its transitions (confidence 1.0, count >= 1)."""
    import json

    seen: dict = {}
    for line in open(path, encoding="utf-8"):
        for t in json.loads(line)["transitions"]:
            key = (" ".join(t["observation"].lower().split()), " ".join(t["action"].lower().split()))
            seen.setdefault(key, set()).add(t["next_observation"])
    return sum(1 for outs in seen.values() if len(outs) == 1)


@pytest.mark.parametrize("env", ["wordle", "maze"])
def test_default_memory_keeps_as_many_entries_as_the_reference_rule(env: str) -> None:
    from patchworld.data import load_trajectories

    path = SHIPPED / env / f"{env}_traj_train.jsonl"
    memory = Residual.wrap(Program.from_source(ECHO), load_trajectories(path)).memory
    assert len(memory) == _reference_rule_count(path)
    assert len(ResidualMemory.preset(load_trajectories(path), "conservative")) < len(memory)
    assert PRESETS["reference"] == {"min_count": 1, "min_confidence": 1.0, "max_entries": 0, "lowercase": True}


def test_hit_counts_report_hits_and_wrong_hits() -> None:
    assert hit_counts([True, True, False, True], ["a", "b", "c", "d"], ["a", "x", "y", "d"]) == {
        "memory_hits": 3, "memory_wrong_hits": 1}
    trajs = [_traj(0, [("s", "go", "t1")]), _traj(1, [("s", "go", "t1")])]
    test = [_traj(2, [("S", "go", "t2")], "test")]  # a memorised key, but the truth differs this time
    result = replay(Program.from_source(ECHO), test, sandbox=False, residual=ResidualMemory.build(trajs))
    got = hit_counts(result.steps["from_memory"], result.steps["predicted"], result.steps["true"])
    assert got == {"memory_hits": 1, "memory_wrong_hits": 1}


def test_round_trips_through_dict_and_pickle() -> None:
    memory = ResidualMemory.build(_light_world())
    again = ResidualMemory.from_dict(memory.to_dict())
    assert again.table == memory.table and again.counts == memory.counts
    assert pickle.loads(pickle.dumps(memory)).table == memory.table


@pytest.mark.parametrize("sandbox", [False, True])
def test_residual_beats_its_program_on_train_like_data(sandbox: bool) -> None:
    train = _light_world()
    memory = ResidualMemory.build(train)
    program = Program.from_source(ECHO)
    plain = replay(program, train, sandbox=sandbox)
    boosted = replay(program, train, sandbox=sandbox, residual=memory)
    assert plain.metrics["exact_match"] == 0.0
    assert boosted.metrics["exact_match"] == 1.0
    assert boosted.metrics["n_from_memory"] == 6 and boosted.steps["from_memory"].all()
    assert plain.metrics["n_from_memory"] == 0


def test_rollout_consults_memory_with_its_own_prediction() -> None:
    train = _light_world()
    memory = ResidualMemory.build(train)
    result = replay(Program.from_source(ECHO), train, mode="rollout", sandbox=False, residual=memory)
    # step 0 uses the true first observation; step 1 uses the memory's own prediction "on" -> "off"
    assert result.steps["predicted"].to_list()[:2] == ["The light is on.", "The light is off."]
    assert result.metrics["rollout_auc"] == 1.0


def test_live_model_uses_the_memory_for_the_current_text() -> None:
    from patchworld.sandbox import open_model

    memory = ResidualMemory.build(_light_world())
    with open_model(Program.from_source(ECHO), residual=memory) as model:
        h = model.init("The light is off.")
        p = model.predict(h, "flip switch")
        assert p.observation == "The light is on."
        assert model.predict(p.handle, "flip switch").observation == "The light is off."  # keyed on its own text
        assert model.predict(h, "dance").observation == "The light is off."  # a miss: the program's readout
