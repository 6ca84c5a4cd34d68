import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: hand edit", html_head_file="hand_edit_head.html")


@app.cell
def _():
    import html
    import os
    from pathlib import Path

    import marimo as mo

    return Path, html, mo, os


@app.cell
def _(Path, mo, os):
    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    TRAJ_DIR = Path(os.environ.get("PATCHWORLD_TRAJ_DIR") or ROOT / "data" / "trajectories")
    PROGRAMS_DIR = ROOT / "data" / "programs"
    from patchworld.workbench import available_envs, run_folders

    ENVS = available_envs(TRAJ_DIR)   # registered envs + any env with trajectories
    RUNS = run_folders(RUNS_DIR)
    PROGRAM_FILES = sorted(p.name for p in PROGRAMS_DIR.glob("*.py"))
    return ENVS, PROGRAMS_DIR, PROGRAM_FILES, ROOT, RUNS, RUNS_DIR, TRAJ_DIR


@app.cell
def _(mo):
    mo.md("""
    # PatchWorld: hand edit

    Load a program, edit it, and see at once what the edit does on the validation split:
    load errors with line numbers, metric deltas, the transitions it fixed and broke against the
    loaded program, and the counterexamples that remain. **Save as manual patch** sends the edit
    through the same acceptance gate as the proposers (`Session.submit`) and records it in a run folder.
    """)
    return


@app.cell
def _(ENVS, PROGRAM_FILES, RUNS, mo):
    source_kind = mo.ui.radio(["data/programs", "run", "file path"], value="data/programs", label="Load from",
                              inline=True)
    _default = "maze_flawed.py" if "maze_flawed.py" in PROGRAM_FILES else (PROGRAM_FILES or [None])[0]
    program_file = mo.ui.dropdown(PROGRAM_FILES, value=_default, label="Program file")
    run_pick = mo.ui.dropdown(RUNS, value=RUNS[0] if RUNS else None, label="Run folder")
    path_text = mo.ui.text(placeholder="/path/to/program.py", label="File path", full_width=True)
    env_pick = mo.ui.dropdown(ENVS, value="maze" if "maze" in ENVS else ENVS[0], label="Environment (files)")
    return env_pick, path_text, program_file, run_pick, source_kind


@app.cell
def _(Path, mo, run_pick, source_kind):
    _programs, _current = [], None
    if source_kind.value == "run" and run_pick.value:
        from patchworld.store import load_run as _load_run

        _run = _load_run(run_pick.value)
        _programs = sorted(p.stem for p in (Path(run_pick.value) / "programs").glob("*.py"))
        _current = _run.current if _run.current in _programs else (_programs[0] if _programs else None)
    program_hash = mo.ui.dropdown(_programs, value=_current, label="Program (hash)")
    return (program_hash,)


@app.cell
def _(env_pick, mo, path_text, program_file, program_hash, run_pick, source_kind):
    _pickers = {"data/programs": [program_file, env_pick], "run": [run_pick, program_hash],
                "file path": [path_text, env_pick]}[source_kind.value]
    mo.vstack([source_kind, mo.hstack(_pickers, justify="start", wrap=True)])
    return


@app.cell
def _(PROGRAMS_DIR, Path, TRAJ_DIR, env_pick, mo, path_text, program_file, program_hash, run_pick, source_kind):
    from patchworld.workbench import env_of_program_file, load_edit_target

    try:
        if source_kind.value == "run":
            _target = load_edit_target(TRAJ_DIR, run_dir=run_pick.value, program_hash=program_hash.value)
        elif source_kind.value == "data/programs":
            _target = load_edit_target(TRAJ_DIR, path=PROGRAMS_DIR / program_file.value,
                                       env=env_of_program_file(program_file.value, TRAJ_DIR, env_pick.value))
        else:
            _target = load_edit_target(TRAJ_DIR, path=Path(path_text.value).expanduser(), env=env_pick.value)
        _problem = ""
    except (OSError, ValueError) as _exc:  # no such file or run, unreadable data...
        _target, _problem = None, f"{type(_exc).__name__}: {_exc}"
    mo.stop(_target is None, mo.callout(mo.md(f"**Cannot load the program.** {_problem}"), kind="danger"))
    # the program now (the editor shows it at once); its val trajectories in the next cell
    edit_target = _target
    env, loaded, test_path, run_dir = _target.env, _target.program, _target.test_path, _target.run_dir
    return edit_target, env, loaded, run_dir, test_path


@app.cell
def _(env, loaded, mo):
    editor = mo.ui.code_editor(value=loaded.source, language="python", min_height=420, max_height=620,
                               debounce=500, label=f"`{loaded.label or loaded.hash}` ({env})")
    # shown by itself, before any replay runs: the browser builds the code editor while val is replayed
    mo.output.replace(editor)
    return (editor,)


@app.cell
def _(editor):
    # The text under edit (tests substitute this value through app.run(defs=...)).
    edited_source = editor.value
    return (edited_source,)


@app.cell
def _(edit_target):
    try:
        val = edit_target.val   # read here, after the editor is on screen
        val_problem = ""
    except (OSError, ValueError) as _exc:  # no val split, unreadable data...
        val, val_problem = None, f"{type(_exc).__name__}: {_exc}"
    return val, val_problem


@app.cell
def _(loaded, mo, val, val_problem):
    from patchworld.replay import replay

    mo.stop(val is None, mo.callout(mo.md(f"**Cannot load the val trajectories.** {val_problem}"), kind="danger"))
    base_replay = replay(loaded, val, mode="teacher", sandbox=True)
    return base_replay, replay


@app.cell
def _(base_replay, edited_source, loaded, replay, val):
    import time as _time

    from patchworld.gate import compare
    from patchworld.program import Program as _Program

    edited = _Program.from_source(edited_source, origin="manual", parent=loaded.hash)
    _t = _time.perf_counter()
    edited_replay = base_replay if edited.hash == loaded.hash else replay(edited, val, mode="teacher", sandbox=True)
    replay_seconds = _time.perf_counter() - _t
    fixed, broken = compare(base_replay, edited_replay)
    return edited, edited_replay, fixed, broken, replay_seconds


@app.cell
def _(base_replay, broken, edited_replay, fixed, mo, replay_seconds):
    from patchworld.views import f1_changes, metric_deltas, remaining_counterexamples

    deltas = metric_deltas(base_replay, edited_replay)
    f1_up, f1_down = f1_changes(base_replay, edited_replay)
    if edited_replay.outcome != "ok":
        load_error = edited_replay.detail or edited_replay.outcome
        status_view = mo.callout(mo.md(f"**{edited_replay.outcome}**\n\n```\n{load_error}\n```"), kind="danger")
    else:
        load_error = ""
        status_view = mo.callout(mo.md(
            f"Replayed {edited_replay.metrics.get('n_transitions', 0)} val transitions in {replay_seconds:.2f} s: "
            f"**{len(fixed)} fixed**, **{len(broken)} broken** vs the loaded program (exact match); token F1 up in "
            f"{len(f1_up)}, down in {len(f1_down)}."), kind="success" if not broken
            else "warn")
    remaining = remaining_counterexamples(edited_replay)
    return deltas, f1_down, f1_up, load_error, metric_deltas, remaining, status_view


@app.cell
def _(mo):
    test_button = mo.ui.run_button(label="Replay on test too")
    save_button = mo.ui.run_button(label="Save as manual patch", kind="success")
    return save_button, test_button


@app.cell
def _(save_button):
    # Whether to record the edit (tests substitute this value through app.run(defs=...)).
    save_requested = bool(save_button.value)
    return (save_requested,)


@app.cell
def _(RUNS_DIR, TRAJ_DIR, edited_source, env, loaded, mo, run_dir, save_requested, val):
    from patchworld.runlock import RunLockedError

    saved, save_error = None, ""
    if save_requested:
        from patchworld.workbench import save_manual_edit, split_path

        try:
            saved = save_manual_edit(edited_source, loaded, env, val=val, train=split_path(TRAJ_DIR, env, "train"),
                                     run_dir=run_dir, runs_dir=RUNS_DIR)
        except (OSError, ValueError, RunLockedError) as _exc:   # the run folder is in use or cannot be written
            save_error = f"{type(_exc).__name__}: {_exc}"
    verdict = saved.verdict if saved else None
    saved_to = saved.run_dir if saved else None
    if saved is not None:
        verdict_view = mo.callout(mo.md(
            f"Saved to **{saved_to}** as candidate `{verdict.candidate_id}`: "
            f"**{'accepted' if verdict.accepted else 'rejected'}** ({verdict.reason}); "
            f"{len(verdict.fixed)} fixed, {len(verdict.broken)} broken. {saved.note}"),
            kind="success" if verdict.accepted else "warn")
    else:
        verdict_view = mo.callout(mo.md(f"**Not saved.** {save_error}"), kind="danger") if save_error else mo.md("")
    return save_error, saved_to, verdict, verdict_view


@app.cell
def _(mo, save_button, test_button, verdict_view):
    # the save verdict sits right next to its button (just under the editor)
    mo.hstack([test_button, save_button, verdict_view], justify="start", align="center", widths=[1.2, 1.5, 7])
    return


@app.cell
def _(broken, fixed, mo, status_view):
    from patchworld.views import id_list

    # the verdict on the edit first, on its own: it shows before the tables below are built
    mo.vstack([status_view, mo.md(f"**Fixed:** {id_list(fixed)}\n\n**Broken:** {id_list(broken)}")])
    return


@app.cell
def _(base_replay, deltas, edited_replay, mo, remaining):
    import polars as pl

    from patchworld.views import remaining_html

    mo.vstack([
        mo.ui.table(deltas.with_columns(pl.col("loaded", "edited", "delta").round(4)), selection=None,
                    label="Metrics on val (loaded vs edited)", page_size=20, show_column_summaries=False),
        mo.md(f"**Remaining counterexamples on val ({remaining.height})**: the truth in full, the loaded "
              "program's prediction (before) and the edit's (after), differences from the truth highlighted"),
        mo.Html(remaining_html(edited_replay, base_replay, limit=25)) if remaining.height
        else mo.md("_None: the edit reproduces val exactly._"),
    ])
    return


@app.cell
def _(edited, loaded, metric_deltas, mo, replay, test_button, test_path):
    from patchworld.data import load_trajectories
    test_deltas = None
    test_problem = ""
    if test_button.value:
        try:
            _test = load_trajectories(test_path)
        except (OSError, ValueError) as _exc:  # no test split, unreadable data...
            test_problem = f"{type(_exc).__name__}: {_exc}"
        else:
            test_deltas = metric_deltas(replay(loaded, _test, sandbox=True), replay(edited, _test, sandbox=True))
    if test_problem:
        _test_view = mo.callout(mo.md(f"**Cannot load the test trajectories.** {test_problem}"), kind="warn")
    elif test_deltas is not None:
        _test_view = mo.ui.table(test_deltas, selection=None,
                                 label="Metrics on test (reporting only; the gate never sees test)")
    else:
        _test_view = mo.md("_Press **Replay on test too** for test-split metrics._")
    _test_view  # noqa: B018 - marimo shows a cell's last expression
    return test_deltas, test_problem


if __name__ == "__main__":
    app.run()
