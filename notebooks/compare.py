import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: compare runs", html_head_file="offline_head.html")


@app.cell
def _():
    import os
    from pathlib import Path

    import marimo as mo

    return Path, mo, os


@app.cell
def _(Path, mo, os):
    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    return ROOT, RUNS_DIR


@app.cell
def _(mo):
    mo.md("""
    # PatchWorld: compare runs

    Pick two or more run folders: their round curves on one axis, a table of what each run did
    (rounds, candidates, accepted patches, val token F1 at start and end, LLM tokens), and a
    side-by-side diff of the final programs of the two you choose. Reads run folders only.
    """)
    return


@app.cell
def _(RUNS_DIR, mo):
    from patchworld.workbench import run_folders as _run_folders

    _runs = _run_folders(RUNS_DIR)
    runs_pick = mo.ui.multiselect(_runs, value=_runs[:2], label="Runs", full_width=True)
    mo.vstack([runs_pick] if _runs else [mo.callout(mo.md(
        f"No run folders in `{RUNS_DIR}` yet: `make results` writes four into `runs/example-results/` "
        "(point PATCHWORLD_RUNS_DIR there), or step a run in the synthesis notebook."), kind="warn")])
    return (runs_pick,)


@app.cell
def _(mo, runs_pick):
    from patchworld.compare import runs_table
    from patchworld.store import load_run

    runs = [load_run(d) for d in runs_pick.value]
    mo.stop(not runs, mo.md("_Pick at least one run._"))
    table = runs_table(runs)
    mo.ui.table(table, selection=None, label="Runs")
    return runs, table


@app.cell
def _(mo, runs):
    from patchworld.compare import round_curves_figure

    curves = round_curves_figure(runs)
    mo.vstack([mo.md("## Round curves"), curves])
    return (curves,)


@app.cell
def _(mo, runs):
    _names = [r.path.name for r in runs]
    left_pick = mo.ui.dropdown(_names, value=_names[0], label="Left")
    right_pick = mo.ui.dropdown(_names, value=_names[-1], label="Right")
    return left_pick, right_pick


@app.cell
def _(left_pick, mo, right_pick, runs):
    from patchworld.compare import final_program_diff

    _by = {r.path.name: r for r in runs}
    final_diff = final_program_diff(_by[left_pick.value], _by[right_pick.value])
    mo.vstack([mo.md("## Final programs"), mo.hstack([left_pick, right_pick], justify="start"),
               mo.Html(f'<div style="overflow-x:auto">{final_diff}</div>')])
    return (final_diff,)


if __name__ == "__main__":
    app.run()
