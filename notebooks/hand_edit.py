import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: hand edit")


@app.cell
def _():
    import html
    import os
    from pathlib import Path

    import marimo as mo
    import polars as pl

    return Path, html, mo, os, pl


@app.cell
def _(Path, mo, os):
    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    TRAJ_DIR = Path(os.environ.get("PATCHWORLD_TRAJ_DIR") or ROOT / "data" / "trajectories")
    PROGRAMS_DIR = ROOT / "data" / "programs"
    ENVS = sorted(p.name for p in TRAJ_DIR.glob("*") if (p / f"{p.name}_traj_val.jsonl").exists()) or ["maze"]
    RUNS = sorted((str(p.parent) for p in RUNS_DIR.glob("*/header.json")), reverse=True)
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
def _(PROGRAMS_DIR, Path, TRAJ_DIR, env_pick, path_text, program_file, program_hash, run_pick, source_kind):
    from patchworld.data import load_trajectories, split_file_name
    from patchworld.program import Program

    run_dir = None
    if source_kind.value == "run":
        from patchworld.store import RunStore

        run_dir = Path(run_pick.value)
        _store = RunStore(run_dir)
        env = _store.header["env"]
        loaded = _store.load_program(program_hash.value)
        val = _store.load_data("val")
    else:
        _path = PROGRAMS_DIR / program_file.value if source_kind.value == "data/programs" else Path(path_text.value)
        if source_kind.value == "data/programs" and "_" in program_file.value:
            _prefix = program_file.value.split("_")[0]
            env = _prefix if (TRAJ_DIR / _prefix).is_dir() else env_pick.value
        else:
            env = env_pick.value
        loaded = Program.from_file(_path)
        val = load_trajectories(TRAJ_DIR / env / split_file_name(env, "val"))
    test_path = TRAJ_DIR / env / split_file_name(env, "test")
    return env, load_trajectories, loaded, run_dir, test_path, val


@app.cell
def _(loaded, val):
    from patchworld.replay import replay

    base_replay = replay(loaded, val, mode="teacher", sandbox=True)
    return base_replay, replay


@app.cell
def _(env, loaded, mo):
    editor = mo.ui.code_editor(value=loaded.source, language="python", min_height=420, max_height=620,
                               debounce=500, label=f"`{loaded.label or loaded.hash}` ({env})")
    return (editor,)


@app.cell
def _(editor):
    # The text under edit (tests substitute this value through app.run(defs=...)).
    edited_source = editor.value
    return (edited_source,)


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
def _(pl):
    def metric_deltas(before, after) -> pl.DataFrame:
        """Loaded vs edited metrics, one row per numeric metric (layout only)."""
        rows = []
        for name, value in before.metrics.items():
            new = after.metrics.get(name)
            if isinstance(value, (int, float)) and isinstance(new, (int, float)):
                rows.append({"metric": name, "loaded": float(value), "edited": float(new),
                             "delta": float(new) - float(value)})
        return pl.DataFrame(rows, schema={"metric": pl.Utf8, "loaded": pl.Float64, "edited": pl.Float64,
                                          "delta": pl.Float64})

    return (metric_deltas,)


@app.cell
def _(base_replay, broken, edited_replay, fixed, metric_deltas, mo, pl, replay_seconds):
    deltas = metric_deltas(base_replay, edited_replay)
    if edited_replay.outcome != "ok":
        load_error = edited_replay.detail or edited_replay.outcome
        status_view = mo.callout(mo.md(f"**{edited_replay.outcome}**\n\n```\n{load_error}\n```"), kind="danger")
    else:
        load_error = ""
        status_view = mo.callout(mo.md(
            f"Replayed {edited_replay.metrics.get('n_transitions', 0)} val transitions in {replay_seconds:.2f} s: "
            f"**{len(fixed)} fixed**, **{len(broken)} broken** vs the loaded program."), kind="success" if not broken
            else "warn")
    remaining = edited_replay.steps.filter(~pl.col("exact")).select(
        "id", "action", "error_kind", "belief", "true", "predicted", "error")
    return deltas, load_error, remaining, status_view


@app.cell
def _(editor, mo):
    test_button = mo.ui.run_button(label="Replay on test too")
    save_button = mo.ui.run_button(label="Save as manual patch", kind="success")
    mo.vstack([editor, mo.hstack([test_button, save_button], justify="start")])
    return save_button, test_button


@app.cell
def _(status_view, broken, deltas, fixed, mo, pl, remaining):
    def _ids(ids: list[str]) -> str:
        return ", ".join(ids[:30]) + (f" ... (+{len(ids) - 30})" if len(ids) > 30 else "") if ids else "none"

    mo.vstack([
        status_view,
        mo.ui.table(deltas.with_columns(pl.col("loaded", "edited", "delta").round(4)), selection=None,
                    label="Metrics on val (loaded vs edited)", page_size=20),
        mo.md(f"**Fixed:** {_ids(fixed)}\n\n**Broken:** {_ids(broken)}"),
        mo.ui.table(remaining, selection=None, page_size=10,
                    label=f"Remaining counterexamples on val ({remaining.height})"),
    ])
    return


@app.cell
def _(edited, load_trajectories, loaded, metric_deltas, mo, replay, test_button, test_path):
    test_deltas = None
    if test_button.value:
        _test = load_trajectories(test_path)
        test_deltas = metric_deltas(replay(loaded, _test, sandbox=True), replay(edited, _test, sandbox=True))
    mo.ui.table(test_deltas, selection=None, label="Metrics on test (reporting only; the gate never sees test)") \
        if test_deltas is not None else mo.md("_Press **Replay on test too** for test-split metrics._")
    return (test_deltas,)


@app.cell
def _(save_button):
    # Whether to record the edit (tests substitute this value through app.run(defs=...)).
    save_requested = bool(save_button.value)
    return (save_requested,)


@app.cell
def _(RUNS_DIR, TRAJ_DIR, edited_source, env, loaded, mo, run_dir, save_requested, val):
    verdict = None
    saved_to = None
    if save_requested:
        from patchworld.data import split_file_name as _split_file_name
        from patchworld.synthesis import Session

        if run_dir is not None:
            try:
                _session = Session.resume(run_dir)
            except ValueError:   # the run's proposer cannot be rebuilt: hand edits need none
                from patchworld.proposers.mutation import MutationProposer

                _session = Session.resume(run_dir, proposer=MutationProposer(seed=0))
        else:
            _dir = RUNS_DIR / f"manual-{env}-{loaded.hash}"
            if (_dir / "header.json").exists():
                from patchworld.proposers.mutation import MutationProposer

                _session = Session.resume(_dir, proposer=MutationProposer(seed=0))
            else:
                _session = Session(env, train=TRAJ_DIR / env / _split_file_name(env, "train"), val=val,
                                   program=loaded, proposer=None, run_dir=_dir)
        verdict = _session.submit(edited_source, origin="manual")
        saved_to = _session.store.path
    mo.callout(mo.md(
        f"Saved to **{saved_to}** as candidate `{verdict.candidate_id}`: "
        f"**{'accepted' if verdict.accepted else 'rejected'}** ({verdict.reason}); "
        f"{len(verdict.fixed)} fixed, {len(verdict.broken)} broken."), kind="success" if verdict.accepted else "warn") \
        if verdict is not None else mo.md("")
    return saved_to, verdict


if __name__ == "__main__":
    app.run()
