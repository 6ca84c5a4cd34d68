"""The seed's baselines go through ``patchworld evaluate`` like PatchWorld's programs: rows labelled by
method (PoE-World, WorldCoder, LLM-Direct against the stub LLM), and their own markers in the figures."""

import json
import shutil
from pathlib import Path

import pytest
from stub_llm import stub_llm  # noqa: F401  (pytest fixture)

from patchworld.cli import main
from patchworld.results import load_results
from patchworld.viz import BASELINE_STYLE, pareto_figure

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def maze_data(tmp_path):
    """A small copy of the shipped maze data (few test trajectories keep LLM-Direct's calls few)."""
    folder = tmp_path / "data" / "maze"
    folder.mkdir(parents=True)
    src = ROOT / "data" / "trajectories" / "maze"
    shutil.copy(src / "maze_traj_train.jsonl", folder)
    lines = (src / "maze_traj_test.jsonl").read_text().splitlines()[:3]
    (folder / "maze_traj_test.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "data"


def test_baselines_get_their_own_rows_and_markers(stub_llm, maze_data, tmp_path, monkeypatch):  # noqa: F811
    handwritten = (ROOT / "data" / "programs" / "handwritten" / "maze.py").read_text()
    stub_llm.script(f"```python\n{handwritten}\n```", f"```python\n{handwritten}\n```")
    stub_llm.default = "The goal is at position 8, 6. Your current position is at position 1, 1."
    monkeypatch.setenv("PATCHWORLD_LLM_MODEL", "stub")
    monkeypatch.setenv("PATCHWORLD_LLM_BASE_URL", stub_llm.url)
    monkeypatch.setenv("PATCHWORLD_LLM_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "baselines"
    train = str(maze_data / "maze" / "maze_traj_train.jsonl")
    assert main(["baseline", "--method", "poe-world", "--env", "maze", "--train", train, "--out", str(out)]) == 0
    assert main(["baseline", "--method", "worldcoder", "--env", "maze", "--train", train, "--out", str(out),
                 "--drafts", "1", "--budget", "0"]) == 0
    assert json.loads((out / "WorldCoder" / "maze.json").read_text())["llm"]["calls"] == 1
    results = tmp_path / "results"
    code = main(["evaluate", "--programs", f"maze={out / 'PoE-World' / 'maze.py'}", f"maze={out / 'WorldCoder' / 'maze.py'}",
                 "--llm-direct", "maze", "--data", str(maze_data), "--out", str(results), "--rqs", "rq1", "decision",
                 "--variants", "simple", "--no-oracle", "--proxy-states", "4", "--samples", "50"])
    assert code == 0
    frame, meta = load_results(results)
    f1 = {r["label"]: r["value"] for r in frame.filter((frame["metric"] == "token_f1") & (frame["env"] == "maze"))
          .iter_rows(named=True)}
    assert {"PoE-World", "WorldCoder", "LLM-Direct"} <= set(f1)
    assert f1["WorldCoder"] > f1["copy last"]  # the hand-written program, via the whole-program path
    assert 0.0 < f1["LLM-Direct"] < 1.0        # the stub's fixed text: right in part, as measured
    assert stub_llm.calls >= 2 + 3             # 2 WorldCoder replies, then one call per LLM-Direct request
    fig = pareto_figure(frame, y="decision_agreement")
    names = {t.name: t.marker.symbol for t in fig.data if t.name and t.name.startswith("baseline:")}
    assert names == {f"baseline: {label}": style["symbol"] for label, style in BASELINE_STYLE.items()}
