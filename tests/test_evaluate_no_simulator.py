"""``patchworld evaluate`` on an env that has trajectories but no simulator: RQ1/RQ2 and the figures,
planning skipped with one line saying so (and recorded in the results metadata)."""

import shutil
from pathlib import Path

from patchworld.cli import main
from patchworld.results import load_results

ROOT = Path(__file__).resolve().parents[1]


def test_env_without_simulator_gets_fidelity_and_figures_and_a_planning_note(tmp_path, capsys):
    data = tmp_path / "data" / "mygrid"
    data.mkdir(parents=True)
    src = ROOT / "data" / "trajectories" / "maze"
    shutil.copy(src / "maze_traj_train.jsonl", data / "mygrid_traj_train.jsonl")
    lines = (src / "maze_traj_test.jsonl").read_text().splitlines()[:4]
    (data / "mygrid_traj_test.jsonl").write_text("\n".join(lines) + "\n")
    program = ROOT / "data" / "programs" / "handwritten" / "maze.py"
    out = tmp_path / "results"
    code = main(["evaluate", "--programs", f"mygrid={program}", "--data", str(tmp_path / "data"), "--out", str(out),
                 "--samples", "50", "--variants", "simple"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "planning skipped for mygrid: no simulator registered (RQ1/RQ2 only)" in err and "Traceback" not in err
    frame, meta = load_results(out)
    metrics = set(frame.filter(frame["env"] == "mygrid")["metric"].to_list())
    assert {"token_f1", "rollout_auc"} <= metrics
    assert not metrics & {"decision_agreement", "model_search_success"}
    assert meta["planning_skipped"] == {"mygrid": "no simulator registered"}
    assert main(["figures", "--results", str(out), "--out", str(tmp_path / "figs"), "--formats", "html"]) == 0
    assert any((tmp_path / "figs").glob("*.html"))
    # written even with no planning measure to put on y (then empty); its error bars: test_viz.py
    assert (tmp_path / "figs" / "pareto_rollout.html").exists()


def test_evaluate_prints_the_llm_usage_of_live_planning(tmp_path, capsys):
    from stub_llm import StubLLM

    with StubLLM(default="Thought: go\nAction: move up") as stub:
        code = main(["evaluate", "--programs", f"maze={ROOT / 'data' / 'programs' / 'handwritten' / 'maze.py'}",
                     "--rqs", "rq3", "--n-tasks", "1", "--max-steps", "2", "--variants", "simple", "--no-references",
                     "--no-oracle", "--samples", "20", "--llm-model", "stub", "--llm-base-url", stub.url,
                     "--out", str(tmp_path / "r")])
        calls, url = stub.calls, stub.url
    err = capsys.readouterr().err
    assert code == 0, err
    usage = [line for line in err.splitlines() if line.startswith(f"stub at {url}: LLM: ")]
    assert usage and f"LLM: {calls} calls" in usage[0] and calls > 0
