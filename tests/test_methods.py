"""The seed's baselines: PoE-World-style (offline and with LLM rules), WorldCoder-style and LLM-Direct,
each against the stub LLM server, and the ``patchworld baseline`` command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stub_llm import stub_llm  # noqa: F401  (pytest fixture)

from patchworld.baselines import copy_last_source, most_frequent_source
from patchworld.data import load_trajectories
from patchworld.methods.llm_access import CachedChat
from patchworld.methods.llm_direct import clean_prediction, llm_direct_program, retrieve
from patchworld.methods.poe_world import fit_poe_world, induce_poe_world, parse_rules, poe_world_source
from patchworld.methods.worldcoder import extract_program, induce_worldcoder
from patchworld.program import Program
from patchworld.replay import replay

ROOT = Path(__file__).resolve().parents[1]
MAZE = ROOT / "data" / "trajectories" / "maze"


@pytest.fixture(scope="module")
def maze():
    return (load_trajectories(MAZE / "maze_traj_train.jsonl"), load_trajectories(MAZE / "maze_traj_test.jsonl"))


def f1(source, trajs):
    result = replay(Program.from_source(source), trajs, mode="teacher", sandbox=True)
    assert result.outcome == "ok", result.detail
    return result.metrics["token_f1"]


def test_poe_world_offline_beats_the_trivial_references(maze):
    train, test = maze
    model = fit_poe_world(train)
    assert model.fit_log["n_fit_examples"] > 100
    score = f1(poe_world_source(model, "maze"), test)
    assert score > f1(copy_last_source(), test) + 0.05
    assert score > f1(most_frequent_source(train), test) + 0.05


def test_parse_rules_keeps_good_rules_and_says_why_others_were_dropped():
    rules, problems = parse_rules('Here:\n```json\n[{"name": "a", "when": "^move", "pattern": "(\\\\d+)", '
                                  '"replace": "\\\\1"}, {"when": "(", "pattern": "x", "replace": "y"}, 5]\n```')
    assert [r.name for r in rules] == ["a"]
    assert any("bad regex" in p for p in problems) and any("rule 2" in p for p in problems)
    assert parse_rules("no json here") == ([], ["no JSON list in the reply"])


def test_poe_world_llm_rules_are_proposed_cached_and_kept_only_if_they_help(stub_llm, tmp_path, maze):  # noqa: F811
    train = maze[0][:12]
    rule = [{"name": "noop", "when": "^move", "pattern": "zzz", "replace": "zzz"}]
    stub_llm.script(json.dumps(rule))
    chat = CachedChat("stub", base_url=stub_llm.url, api_key="test-key-123456", cache_dir=tmp_path)
    model = induce_poe_world(train, "maze", chat, rounds=1)
    assert stub_llm.calls == 1 and chat.calls == 1
    assert model.fit_log["rounds"][0]["proposed"] == 1
    assert "Transitions the current experts predict wrongly" in stub_llm.requests[0]["messages"][1]["content"]
    again = CachedChat("stub", base_url=stub_llm.url, api_key="test-key-123456", cache_dir=tmp_path)
    induce_poe_world(train, "maze", again, rounds=1)
    assert stub_llm.calls == 1 and again.cache_hits == 1  # the rerun made no HTTP call


def test_worldcoder_keeps_the_program_that_explains_most(stub_llm, tmp_path, maze):  # noqa: F811
    train = maze[0][:6]
    good = (ROOT / "data" / "programs" / "handwritten" / "maze.py").read_text()
    weak = (ROOT / "data" / "programs" / "maze_flawed.py").read_text()
    stub_llm.script(f"Draft:\n```python\n{weak}\n```", "I cannot write code.", f"```python\n{good}\n```")
    chat = CachedChat("stub", base_url=stub_llm.url, api_key="test-key-123456", cache_dir=tmp_path)
    result = induce_worldcoder("maze", train, chat, budget=1, initial=2)
    assert [e["outcome"] for e in result.log] == ["evaluated", "no program in the reply", "evaluated"]
    scores = {c.program.source.strip(): c.accuracy for c in result.candidates}
    assert result.best.program.source.strip() == max(scores, key=scores.get)
    assert scores[good.strip()] > scores[weak.strip()]
    assert "Rewrite the whole program" in stub_llm.requests[2]["messages"][1]["content"]
    assert weak.strip()[:200] in stub_llm.requests[2]["messages"][1]["content"]  # the whole parent program
    assert extract_program("no code") is None


def test_llm_direct_calls_the_llm_once_per_transition_and_caches(stub_llm, tmp_path, maze):  # noqa: F811
    train, test = maze
    trajs = test[:2]
    n = sum(len(t.transitions) for t in trajs)
    stub_llm.default = "Observation: The goal is at position 8, 6. Your current position is at position 1, 1."
    program = llm_direct_program("maze", str(MAZE / "maze_traj_train.jsonl"), k=2, cache_dir=str(tmp_path))
    os.environ.update(PATCHWORLD_LLM_MODEL="stub", PATCHWORLD_LLM_BASE_URL=stub_llm.url)
    try:
        first = replay(program, trajs, mode="teacher", sandbox=False)
        calls = stub_llm.calls
        second = replay(program, trajs, mode="teacher", sandbox=False)
    finally:
        for key in ("PATCHWORLD_LLM_MODEL", "PATCHWORLD_LLM_BASE_URL"):
            os.environ.pop(key, None)
    assert first.outcome == "ok", first.detail
    # one request per transition; identical requests (same history, observation and action) come from the cache
    distinct = {json.dumps(r["messages"]) for r in stub_llm.requests}
    assert len(distinct) == calls and n // 2 < calls <= n
    assert stub_llm.calls == calls  # the rerun made no HTTP call
    assert set(first.steps["predicted"].to_list()) == {clean_prediction(stub_llm.default)}
    assert second.metrics["token_f1"] == first.metrics["token_f1"]
    prompt = stub_llm.requests[0]["messages"][1]["content"]
    assert "Examples from the environment" in prompt and "Action: " in prompt
    examples = retrieve(train, trajs[0].transitions[0].observation, trajs[0].transitions[0].action, 3)
    assert len(examples) == 3 and all(e.action.split()[0] == trajs[0].transitions[0].action.split()[0] for e in examples)


def test_baseline_command_poe_world_offline_and_llm_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHWORLD_LLM", "OPENAI"))}
    cmd = [sys.executable, "-m", "patchworld.cli", "baseline", "--method", "poe-world", "--env", "maze",
           "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "PoE-World" / "maze.py").exists() and "patchworld evaluate --programs maze=" in done.stdout
    info = json.loads((tmp_path / "PoE-World" / "maze.json").read_text())
    assert info["label"] == "PoE-World" and info["fit"]["n_fit_examples"] > 0
    cmd[5] = "worldcoder"
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no LLM configured" in done.stderr
    assert "Traceback" not in done.stderr


def test_worldcoder_reads_module_level_functions_and_cut_off_fences():
    from patchworld.program import load_world_model

    reply = "Here:\n```python\ndef init_belief():\n    return {}\ndef readout_observation(belief, action=''):\n    return 'x'"
    model = load_world_model(extract_program(reply))   # the fence was cut off by the length limit
    assert model.readout_observation(model.init_belief(), "a") == "x"
    assert extract_program("```python\nx = 1\n```") is None
