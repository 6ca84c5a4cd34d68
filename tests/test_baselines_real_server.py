"""The seed's baselines against the real OpenAI-compatible server of ``tests/test_llm_real_server.py``
(llama-cpp-python serving SmolLM2-135M-Instruct): each command runs to the end on maze, its LLM calls
are counted at the server, and a rerun is served from the cache. The model cannot write a useful
world model; what is checked is that the methods complete and record what they did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_llm_real_server import ALIAS, Server, server  # noqa: F401  (module fixture: the server)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _short_maze_data(folder: Path, steps: int) -> None:
    from patchworld.data import load_trajectories, save_trajectories

    src = ROOT / "data" / "trajectories" / "maze"
    (folder / "maze").mkdir(parents=True)
    save_trajectories(load_trajectories(src / "maze_traj_train.jsonl"), folder / "maze" / "maze_traj_train.jsonl")
    first = load_trajectories(src / "maze_traj_test.jsonl")[0]
    short = type(first)(**{**first.__dict__, "transitions": first.transitions[:steps]})
    save_trajectories([short], folder / "maze" / "maze_traj_test.jsonl")


def _run(args: list[str], server: Server, cache: Path) -> subprocess.CompletedProcess:  # noqa: F811
    env = {**os.environ, "PATCHWORLD_LLM_MODEL": ALIAS, "PATCHWORLD_LLM_BASE_URL": server.url,
           "PATCHWORLD_LLM_CACHE_DIR": str(cache), "OPENAI_API_KEY": "none-needed"}
    return subprocess.run([sys.executable, "-m", "patchworld.cli", *args], env=env, capture_output=True, text=True,
                          timeout=1200, cwd=ROOT)


def test_baselines_run_against_the_real_server_and_rerun_from_the_cache(server: Server, tmp_path) -> None:  # noqa: F811
    cache, out = tmp_path / "cache", tmp_path / "baselines"
    start = server.calls()
    poe = _run(["baseline", "--method", "poe-world", "--env", "maze", "--llm", "--max-tokens", "200", "--out", str(out)],
               server, cache)
    assert poe.returncode == 0, poe.stderr[-2000:]
    fit = json.loads((out / "PoE-World" / "maze.json").read_text())
    assert fit["llm"]["calls"] == 1 and fit["fit"]["rounds"][0]["proposed"] >= 0
    wc = _run(["baseline", "--method", "worldcoder", "--env", "maze", "--drafts", "1", "--budget", "0",
               "--max-tokens", "200", "--out", str(out)], server, cache)
    # a reply without any program is a clean one-line refusal; with one, the program is evaluated
    assert wc.returncode in (0, 2) and "Traceback" not in wc.stderr, wc.stderr[-2000:]
    assert wc.returncode == 2 or (out / "WorldCoder" / "maze.py").exists()
    results, data = tmp_path / "results", tmp_path / "data"
    _short_maze_data(data, steps=3)   # three transitions: three LLM-Direct calls
    ev = _run(["evaluate", "--llm-direct", "maze", "--envs", "maze", "--rqs", "rq1", "--data", str(data),
               "--no-references", "--no-oracle", "--samples", "50", "--out", str(results)], server, cache)
    assert ev.returncode == 0, ev.stderr[-2000:]
    rows = [r for r in (results / "results.csv").read_text().splitlines() if "LLM-Direct" in r and ",token_f1," in r]
    assert rows, "an LLM-Direct token_f1 row"
    calls = server.calls() - start
    assert calls >= 3   # PoE's rule request, WorldCoder's draft, and LLM-Direct's per-transition requests
    again = _run(["baseline", "--method", "poe-world", "--env", "maze", "--llm", "--max-tokens", "200",
                  "--out", str(tmp_path / "b2")], server, cache)
    assert again.returncode == 0 and server.calls() - start == calls   # the rerun made no HTTP call
