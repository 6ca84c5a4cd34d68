import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: trajectory stepper", html_head_file="offline_head.html")


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
    # PatchWorld: trajectory stepper

    Pick a run, one of its candidates and a validation trajectory, then step through the trajectory
    transition by transition: the belief before and after each step, the true next observation, and
    the parent's and the child's predictions side by side with their token differences from the truth.
    Trajectories holding the candidate's counterexamples and fixed/broken transitions are listed first.
    Both programs run in the sandbox; nothing is written.
    """)
    return


@app.cell
def _(RUNS_DIR, mo):
    from patchworld.workbench import run_folders as _run_folders

    _runs = _run_folders(RUNS_DIR)
    run_pick = mo.ui.dropdown(_runs, value=_runs[0] if _runs else None, label="Run", full_width=True)
    mo.vstack([run_pick] if _runs else [mo.callout(mo.md(
        f"No run folders in `{RUNS_DIR}` yet: step a run in the synthesis notebook, or run "
        "`patchworld induce --env maze --program data/programs/maze_flawed.py --out runs/maze-1`."), kind="warn")])
    return (run_pick,)


@app.cell
def _(mo, run_pick):
    from patchworld.store import load_run

    mo.stop(not run_pick.value)
    run = load_run(run_pick.value)
    _made = run.candidates.filter(run.candidates["child"].is_not_null())
    _ids = _made.sort(["round", "candidate_id"], descending=[True, False])["candidate_id"].to_list()
    _accepted = [c for c in _ids if c in set(run.candidates.filter(run.candidates["accepted"])["candidate_id"])]
    candidate_pick = mo.ui.dropdown(_ids, value=(_accepted or _ids or [None])[0], label="Candidate (parent -> child)")
    return candidate_pick, run


@app.cell
def _(candidate_pick, mo, run):
    from patchworld.stepper import trajectory_choices
    from patchworld.views import candidate_row

    mo.stop(not candidate_pick.value, mo.md("_This run has no candidate with a child program yet._"))
    row = candidate_row(run.candidates, candidate_pick.value)
    _choices = trajectory_choices(run, row)
    trajectory_pick = mo.ui.dropdown(_choices, value=_choices[0] if _choices else None, label="Trajectory (val)")
    mo.hstack([candidate_pick, trajectory_pick], justify="start")
    return row, trajectory_pick


@app.cell
def _(mo, row, run, trajectory_pick):
    from patchworld.stepper import step_through

    mo.stop(not trajectory_pick.value)
    with mo.status.spinner(title="Replaying parent and child on this trajectory (sandboxed)"):
        steps = step_through(run, row, trajectory_pick.value)
    get_index, set_index = mo.state(0)
    return get_index, set_index, steps


@app.cell
def _(get_index, mo, set_index, steps):
    first_button = mo.ui.button(label="|<", on_click=lambda _: set_index(0))
    prev_button = mo.ui.button(label="< previous", on_click=lambda _: set_index(max(0, get_index() - 1)))
    next_button = mo.ui.button(label="next >", on_click=lambda _: set_index(min(len(steps) - 1, get_index() + 1)))
    changed_button = mo.ui.button(label="next change >>", on_click=lambda _: set_index(next(
        (s.index for s in steps if s.index > get_index() and s.changed), get_index())))
    return changed_button, first_button, next_button, prev_button


@app.cell
def _(get_index):
    # The transition shown (tests substitute this value through app.run(defs=...)).
    step_index = get_index()
    return (step_index,)


@app.cell
def _(changed_button, first_button, mo, next_button, prev_button, step_index, steps):
    from patchworld.stepper import transition_html

    stepper_html = transition_html(steps, step_index)
    _changed = sum(s.changed for s in steps)
    mo.vstack([
        mo.hstack([first_button, prev_button, next_button, changed_button,
                   mo.md(f"{len(steps)} transitions; the child predicts differently at {_changed}")], justify="start"),
        mo.Html(stepper_html),
    ])
    return (stepper_html,)


if __name__ == "__main__":
    app.run()
