"""The demo end to end on a tiny budget, the induce/replay commands, and the planted-bug repairs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stub_llm import stub_llm  # noqa: F401  (pytest fixture: an OpenAI-compatible stub on 127.0.0.1)

from patchworld.cli import main

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = ROOT / "data" / "programs"
LAST_LINE = re.compile(r"^demo: val token_f1 (\d\.\d{3}) -> (\d\.\d{3}) \((\d+) rounds, run folder (.+)\)$")


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """Shipped data when present, else a small freshly generated set (same generator, same format)."""
    from patchworld.envs.generate import GenerationConfig, generate

    out = {}
    for env, n_tasks, steps in (("maze", (6, 4, 3), 15), ("wordle", (30, 20, 10), 6)):
        shipped = ROOT / "data" / "trajectories" / env
        if all((shipped / f"{env}_traj_{s}.jsonl").exists() for s in ("train", "val", "test")):
            out[env] = shipped
        else:
            folder = tmp_path_factory.mktemp(env)
            generate(env, 0, folder, GenerationConfig(n_tasks=n_tasks, max_steps=steps))
            out[env] = folder
    return out


def test_demo_tiny_budget(data_dirs, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--rounds", "3", "--data-dir", str(data_dirs["maze"]), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    m = LAST_LINE.match(lines[-1])
    assert m, lines[-1]
    before, after, rounds = float(m.group(1)), float(m.group(2)), int(m.group(3))
    assert after > before and 1 <= rounds <= 3 and Path(m.group(4)) == out
    assert any(line.lstrip().startswith("round") and "val token_f1" in line for line in lines)
    assert any(line.startswith("final test:") for line in lines)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "plotly.js v" in html and "Plotly.newPlot" in html          # the JS is embedded, not linked
    assert '<script src="http' not in html
    assert 'class="pw-diff"' in html and ("diff_add" in html or "diff_chg" in html)
    assert 'class="pw-counterexamples"' in html and "<b>fixed</b>" in html   # the fixed transitions, marked
    from patchworld.store import load_run

    run = load_run(out)
    assert run.rounds["val_token_f1"].to_list()[-1] == pytest.approx(after, abs=5e-4)
    assert run.candidates["accepted"].sum() >= 1


def test_induce_and_resume_commands(data_dirs, tmp_path, capsys):
    out = tmp_path / "induce"
    args = ["induce", "--env", "maze", "--proposer", "mutation", "--rounds", "1", "--out", str(out),
            "--program", str(PROGRAMS / "maze_flawed.py"), "--data-dir", str(data_dirs["maze"]), "--no-sandbox"]
    assert main(args) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert first.startswith("induce: val token_f1") and "(1 rounds" in first
    assert main(["induce", "--out", str(out), "--resume", "--rounds", "1", "--no-sandbox", "--report"]) == 0
    text = capsys.readouterr().out
    assert "resuming" in text and "at round 2" in text and (out / "report.html").exists()
    assert main(["induce", "--env", "maze", "--out", str(out), "--data-dir", str(data_dirs["maze"])]) == 1


def test_replay_command(data_dirs, capsys):
    code = main(["replay", str(PROGRAMS / "maze_reference.py"), "--env", "maze", "--split", "val",
                 "--data-dir", str(data_dirs["maze"]), "--no-sandbox"])
    text = capsys.readouterr().out
    assert code == 0 and re.search(r"token_f1\s+1\.0000", text)
    main(["replay", str(PROGRAMS / "maze_flawed.py"), "--env", "maze", "--data-dir", str(data_dirs["maze"])])
    assert "[mismatch]" in capsys.readouterr().out


def _repaired(env: str, source: str) -> bool:
    """Whether the planted bugs behave correctly in ``source`` (our own trusted file: exec in-process)."""
    namespace: dict = {}
    exec(compile(source, f"<{env}>", "exec"), namespace)
    if env == "wordle":  # y/b rule: aroma vs sugar is "y y b b y" (spec example)
        return namespace["feedback"]("aroma", "sugar") == "y y b b y"
    model = namespace["MazeWorldModel"]()
    belief = model.correct_belief(model.init_belief(), "The goal is at position 8, 6. Your current position is at "
                                  "position 5, 3. There are walls to your left, below you.")
    moved = model.readout_observation(model.predict_belief(belief, "move right"), "move right")
    return moved.startswith("The goal is at position 8, 6. Your current position is at position 5, 4.")


@pytest.mark.parametrize("env", ["maze", "wordle"])
def test_mutation_proposer_repairs_planted_bugs(env, data_dirs, tmp_path):
    """The offline mutation proposer undoes the hand-planted bugs within a few rounds: val token F1
    rises to the reference program's level and the planted bugs behave correctly afterwards."""
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    folder = data_dirs[env]
    train = load_trajectories(folder / f"{env}_traj_train.jsonl")
    val = load_trajectories(folder / f"{env}_traj_val.jsonl")
    reference = replay(Program.from_file(PROGRAMS / f"{env}_reference.py"), val, sandbox=False).metrics["token_f1"]
    flawed = Program.from_file(PROGRAMS / f"{env}_flawed.py")
    assert not _repaired(env, flawed.source)
    session = Session(env, train, val, program=flawed, proposer=MutationProposer(seed=0), run_dir=tmp_path / env,
                      sandbox=False)
    before = session.score["token_f1"]
    session.run(8, patience=3)
    after = session.score["token_f1"]
    assert before < reference - 0.05
    assert after >= reference - 1e-9
    assert _repaired(env, session.current.source)


def test_induce_with_the_llm_proposer_against_a_stub(stub_llm, data_dirs, tmp_path, capsys):  # noqa: F811
    line = next(ln for ln in (PROGRAMS / "maze_flawed.py").read_text().splitlines() if "{GOAL[1]}, {GOAL[0]}" in ln)
    fixed = line.replace("{GOAL[1]}, {GOAL[0]}", "{GOAL[0]}, {GOAL[1]}")
    fix = f"Render the goal row first.\n<<<<<<< SEARCH\n{line}\n=======\n{fixed}\n>>>>>>> REPLACE\n"
    stub_llm.script(fix, "no edit here")
    out = tmp_path / "llm"
    args = ["induce", "--env", "maze", "--proposer", "llm", "--model", "stub", "--base-url", stub_llm.url,
            "--cache-dir", str(tmp_path / "cache"), "--rounds", "1", "--candidates", "2", "--out", str(out),
            "--program", str(PROGRAMS / "maze_flawed.py"), "--data-dir", str(data_dirs["maze"]), "--no-sandbox",
            "--llm-reask", "0"]   # an unusable reply is not sent back: two scripted replies, two calls
    assert main(args) == 0
    from patchworld.store import load_run

    run = load_run(out)
    # the two samples run concurrently, so which sample the stub's first reply reaches is a race:
    # check by content, not by position
    rows = run.candidates.sort("accepted", descending=True).to_dicts()
    assert [r["accepted"] for r in rows] == [True, False]
    assert rows[1]["origin"] == "malformed"
    assert run.header["proposer"]["settings"]["model"] == "stub"
    assert "api_key" not in str(run.header)
    patch = run.patch_dir(rows[0]["patch_id"])
    assert (patch / "response.txt").read_text() == fix and "GOAL" in (patch / "prompt.txt").read_text()
    assert stub_llm.calls == 2
