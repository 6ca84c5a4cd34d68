"""Trajectory files the reference's loader accepts load here too: coerced like the reference, one warning per file.

Each variant changes one thing in a canonical record; the test checks that it loads, what the
warning says (kind, first line, field) and the coerced values. Unreadable input (bad bytes, a
lone surrogate) is an error naming file, line, field and position.
"""

import json
import warnings

import pytest

from patchworld.data import TrajectoryCoercionWarning, TrajectoryFormatError, load_trajectories


def record(**meta_changes) -> dict:
    meta = {"env": "maze", "item_id": "maze_3", "task_idx": 3, "rollout_index": 0, "split": "test",
            "success": True, "total_reward": 1.0}
    meta.update(meta_changes)
    return {"metadata": meta, "transitions": [
        {"observation": "o0", "action": "move up", "next_observation": "o1", "reward": 0, "done": False},
        {"observation": "o1", "action": "move up", "next_observation": "Success", "reward": 1.0, "done": True}]}


def load_one(tmp_path, rec, name="maze_traj_test.jsonl"):
    path = tmp_path / name
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trajs = load_trajectories(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, TrajectoryCoercionWarning)]
    assert len(messages) <= 1, "one warning per file"
    return trajs[0], (messages[0] if messages else "")


def with_transition(change):
    rec = record()
    change(rec["transitions"])
    return rec


VARIANTS = [
    # (name, record, expected warning fragment, check on the loaded trajectory)
    ("done as 0/1", with_transition(lambda ts: [t.update(done=int(t["done"])) for t in ts]),
     "flag given as a number -> bool (2 values, first at line 1, transitions[0].done)",
     lambda t: [x.done for x in t.transitions] == [False, True]),
    ("done as strings", with_transition(lambda ts: [t.update(done=str(t["done"]).lower()) for t in ts]),
     "flag given as a string -> bool", lambda t: [x.done for x in t.transitions] == [False, True]),
    ("reward as string", with_transition(lambda ts: ts[1].update(reward="1.0")),
     "number given as a string -> float (1 value, first at line 1, transitions[1].reward)",
     lambda t: t.transitions[1].reward == 1.0 and isinstance(t.transitions[1].reward, float)),
    ("task_idx as string", record(task_idx="7"), "metadata.task_idx", lambda t: t.task_idx == 7),
    ("task_idx as float", record(task_idx=7.0), "index given as a float or string -> int", lambda t: t.task_idx == 7),
    ("rollout_index as float", record(rollout_index=2.0), "metadata.rollout_index", lambda t: t.rollout_index == 2),
    ("success as 0/1", record(success=1), "metadata.success", lambda t: t.success is True),
    ("total_reward as string", record(total_reward="1"), "metadata.total_reward", lambda t: t.total_reward == 1.0),
    ("null total_reward", record(total_reward=None), "null number -> 0.0", lambda t: t.total_reward == 0.0),
    ("null item_id", record(item_id=None), "null item_id", lambda t: t.item_id == ""),
    ("null observation", with_transition(lambda ts: ts[0].update(observation=None)), "null text",
     lambda t: t.transitions[0].observation == ""),
    ("missing reward", with_transition(lambda ts: ts[0].pop("reward")), "missing reward -> default",
     lambda t: t.transitions[0].reward == 0.0),
    ("missing split", (lambda r: r["metadata"].pop("split") and r)(record()), "missing metadata.split",
     lambda t: t.split == "test"),  # from the file name
    ("no metadata", {"environment": "maze", "transitions": record()["transitions"]},
     "no metadata -> env from 'environment'",
     lambda t: (t.env, t.task_idx, t.rollout_index, t.split, t.success, t.total_reward) == ("maze", -1, 0, "test",
                                                                                             False, 1.0)),
    ("empty metadata", {"metadata": {}, "transitions": record()["transitions"]}, "no metadata",
     lambda t: t.env == "maze" and t.split == "test"),  # env and split from maze_traj_test.jsonl
]


@pytest.mark.parametrize("rec, fragment, check", [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_variant_loads_with_one_warning(tmp_path, rec, fragment, check):
    traj, message = load_one(tmp_path, rec)
    assert fragment in message, message
    assert str(tmp_path / "maze_traj_test.jsonl") in message
    assert check(traj)


def test_canonical_file_loads_without_warning(tmp_path):
    traj, message = load_one(tmp_path, record())
    assert message == "" and traj.task_idx == 3


def test_no_metadata_gives_unique_ids(tmp_path):
    rec = {"environment": "maze", "transitions": record()["transitions"]}
    path = tmp_path / "old.jsonl"
    path.write_text((json.dumps(rec) + "\n") * 3, encoding="utf-8")
    with pytest.warns(TrajectoryCoercionWarning, match="share ids"):
        trajs = load_trajectories(path)
    assert len({t.id for t in trajs}) == 3
    assert trajs[1].id == "maze/-1/0@old.jsonl:2"


def test_undecodable_bytes_name_line_and_offset(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(record()).encode() + b"\n" + b'{"metadata": "\xff\xfe"}\n')
    with pytest.raises(TrajectoryFormatError) as err:
        load_trajectories(path)
    assert err.value.line == 2 and err.value.field == "<encoding>" and "byte 14" in str(err.value)


def test_lone_surrogate_is_rejected_with_its_position(tmp_path):
    rec = record()
    text = json.dumps(rec).replace('"o1", "reward": 0', '"o\\ud83d1", "reward": 0')
    path = tmp_path / "s.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(TrajectoryFormatError) as err:
        load_trajectories(path)
    assert err.value.field == "transitions[0].next_observation"
    assert "character 1" in str(err.value) and f"{path}:1:" in str(err.value)


def test_a_byte_order_mark_at_the_start_of_a_file_is_read_past(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(record()).encode() + b"\r\n" + json.dumps(record(rollout_index=1)).encode())
    trajs = load_trajectories(path)
    assert [t.metadata()["rollout_index"] for t in trajs] == [0, 1]
    assert trajs[0].transitions[0].observation == "o0"


def test_a_raw_control_character_in_a_string_is_named_once_with_its_column(tmp_path):
    path = tmp_path / "ctl.jsonl"
    path.write_text(json.dumps(record()).replace('"o0"', '"o\t0"') + "\n", encoding="utf-8")
    with pytest.raises(TrajectoryFormatError) as err:
        load_trajectories(path)
    text = str(err.value)
    assert err.value.line == 1 and "Invalid control character at column" in text and " at at " not in text
