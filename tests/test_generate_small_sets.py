"""generate on a problem set or catalogue smaller than the splits: one line naming the remedy, no traceback."""

from __future__ import annotations

import pytest

from patchworld.cli import main
from patchworld.envs.generate import TooFewTasks, split_tasks


def test_split_tasks_says_how_many_tasks_each_split_needs():
    with pytest.raises(TooFewTasks) as err:
        split_tasks(list(range(30)), (40, 15, 15), seed=0)
    assert str(err.value) == "the env has only 30 tasks; the splits need 70 (train 40, val 15, test 15)"
    assert sorted(sum(split_tasks(list(range(70)), (40, 15, 15), seed=0).values(), [])) == list(range(70))


def test_a_problem_set_smaller_than_the_splits_is_one_line(tmp_path, capsys):
    code = main(["generate", "--env", "alfworld", "--problems", "30", "--seed", "3", "--out", str(tmp_path / "g")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["patchworld generate: the env has only 30 tasks; the splits need 70 "
                                        "(train 40, val 15, test 15); pass a larger --problems"]
    assert not list((tmp_path / "g").glob("*_traj_*.jsonl"))
