"""benchmarks/repair_compare.py: two repair runs matched program by program, and bad files named."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_module import load


def _module():
    return load("repair_compare")


def _row(env: str, bugs: str, repaired: bool, rounds: int, seconds: float = 1.0) -> dict:
    return {"env": env, "bugs": bugs, "n_bugs": bugs.count("+") + 1, "repaired": repaired, "rounds": rounds,
            "seconds": seconds, "cpu_seconds": 0.5}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_programs_are_paired_and_the_ones_only_one_side_repaired_are_named(tmp_path, capsys):
    a = _write(tmp_path / "a.json", [
        _row("maze", "x@f:1", True, 1), _row("maze", "y@f:2", True, 3), _row("wordle", "z@g:3", False, 40),
        _row("maze", "x@f:1 + y@f:2", True, 2), _row("maze", "x@f:1", False, 40),   # the same bug twice: second
        _row("babyai", "only@a:1", True, 1)])
    b = _write(tmp_path / "b.json", [
        _row("maze", "x@f:1", True, 5), _row("maze", "y@f:2", False, 40), _row("wordle", "z@g:3", True, 7),
        _row("maze", "x@f:1 + y@f:2", False, 40), _row("maze", "x@f:1", True, 9)])
    assert _module().main([str(a), str(b), "--names", "old,new"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("1-bug programs: 4 paired; repaired by both 1, old only 1, new only 2, neither 0 "
                             "(old 2, new 3); over the 1 both repaired, median rounds 1 vs 5")
    assert [line.split()[:3] for line in out[1:4]] == [["old", "only:", "maze"], ["new", "only:", "wordle"],
                                                       ["new", "only:", "maze"]]
    assert "not repaired after 40 rounds" in out[1] and "x@f:1" in out[3] and "after 9 rounds" in out[3]
    assert out[4].startswith("2-bug programs: 1 paired; repaired by both 0, old only 1, new only 0, neither 0")
    assert out[-1].startswith("1 programs only in old's file (not paired), e.g. babyai only@a:1")


def test_a_bad_file_gets_one_line_naming_it_and_the_row(tmp_path, capsys):
    good = _write(tmp_path / "good.json", [_row("maze", "x@f:1", True, 1)])
    missing_field = _write(tmp_path / "short.json", [_row("maze", "x@f:1", True, 1), {"env": "maze", "bugs": "y"}])
    (tmp_path / "broken.json").write_text('[\n{"env": 1,}\n]', encoding="utf-8")
    cases = [(missing_field, "short.json: row 2: missing field 'n_bugs'"),
             (tmp_path / "broken.json", "broken.json: line 2: not JSON"),
             (tmp_path / "absent.json", "absent.json: cannot read")]
    for path, message in cases:
        assert _module().main([str(good), str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
