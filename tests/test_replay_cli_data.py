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
