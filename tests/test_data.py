"""Trajectory files: loading, lossless round trip, frames, and errors that name file, line and field."""

import json

import pytest

from patchworld.data import (
    Trajectory,
    TrajectoryFormatError,
    Transition,
    load_trajectories,
    save_trajectories,
    to_frame,
)


def make_traj(task: int = 0, split: str = "train", n: int = 2) -> Trajectory:
    transitions = tuple(
        Transition(f"obs {i}", f"act {i}", f"obs {i + 1}", 1.0 if i == n - 1 else 0, i == n - 1) for i in range(n)
    )
    return Trajectory("maze", f"maze_{task}", task, 0, split, True, 1.0, transitions, {"policy": "expert"})


def good_record() -> dict:
    return make_traj(5).to_dict()


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_is_lossless(tmp_path):
    trajs = [make_traj(1), make_traj(2, "val", 3)]
    path = save_trajectories(trajs, tmp_path / "a.jsonl")
    loaded = load_trajectories(path)
    assert loaded == trajs
    assert [t.extra for t in loaded] == [{"policy": "expert"}] * 2
    # int rewards stay ints, so a second save gives the same bytes
    save_trajectories(loaded, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert isinstance(loaded[0].transitions[0].reward, int)


def test_accepts_path_glob_and_list(tmp_path):
    save_trajectories([make_traj(1)], tmp_path / "x_train.jsonl")
    save_trajectories([make_traj(2), make_traj(3)], tmp_path / "x_val.jsonl")
    assert len(load_trajectories(str(tmp_path / "x_*.jsonl"))) == 3
    assert len(load_trajectories([tmp_path / "x_train.jsonl", tmp_path / "x_val.jsonl"])) == 3
    assert len(load_trajectories(tmp_path / "x_val.jsonl")) == 2
    with pytest.raises(FileNotFoundError):
        load_trajectories(str(tmp_path / "nothing_*.jsonl"))


def test_frame_has_one_row_per_transition():
    frame = to_frame([make_traj(1, n=2), make_traj(2, n=3)])
    assert frame.height == 5
    assert frame["traj_id"].to_list()[:2] == ["maze/1/0", "maze/1/0"]
    assert frame["step"].to_list() == [0, 1, 0, 1, 2]
    assert set(frame.columns) >= {"observation", "action", "next_observation", "reward", "done", "split"}


@pytest.mark.parametrize(
    "mutate, line, field",
    [
        (lambda r: "{not json", 2, "<json>"),
        (lambda r: r.update(transitions={"a": 1}) or r, 2, "transitions"),
        (lambda r: r["metadata"].update(success="maybe") or r, 2, "metadata.success"),
        (lambda r: r["metadata"].update(task_idx=True) or r, 2, "metadata.task_idx"),
        (lambda r: r["transitions"][1].update(next_observation=["x"]) or r, 2, "transitions[1].next_observation"),
        (lambda r: r["transitions"][0].update(reward="one") or r, 2, "transitions[0].reward"),
        (lambda r: r["transitions"][0].update(done={"x": 1}) or r, 2, "transitions[0].done"),
        (lambda r: r.update(metadata=[1]) or r, 2, "metadata"),
        (lambda r: [1, 2], 2, "<record>"),
        (lambda r: "[" * 5000 + "]" * 5000, 2, "<json>"),
        (lambda r: '{"metadata": {"task_idx": ' + "9" * 4400 + "}}", 2, "<json>"),
        (lambda r: json.dumps(r).replace("obs 1", "obs \\ud800 1"), 2, "transitions[0].next_observation"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path, mutate, line, field):
    bad = mutate(good_record())
    text = bad if isinstance(bad, str) else json.dumps(bad)
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(good_record()), text])
    with pytest.raises(TrajectoryFormatError) as info:
        load_trajectories(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert str(path) in str(err) and f":{line}:" in str(err) and field in str(err)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(TrajectoryFormatError, match="empty file"):
        load_trajectories(path)


def test_save_does_not_clobber_on_failure(tmp_path):
    path = save_trajectories([make_traj(1)], tmp_path / "keep.jsonl")
    before = path.read_bytes()

    class Boom(Trajectory):
        def to_dict(self):
            raise RuntimeError("boom")

    boom = Boom("maze", "m", 1, 0, "train", True, 1.0, ())
    with pytest.raises(RuntimeError):
        save_trajectories([make_traj(2), boom], path)
    assert path.read_bytes() == before
