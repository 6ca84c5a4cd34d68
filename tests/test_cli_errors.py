"""Common CLI mistakes end in one line on stderr, no traceback, and a resumable run folder or none.

Each case runs the real ``patchworld`` command in a subprocess (as a user would) and then checks
what it left in ``--out``: nothing, or a folder that ``--resume`` continues.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAWED = ROOT / "data" / "programs" / "maze_flawed.py"


def _cli(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "patchworld.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})


def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode != 0, out
    assert "Traceback" not in out, out
    assert len(out.splitlines()) == 1, out
    for needle in needles:
        assert needle in out, out
    return out


def _no_folder_or_resumable(out: Path) -> None:
    if not out.exists():
        return
    from patchworld.store import RunStore

    store = RunStore(out, write=True)       # resumable: complete, and nobody holds it
    assert store.missing() == []
    store.close()


def test_generate_with_an_unknown_env(tmp_path: Path) -> None:
    proc = _cli("generate", "--env", "no-such-env", "--out", str(tmp_path / "gen"))
    _one_line_error(proc, "unknown environment 'no-such-env'", "known: ", "maze")
    assert not (tmp_path / "gen").exists()


@pytest.mark.parametrize("command", [("evaluate", "--envs", "maze", "--rqs", "rq1"), ("generate", "--env", "maze")])
def test_an_output_path_through_a_file_is_refused_before_any_work(tmp_path: Path, command: tuple[str, ...]) -> None:
    """A file where the output folder (or one of its parents) should be: one line naming the path, before
    evaluating or generating anything (a finished evaluation once ended in a traceback at its save)."""
    blocker = tmp_path / "results"
    blocker.write_text("a file the user keeps\n", encoding="utf-8")
    proc = _cli(*command, "--out", str(blocker))
    _one_line_error(proc, f"patchworld {command[0]}: ", str(blocker), "is a file, not a folder")
    proc = _cli(*command, "--out", str(blocker / "sub"))
    _one_line_error(proc, str(blocker / "sub"), "cannot create the output folder")
    assert "evaluating" not in proc.stderr and blocker.read_text(encoding="utf-8") == "a file the user keeps\n"


def test_figures_from_a_damaged_results_file_is_one_line_naming_it(tmp_path: Path) -> None:
    """A results.parquet cut short (a copy interrupted, a disk filled) gets one line naming the file."""
    import polars as pl

    from patchworld.results import RESULT_SCHEMA

    good = tmp_path / "good" / "results.parquet"
    good.parent.mkdir()
    pl.DataFrame(schema=RESULT_SCHEMA).write_parquet(good)
    damaged = tmp_path / "damaged" / "results.parquet"
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    proc = _cli("figures", "--results", str(damaged.parent), "--out", str(tmp_path / "figs"))
    _one_line_error(proc, "patchworld figures: ", str(damaged), "not a readable results file")
    wrong = tmp_path / "wrong" / "results.parquet"
    wrong.parent.mkdir()
    pl.DataFrame({name: pl.Series([[1, 2]], dtype=pl.List(pl.Int8)) for name in RESULT_SCHEMA}).write_parquet(wrong)
    proc = _cli("figures", "--results", str(wrong), "--out", str(tmp_path / "figs"))
    _one_line_error(proc, str(wrong), "wrong type")


def test_llm_proposer_without_an_llm(tmp_path: Path) -> None:
    unset = {k: "" for k in ("PATCHWORLD_LLM_MODEL", "PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL",
                             "PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY")}
    out = tmp_path / "run"
    proc = _cli("induce", "--env", "maze", "--proposer", "llm", "--out", str(out), env=unset)
    _one_line_error(proc, "--proposer llm", "PATCHWORLD_LLM_MODEL", "--proposer mutation")
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--candidates", "--rounds", "--counterexamples", "--workers"])
def test_zero_counts_are_refused_before_a_folder_exists(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "run"
    proc = _cli("induce", "--env", "maze", "--program", str(FLAWED), flag, "0", "--out", str(out))
    _one_line_error(proc, f"{flag} must be at least 1 (got 0)")
    assert not out.exists()


def test_a_program_that_does_not_parse_is_refused_with_line_and_column(tmp_path: Path) -> None:
    source = FLAWED.read_text(encoding="utf-8").replace("def predict_belief(self, belief, action):",
                                                         "def predict_belief(self, belief, action)", 1)
    line = source[: source.index("def predict_belief(self, belief, action)")].count("\n") + 1
    bad = tmp_path / "bad.py"
    bad.write_text(source, encoding="utf-8")
    out = tmp_path / "run"
    proc = _cli("induce", "--env", "maze", "--program", str(bad), "--rounds", "3", "--out", str(out))
    _one_line_error(proc, f"{bad}, line {line}, column ", "does not parse")
    assert not out.exists()


def test_a_program_without_a_model_class_is_refused_before_any_round(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("MOVES = {}\n", encoding="utf-8")
    out = tmp_path / "run"
    proc = _cli("induce", "--env", "maze", "--program", str(empty), "--rounds", "3", "--out", str(out))
    _one_line_error(proc, "does not load", "no world-model class", "no round was run")
    _no_folder_or_resumable(out)
    from patchworld.store import load_run

    assert load_run(out).candidates.height == 0      # not one round was spent


def test_ctrl_c_during_induce_names_the_round_and_the_resume_command(tmp_path: Path) -> None:
    out = tmp_path / "run"
    program = ROOT / "data" / "programs" / "wordle_flawed.py"
    proc = subprocess.Popen([sys.executable, "-m", "patchworld.cli", "induce", "--env", "wordle", "--program",
                             str(program), "--rounds", "60", "--patience", "60", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / "candidates.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not (log.exists() and log.stat().st_size):
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)                 # what Ctrl-C in a terminal sends
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stdout + stderr, stderr[-3000:]
    from patchworld.store import RunStore

    done = RunStore(out).last_round()
    last = stderr.strip().splitlines()[-1]
    assert last == (f"patchworld induce: interrupted in round {done + 1}; continue with "
                    f"`patchworld induce --out {out} --resume`"), last
    _no_folder_or_resumable(out)
    again = _cli("induce", "--out", str(out), "--resume", "--rounds", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"at round {done + 1}" in again.stdout


def test_a_second_writer_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    from patchworld.program import Program
    from patchworld.store import RunStore

    out = tmp_path / "run"
    first = Program("x = 0\n")
    holder = RunStore.create(out, {"env": "maze", "initial_program": first.hash, "n_candidates": 2,
                                   "n_counterexamples": 2, "proposer": {"name": "mutation"}},
                             data={"train": [], "val": []}, programs=[first], what="a notebook tab")
    try:
        proc = _cli("induce", "--out", str(out), "--resume", "--rounds", "1")
        _one_line_error(proc, f"pid {os.getpid()}", "a notebook tab")
    finally:
        holder.close()


def test_a_full_disk_is_one_line_and_the_folder_restarts(tmp_path: Path) -> None:
    """A per-process file-size limit makes the copy of the train split fail with EFBIG, as a full disk would."""
    import resource

    out = tmp_path / "run"
    train = ROOT / "data" / "trajectories" / "maze" / "maze_traj_train.jsonl"
    limit = train.stat().st_size // 2

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # get EFBIG from write() instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    args = ["induce", "--env", "maze", "--program", str(FLAWED), "--rounds", "1", "--out", str(out)]
    proc = subprocess.run([sys.executable, "-m", "patchworld.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, preexec_fn=small_disk)
    _one_line_error(proc, "cannot write", "train.jsonl", "EFBIG", "nothing already written was lost")
    assert not (out / "header.json").exists()                  # no half-made run that looks complete
    again = _cli(*args)                                          # with room again, the same command restarts it
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"run folder {out}" in again.stdout
    _no_folder_or_resumable(out)
