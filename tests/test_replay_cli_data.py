"""replay --data given a folder (it takes files): one line pointing at --data-dir, no '[Errno 21]'."""

from __future__ import annotations

from pathlib import Path

from patchworld.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_a_folder_given_to_data_points_at_data_dir(tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    code = main(["replay", str(ROOT / "data" / "programs" / "maze_flawed.py"), "--env", "maze", "--data", str(folder)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"patchworld replay: --data {folder} is a folder; give trajectory files, "
                                        f"or the folder as --data-dir {folder} (it holds maze_traj_<split>.jsonl)"]


def test_a_program_after_data_files_is_the_program_not_a_trajectory_file(capsys):
    data = str(ROOT / "data" / "trajectories" / "maze" / "maze_traj_val.jsonl")
    code = main(["replay", "--env", "maze", "--no-sandbox", "--show", "0", "--data", data,
                 str(ROOT / "data" / "programs" / "maze_flawed.py")])
    out = capsys.readouterr().out
    assert code == 0 and "(" + str(ROOT / "data" / "programs" / "maze_flawed.py") + ")" in out
    assert "on 24 trajectories" in out


def test_no_program_at_all_is_one_line_saying_so(capsys):
    code = main(["replay", "--env", "maze"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "program (.py)" in err
