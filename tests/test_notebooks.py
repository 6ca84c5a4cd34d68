"""The notebooks: marimo ones lint clean, run as scripts and through ``app.run()`` with substituted
button values; the Jupyter one executes headless with nbclient and is committed without outputs.

The notebooks hold layout only, so these tests check that the package's results reach the
values the notebooks define (candidates table, diff HTML, counterexamples, replay deltas,
exports). Run folders go to a temp dir through ``PATCHWORLD_RUNS_DIR``.
"""

from __future__ import annotations

import difflib
import html
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MARIMO_NOTEBOOKS = ["synthesis.py", "hand_edit.py", "figures.py", "trajectory.py", "compare.py"]
FLAWED = ROOT / "data" / "programs" / "maze_flawed.py"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"nb_{Path(name).stem}", NOTEBOOKS / name)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment (tags dropped, entities and &nbsp; decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("\xa0", " ")


@pytest.fixture(scope="module")
def traj_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped trajectories, or (before they are shipped) maze trajectories generated into a temp dir."""
    shipped = ROOT / "data" / "trajectories"
    if (shipped / "maze" / "maze_traj_val.jsonl").exists():
        return shipped
    from patchworld.envs.generate import generate

    out = tmp_path_factory.mktemp("trajectories")
    generate("maze", 0, out / "maze")
    return out


@pytest.fixture()
def nb_env(tmp_path: Path, traj_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    results_dir, _ = _results_folder(tmp_path)
    env = {"PATCHWORLD_RUNS_DIR": str(tmp_path / "runs"), "PATCHWORLD_TRAJ_DIR": str(traj_dir),
           "PATCHWORLD_FIGURES_DIR": str(tmp_path / "figures"), "PATCHWORLD_RESULTS_DIR": str(results_dir)}
    (tmp_path / "runs").mkdir()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_marimo_check_passes() -> None:
    proc = subprocess.run([_tool("marimo"), "check", "--strict", *(str(NOTEBOOKS / n) for n in MARIMO_NOTEBOOKS)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", MARIMO_NOTEBOOKS)
def test_marimo_notebook_runs_as_script(name: str, nb_env: dict[str, str]) -> None:
    import os

    proc = subprocess.run([sys.executable, str(NOTEBOOKS / name)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **nb_env}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_synthesis_pickers_create_nothing_until_step(nb_env: dict[str, str]) -> None:
    app = _load("synthesis.py").app
    _, defs = app.run()
    runs = Path(nb_env["PATCHWORLD_RUNS_DIR"])
    assert list(runs.iterdir()) == []                      # browsing the pickers wrote nothing
    assert "candidates" not in defs                         # no run to list yet
    assert "starts a new run" in defs["plan"].note and "maze_flawed" in defs["run_dir"].name
    assert defs["run_dir"].name == "notebook-maze-simple-mutation-maze_flawed-c4"   # the name follows the settings


def test_synthesis_step_round_fills_table_diff_and_counterexamples(nb_env: dict[str, str]) -> None:
    app = _load("synthesis.py").app
    _, defs = app.run(defs={"n_requested": 1})
    assert defs["step_error"] == ""
    candidates = defs["candidates"]
    assert candidates.height > 0 and set(candidates["round"].to_list()) == {1}
    assert len(defs["candidates_table"].data) == candidates.height   # the mo.ui.table shows every candidate
    run_dir = Path(defs["run_dir"])
    assert run_dir.is_relative_to(Path(nb_env["PATCHWORLD_RUNS_DIR"]))
    assert (run_dir / "candidates.jsonl").exists()

    selected = defs["selected"]
    assert selected is not None and selected["child"], "no candidate produced a program"
    run = defs["run"]
    parent, child = run.program(selected["parent"]).source, run.program(selected["child"]).source
    added = [line[1:].strip() for line in difflib.unified_diff(parent.splitlines(), child.splitlines(), n=0)
             if line.startswith("+") and not line.startswith("+++") and line[1:].strip()]
    assert added, "the selected candidate changes nothing"
    shown = " ".join(_text(defs["diff_html"]).split())
    assert any(" ".join(a.split())[:60] in shown for a in added), "the patched line is not in the diff view"

    rows = defs["counterexample_rows"]
    assert rows and {"id", "action", "belief_before", "true", "predicted_before", "predicted_after"} <= set(rows[0])
    statuses = {r["status"] for r in rows}
    assert ("fixed" in statuses) == (selected["n_fixed"] > 0)
    assert "pw-counterexamples" in defs["counterexamples_html"] and "pw-tok-wrong" in defs["counterexamples_html"]
    assert any(r["shown"] for r in rows)                     # the proposer's counterexamples are marked

    # clicking a point of the round curve selects that candidate
    keys = defs["curve_keys"]
    other = next(cid for cid in candidates["candidate_id"].to_list() if cid != selected["candidate_id"])
    (number, index) = next(k for k, v in keys.items() if v == other)
    _, clicked = app.run(defs={"n_requested": 0, "clicked_points": [{"curveNumber": number, "pointIndex": index}]})
    assert clicked["selected"]["candidate_id"] == other

    # the run folder persists: running the notebook again resumes it and continues with more rounds
    _, again = app.run(defs={"n_requested": 2})
    assert again["step_error"] == "" and again["session_note"].startswith("Resumed")
    assert again["candidates"]["round"].max() > 1
    assert again["candidates"].height > candidates.height
    again["session"].close()


def test_synthesis_wide_search_shows_where_it_looked(nb_env: dict[str, str]) -> None:
    """The Search picker's wide search runs a beam round in its own folder, and the selected candidate's
    view carries the round's suspicion: a column beside the parent's lines and the folded listing."""
    from types import SimpleNamespace

    app = _load("synthesis.py").app
    _, defs = app.run(defs={"n_requested": 1, "search_pick": SimpleNamespace(value="wide (beam)")})
    assert defs["step_error"] == "" and Path(defs["run_dir"]).name.endswith("-beam")
    assert defs["session"].search == "beam"
    view = defs["view"]
    assert view.suspicion and 'class="pw-susp"' in defs["diff_html"]
    assert "Where the search looked" in view.suspicion_html and view.suspicion_method.startswith("coverage")
    defs["session"].close()


def test_synthesis_second_writer_gets_the_lock_message(nb_env: dict[str, str]) -> None:
    import threading

    app = _load("synthesis.py").app
    _, first = app.run(defs={"n_requested": 1})
    first["session"].close()
    # another tab (another live thread of the same server) holds the folder while this one steps
    holding, done = threading.Event(), threading.Event()

    def other_tab() -> None:
        store = _reopen(first["run_dir"])
        holding.set()
        done.wait(60)
        store.close()

    tab = threading.Thread(target=other_tab)
    tab.start()
    assert holding.wait(30)
    try:
        _, second = app.run(defs={"n_requested": 1})
        assert "RunLockedError" in second["step_error"] and f"pid {os.getpid()}" in second["step_error"]
        assert "another tab" in second["step_error"] and "In use" in second["plan"].note
    finally:
        done.set()
        tab.join()


def _reopen(run_dir: Path):
    from patchworld.store import RunStore

    return RunStore(run_dir, write=True, what="another tab")


def _two_runs(nb_env: dict[str, str]) -> list[Path]:
    """Two small runs in the notebooks' runs folder: one mutation round on the flawed maze program, and one
    started from the reference program (no round)."""
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.synthesis import Session

    traj = Path(nb_env["PATCHWORLD_TRAJ_DIR"]) / "maze"
    runs = Path(nb_env["PATCHWORLD_RUNS_DIR"])
    made = []
    for name, program, rounds in (("a-flawed", FLAWED, 1), ("b-reference", FLAWED.with_name("maze_reference.py"), 0)):
        s = Session("maze", traj / "maze_traj_train.jsonl", traj / "maze_traj_val.jsonl",
                    program=Program.from_file(program), proposer=MutationProposer(seed=0), run_dir=runs / name,
                    n_candidates=3)
        assert s.score["token_f1"] > 0
        for _ in range(rounds):
            s.step()
        s.close()
        made.append(runs / name)
    return made


def test_trajectory_stepper_steps(nb_env: dict[str, str]) -> None:
    flawed, _ = _two_runs(nb_env)
    app = _load("trajectory.py").app
    _, defs = app.run(defs={"run_pick": _Value(str(flawed))})
    steps = defs["steps"]
    assert steps and "Transition 1 of" in defs["stepper_html"]
    assert defs["row"]["child"] and defs["trajectory_pick"].value
    _, later = app.run(defs={"run_pick": _Value(str(flawed)), "step_index": 2})
    assert f"Transition 3 of {len(steps)}" in later["stepper_html"]
    assert "parent" in later["stepper_html"] and "child" in later["stepper_html"]


def test_compare_runs_table_curves_and_final_diff(nb_env: dict[str, str]) -> None:
    flawed, reference = _two_runs(nb_env)
    app = _load("compare.py").app
    _, defs = app.run()
    table = defs["table"]
    assert sorted(table["run"].to_list()) == ["a-flawed", "b-reference"]
    assert len(defs["curves"].data) == 2
    left = Path(flawed).name
    assert _text(defs["final_diff"]).count(left) >= 1 and "maze" in _text(defs["final_diff"]).lower()


class _Value:
    """Stands in for a picker in app.run(defs=...): only ``.value`` is read."""

    def __init__(self, value):
        self.value = value


def test_hand_edit_reports_fixed_broken_errors_and_saves(nb_env: dict[str, str]) -> None:
    app = _load("hand_edit.py").app
    _, plain = app.run()
    assert plain["fixed"] == [] and plain["broken"] == [] and plain["load_error"] == ""
    source = plain["loaded"].source
    edited = source.replace("{GOAL[1]}, {GOAL[0]}", "{GOAL[0]}, {GOAL[1]}")
    assert edited != source, "maze_flawed.py no longer has the goal-coordinates bug this test fixes"

    _, after = app.run(defs={"edited_source": edited, "save_requested": True})
    assert after["fixed"], "fixing the goal coordinates fixed no transition"
    assert set(after["fixed"]) <= set(after["f1_up"])          # an exact fix also raises token F1
    deltas = {r["metric"]: r["delta"] for r in after["deltas"].iter_rows(named=True)}
    assert deltas["token_f1"] > 0
    assert after["remaining"].height == int(after["edited_replay"].metrics["n_transitions"]) - int(
        after["edited_replay"].steps["exact"].sum())
    verdict = after["verdict"]
    assert verdict is not None and verdict.fixed == after["fixed"] and verdict.accepted
    saved = Path(after["saved_to"])
    assert saved.is_relative_to(Path(nb_env["PATCHWORLD_RUNS_DIR"]))
    from patchworld.store import load_run

    assert load_run(saved).candidates["accepted"].to_list() == [True]

    broken_source = source.replace("def predict_belief(self, belief, action):", "def predict_belief(self, belief, action)")
    _, bad = app.run(defs={"edited_source": broken_source})
    line = source[: source.index("def predict_belief(self, belief, action):")].count("\n") + 1
    assert bad["edited_replay"].outcome == "load_error"
    assert f"line {line}" in bad["load_error"]


def _results_folder(tmp_path: Path) -> tuple[Path, str]:
    """A small results folder in evaluate's tidy schema (the flawed maze program, two variants, references)."""
    from patchworld.evaluate import RESULT_SCHEMA, save_results
    from patchworld.program import Program

    flawed = Program.from_file(FLAWED).hash
    rows = []
    points = [("maze_flawed", "simple", flawed, 0.70, 0.10), ("maze_flawed", "residual", flawed, 0.95, 0.60),
              ("lookup table", "reference", "lookup0000000", 0.90, 0.70)]
    for label, variant, program, f1, success in points:
        metrics = {"token_f1": f1, "success": success, "decision_agreement": success, "f1@1": f1, "f1@2": f1 - 0.1}
        for metric, value in metrics.items():
            rq = "rq2" if metric.startswith("f1@") else ("rq3" if metric == "success" else "rq1")
            rows.append({"env": "maze", "label": label, "variant": variant, "program": program, "rq": rq,
                         "metric": metric, "value": value, "n": 10, "note": ""})
    out = tmp_path / "results"
    save_results(pl.DataFrame(rows, schema=RESULT_SCHEMA), out)
    return out, flawed


def test_hand_edit_shows_the_program_then_names_a_missing_val_split(nb_env: dict[str, str], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The val split is read after the program (so the editor shows first); without one the notebook says
    so in one callout, and nothing downstream runs (no replay, no traceback)."""
    empty = tmp_path / "no-trajectories"
    (empty / "maze").mkdir(parents=True)
    monkeypatch.setenv("PATCHWORLD_TRAJ_DIR", str(empty))
    _, defs = _load("hand_edit.py").app.run()
    assert defs["loaded"].source == FLAWED.read_text() and "editor" in defs
    assert defs["val"] is None and "maze_traj_val.jsonl" in defs["val_problem"], defs["val_problem"]
    assert "base_replay" not in defs and "status_view" not in defs


def test_hand_edit_replay_on_test_names_a_missing_test_split(nb_env: dict[str, str], traj_dir: Path,
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pressing "Replay on test too" where no test split exists gives one callout naming the file, not an
    error; with the split there, the same press gives the test metrics table."""
    from types import SimpleNamespace

    only_val = tmp_path / "only-val"
    (only_val / "maze").mkdir(parents=True)
    shutil.copy(traj_dir / "maze" / "maze_traj_val.jsonl", only_val / "maze" / "maze_traj_val.jsonl")
    monkeypatch.setenv("PATCHWORLD_TRAJ_DIR", str(only_val))
    app = _load("hand_edit.py").app
    pressed = {"test_button": SimpleNamespace(value=True), "save_button": SimpleNamespace(value=False)}
    _, defs = app.run(defs=pressed)
    assert defs["test_deltas"] is None
    assert "maze_traj_test.jsonl" in defs["test_problem"], defs["test_problem"]
    monkeypatch.setenv("PATCHWORLD_TRAJ_DIR", str(traj_dir))
    _, shipped = app.run(defs=pressed)
    assert shipped["test_problem"] == "" and shipped["test_deltas"].height > 0
    assert "base_replay" in shipped and "status_view" in shipped   # the names the missing-val test relies on


def test_figures_click_shows_program_and_exports(nb_env: dict[str, str]) -> None:
    from patchworld.program import Program

    flawed = Program.from_file(FLAWED).hash
    app = _load("figures.py").app
    _, defs = app.run()
    assert defs["picked"].height == 0 and defs["horizon"] is not None
    keys = defs["point_keys"]
    assert ("maze", "lookup table", "reference") in keys.values()
    curve, index = next(k for k, v in keys.items() if v == ("maze", "maze_flawed", "residual"))
    trace = defs["pareto"].data[curve]
    point = {"curveNumber": curve, "pointIndex": index, "x": trace.x[index], "y": trace.y[index]}
    _, clicked = app.run(defs={"clicked_points": [point], "export_formats": ["csv", "latex"]})
    picked = clicked["picked"]
    assert picked.select("label", "variant").rows() == [("maze_flawed", "residual")]
    assert clicked["picked_sources"] == {flawed: FLAWED.read_text(encoding="utf-8")}
    figures = Path(nb_env["PATCHWORLD_FIGURES_DIR"])
    assert sorted(p.name for p in figures.iterdir()) == ["results.tex", "results_wide.csv"]
    assert "maze\\_flawed" in (figures / "results.tex").read_text(encoding="utf-8")
    assert pl.read_csv(figures / "results_wide.csv").height == 3


def test_figures_names_missing_example_runs_instead_of_selecting_them(nb_env: dict[str, str]) -> None:
    from patchworld.evaluate import load_results, save_results

    flawed, _ = _two_runs(nb_env)
    results = Path(nb_env["PATCHWORLD_RESULTS_DIR"])
    frame, _ = load_results(results)
    # the results name the runs they were made from; one of them is not on this machine (a fresh clone)
    save_results(frame, results, metadata={"arguments": {"runs": ["runs/example-results/not-made-yet", str(flawed)]}})
    _, defs = _load("figures.py").app.run()
    assert [Path(r).name for r in defs["missing_runs"]] == ["not-made-yet"]
    assert defs["run_pick"].value == [str(flawed)]                 # only a run that exists is pre-selected
    assert list(defs["round_figures"]) == [f"rounds_{flawed.name}"]


def test_workbench_ipynb_executes_headless(nb_env: dict[str, str]) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / "workbench.ipynb", as_version=4)
    # drive the widgets the way the Step button does, then check what they show
    nb.cells.append(nbformat.v4.new_code_cell(
        "assert state['session'] is None and not list(RUNS_DIR.glob('*')), 'the pickers created a folder'\n"
        "assert 'starts a new run' in plan_w.value\n"
        "result = on_step()\n"
        "assert result is not None, error_w.value\n"
        "assert result.candidates > 0 and len(pick_w.options) == result.candidates, pick_w.options\n"
        "assert 'class=\"diff\"' in diff_w.value, diff_w.value[:500]\n"
        "assert 'pw-counterexamples' in cex_w.value and '<td>' in cex_w.value and 'pw-tok-wrong' in cex_w.value\n"
        "assert result.verdicts[0].candidate_id in table_w.value\n"
        "assert traj_w.options, 'no trajectory to step through'\n"
        "traj_w.value = traj_w.options[1] if len(traj_w.options) > 1 else traj_w.options[0]\n"
        "assert 'Transition 1 of' in stepper_w.value, error_w.value + stepper_w.value[:300]\n"
        "move(+1)\n"
        "assert 'Transition 2 of' in stepper_w.value\n"
        "print('STEPPED', result.round, len(pick_w.options))\n"
        "search_w.value = 'wide (beam)'\n"
        "assert run_w.value.endswith('-beam') and 'wide search' in plan_w.value, run_w.value + plan_w.value\n"
        "wide = on_step()\n"
        "assert wide is not None and wide.candidates > 0, error_w.value\n"
        "assert 'class=\"pw-susp\"' in diff_w.value and 'Where the search looked' in diff_w.value, diff_w.value[:300]\n"
        "print('WIDE', wide.round)\n"
        "(RUNS_DIR / 'a-file').write_text('x')\n"
        "run_w.value = str(RUNS_DIR / 'a-file' / 'run')\n"
        "assert on_step() is None\n"
        "assert 'NotADirectoryError' in error_w.value or 'FileExistsError' in error_w.value, error_w.value\n"
        "assert 'failed' in status_w.value\n"
        "print('FAILURE SHOWN')"))
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    assert "STEPPED 1" in out and "WIDE 1" in out and "FAILURE SHOWN" in out
    runs = list(Path(nb_env["PATCHWORLD_RUNS_DIR"]).glob("*/candidates.jsonl"))
    assert len(runs) == 2 and sum(p.parent.name.endswith("-beam") for p in runs) == 1


def test_committed_notebooks_are_stripped() -> None:
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert notebooks
    proc = subprocess.run([_tool("nbstripout"), "--verify", *map(str, notebooks)], capture_output=True, text=True)
    assert proc.returncode == 0, f"notebooks carry outputs; run `nbstripout {' '.join(map(str, notebooks))}`"


def test_synthesis_first_view_helpers_do_not_import_polars(traj_dir: Path, tmp_path: Path) -> None:
    """What the synthesis notebook calls before its Step button shows (env and proposer pickers, the default
    folder, the plan for a new folder) stays off polars and the LLM client: a fresh interpreter checks."""
    code = f"""
import sys
from pathlib import Path
from patchworld.workbench import available_envs, available_proposers, default_run_folder, plan_run, run_folders
envs = available_envs({str(traj_dir)!r})
proposers = available_proposers()
folder = default_run_folder(Path({str(tmp_path)!r}), "maze", "simple", "mutation", Path({str(FLAWED)!r}), 4)
plan = plan_run(folder, traj_dir={str(traj_dir)!r}, env="maze", program_file={str(FLAWED)!r})
assert "maze" in envs and proposers[0] == "mutation" and not plan.resumes and not plan.problem, plan
assert run_folders({str(tmp_path)!r}) == [] and not folder.exists()
print(sorted(m for m in ("polars", "openai", "plotly") if m in sys.modules))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHWORLD_LLM_MODEL",)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_workbench_split_path_names_the_data_module_split_file(traj_dir: Path) -> None:
    from patchworld.data import split_file_name
    from patchworld.workbench import has_trajectories, split_path

    for env, split in (("maze", "val"), ("my_env", "train"), ("alfworld", "test")):
        assert split_path(traj_dir, env, split) == traj_dir / env / split_file_name(env, split)
    assert has_trajectories(traj_dir, "maze") and not has_trajectories(traj_dir, "no_such_env")


def test_notebook_head_files_preload_only_what_marimo_ships() -> None:
    """A preloaded marimo asset must exist in the installed marimo (a renamed chunk would be fetched in vain)."""
    assets = Path(importlib.util.find_spec("marimo").origin).parent / "_static" / "assets"
    heads = sorted(NOTEBOOKS.glob("*head*.html"))
    preloads = [(head.name, href) for head in heads
                for href in re.findall(r'<link rel="(?:modulepreload|prefetch)"(?: crossorigin)? href="\./assets/([^"]+)"',
                                          head.read_text())]
    assert {"figures_head.html", "hand_edit_head.html"} <= {head for head, _ in preloads}
    for head, name in preloads:
        stem = name.rsplit("-", 1)[0]
        now = sorted(p.name for p in assets.glob(f"{stem}-*.js"))
        assert (assets / name).is_file(), f"{head} preloads {name}, which this marimo does not ship; now: {now}"
    for head in heads:   # every head keeps the notebooks offline (no MathJax from the CDN)
        assert 'data-status="error" src="https://cdn.jsdelivr.net/npm/mathjax-full' in head.read_text(), head


def test_edit_target_reads_val_only_when_asked(traj_dir: Path) -> None:
    """load_edit_target gives the program without touching the data (no polars: the hand-edit editor shows
    first); ``val`` reads the split on first use and keeps it."""
    code = f"""
import sys
from pathlib import Path
from patchworld.workbench import load_edit_target
target = load_edit_target(Path({str(traj_dir)!r}), path={str(FLAWED)!r}, env="maze")
assert target.program.source == Path({str(FLAWED)!r}).read_text() and target.run_dir is None
print("polars" in sys.modules, end=" ")
val = target.val
print(len(val) > 0 and target.val is val, "polars" in sys.modules)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "True"]


def test_preload_step_modules_loads_what_a_step_imports() -> None:
    code = ("import sys; from patchworld.workbench import preload_step_modules\n"
            "names = ('patchworld.synthesis', 'patchworld.replay', 'patchworld.proposers.mutation', "
            "'patchworld.viz', 'plotly.graph_objects')\n"
            "print(any(m in sys.modules for m in names), end=' '); preload_step_modules()\n"
            "print(all(m in sys.modules for m in names))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.split() == ["False", "True"], proc.stdout + proc.stderr
