import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: synthesis")


@app.cell
def _():
    import os
    from pathlib import Path

    import marimo as mo
    import polars as pl

    return Path, mo, os, pl


@app.cell
def _(Path, mo, os):
    # Where things live. PATCHWORLD_RUNS_DIR moves run folders elsewhere (tests use a temp dir).
    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    TRAJ_DIR = Path(os.environ.get("PATCHWORLD_TRAJ_DIR") or ROOT / "data" / "trajectories")
    PROGRAMS_DIR = ROOT / "data" / "programs"
    ENVS = sorted(p.name for p in TRAJ_DIR.glob("*") if (p / f"{p.name}_traj_val.jsonl").exists()) or ["maze"]
    return ENVS, PROGRAMS_DIR, ROOT, RUNS_DIR, TRAJ_DIR


@app.cell
def _(mo):
    mo.md("""
    # PatchWorld: synthesis

    Pick an environment, a variant and a proposer, then press **Step round**: the current
    program is replayed on the validation split, counterexamples go to the proposer, every
    candidate patch is replayed on val and the gate keeps the best one only if it is strictly
    better. Everything is written to the run folder; an existing folder is resumed.
    """)
    return


@app.cell
def _(ENVS, RUNS_DIR, mo):
    from patchworld.workbench import available_proposers

    llm_ready = "llm" in available_proposers()
    env_pick = mo.ui.dropdown(ENVS, value="maze" if "maze" in ENVS else ENVS[0], label="Environment")
    variant_pick = mo.ui.radio(["simple", "residual"], value="simple", label="Variant", inline=True)
    proposer_pick = mo.ui.dropdown(["mutation"] + (["llm"] if llm_ready else []), value="mutation", label="Proposer")
    n_candidates = mo.ui.slider(1, 8, value=4, label="Candidates per round", show_value=True)
    _runs = sorted((str(p.parent) for p in RUNS_DIR.glob("*/header.json")), reverse=True)
    resume_pick = mo.ui.dropdown(["(the run folder below)"] + _runs, value="(the run folder below)",
                                 label="Resume an existing run")
    return env_pick, llm_ready, n_candidates, proposer_pick, resume_pick, variant_pick


@app.cell
def _(PROGRAMS_DIR, RUNS_DIR, env_pick, mo, proposer_pick, variant_pick):
    _env = env_pick.value
    _programs = sorted(p.name for p in PROGRAMS_DIR.glob(f"{_env}_*.py"))
    _default = f"{_env}_flawed.py" if f"{_env}_flawed.py" in _programs else (_programs[0] if _programs else None)
    program_pick = mo.ui.dropdown(_programs or ["(none: the LLM writes one)"],
                                  value=_default or "(none: the LLM writes one)", label="Starting program")
    run_folder = mo.ui.text(value=str(RUNS_DIR / f"notebook-{_env}-{variant_pick.value}-{proposer_pick.value}"),
                            label="Run folder (new, or existing to resume)", full_width=True)
    return program_pick, run_folder


@app.cell
def _(env_pick, llm_ready, mo, n_candidates, program_pick, proposer_pick, resume_pick, run_folder, variant_pick):
    _llm_note = "" if llm_ready else (" (LLM proposer: not configured; set PATCHWORLD_LLM_MODEL and "
                                      "OPENAI_BASE_URL or OPENAI_API_KEY)")
    mo.vstack([
        mo.hstack([env_pick, variant_pick, proposer_pick, program_pick, n_candidates], justify="start", wrap=True),
        resume_pick,
        run_folder,
        mo.md(f"<small>Proposers available: mutation{', llm' if llm_ready else ''}{_llm_note}</small>"),
    ])
    return


@app.cell
def _(PROGRAMS_DIR, Path, TRAJ_DIR, env_pick, mo, n_candidates, program_pick, proposer_pick, resume_pick,
      run_folder, variant_pick):
    from patchworld.workbench import open_session

    _resume = resume_pick.value if resume_pick.value != "(the run folder below)" else None
    run_dir = Path(_resume or run_folder.value).expanduser()
    try:
        _opened = open_session(run_dir, env_pick.value, TRAJ_DIR, variant=variant_pick.value,
                               proposer=proposer_pick.value, program_file=PROGRAMS_DIR / program_pick.value,
                               n_candidates=int(n_candidates.value))
        session, session_note = _opened.session, _opened.note
    except (OSError, ValueError) as _exc:  # bad folder, missing data, a proposer that cannot start...
        session, session_note = None, f"{type(_exc).__name__}: {_exc}"
    mo.stop(session is None, mo.callout(mo.md(f"**Cannot open the run.** {session_note}"), kind="danger"))
    return run_dir, session, session_note


@app.cell
def _(mo, session_note):
    step_button = mo.ui.run_button(label="Step round", kind="success")
    n_rounds = mo.ui.number(start=1, stop=50, value=3, label="N")
    run_n_button = mo.ui.run_button(label="Run N rounds")
    mo.vstack([mo.md(session_note), mo.hstack([step_button, n_rounds, run_n_button], justify="start")])
    return n_rounds, run_n_button, step_button


@app.cell
def _(n_rounds, run_n_button, step_button):
    # How many rounds the buttons ask for (tests substitute this value through app.run(defs=...)).
    n_requested = 1 if step_button.value else (int(n_rounds.value) if run_n_button.value else 0)
    return (n_requested,)


@app.cell
def _(mo, n_requested, session):
    def _adapter(bar):
        """Turn the package's progress(done, total, message) callback into progress-bar updates."""
        seen = {"done": 0}

        def callback(done: int, total: int, message: str) -> None:
            if total and bar.total != total:
                bar.total, bar.loading_spinner = total, False
            bar.update(increment=max(0, done - seen["done"]), title=message)
            seen["done"] = done

        return callback

    step_results = []
    if n_requested == 1:
        with mo.status.progress_bar(total=session.n_candidates, title=f"Round {session.round + 1}",
                                    remove_on_exit=True) as _bar:
            step_results.append(session.step(progress=_adapter(_bar)))
    elif n_requested > 1:
        with mo.status.progress_bar(total=n_requested, title=f"Running up to {n_requested} rounds",
                                    remove_on_exit=True) as _bar:
            step_results.extend(session.run(n_requested, patience=n_requested, progress=_adapter(_bar)))
    _last = step_results[-1] if step_results else None
    mo.md(
        f"Ran {len(step_results)} round(s); last: round {_last.round}, {_last.candidates} candidates, "
        f"{'accepted ' + _last.accepted.candidate_id if _last.accepted else 'none accepted'}, "
        f"val token F1 {_last.val_token_f1:.4f} ({_last.seconds:.1f} s)."
        if _last else f"Current program `{session.current.hash}` at round {session.round}."
    )
    return (step_results,)


@app.cell
def _(mo, run_dir, step_results):
    from patchworld.store import load_run
    from patchworld.views import candidates_table as _table

    _ = step_results  # re-read the run folder after every step
    run = load_run(run_dir)
    candidates = run.candidates
    candidates_table = mo.ui.table(_table(candidates), selection="single", page_size=10,
                                   label="Candidates (select one)")
    return candidates, candidates_table, run


@app.cell
def _(candidates, candidates_table, mo, run):
    from patchworld.viz import round_curve

    curve = round_curve(candidates).update_layout(height=340) if candidates.height else None
    mo.vstack([
        mo.md(f"### Candidates: {candidates.height} so far; current program `{run.current}`"),
        candidates_table,
        curve if curve is not None else mo.md("_No rounds yet: press **Step round**._"),
    ])
    return (curve,)


@app.cell
def _(candidates, candidates_table, pl):
    from patchworld.views import candidate_row, default_candidate

    # The selected candidate; before anything is selected, the newest one that produced a program.
    _sel = candidates_table.value
    if _sel is not None and len(_sel) > 0:
        _cid = _sel["candidate_id"][0] if isinstance(_sel, pl.DataFrame) else _sel[0]["candidate_id"]
        selected = candidate_row(candidates, _cid)
    else:
        selected = default_candidate(candidates)
    return (selected,)


@app.cell
def _(run, selected):
    from patchworld.views import candidate_view

    view = candidate_view(run, selected)
    diff_html, summary = view.diff_html, view.summary
    counterexample_rows, counterexamples_html = view.rows, view.counterexamples_html
    return counterexample_rows, counterexamples_html, diff_html, summary, view


@app.cell
def _(counterexamples_html, diff_html, mo, view):
    # the diff is itself two columns (parent | child); the counterexamples get the full width below it
    _n = view.counts
    mo.vstack([
        mo.md(f"### {view.title}"),
        mo.Html(f'<div class="pw-patch-diff" style="overflow-x:auto">{diff_html}</div>'),
        mo.md(f"#### Counterexamples ({len(view.rows)} shown; {_n['fixed']} fixed, {_n['broken']} broken"
              f" of {_n['val_fixed']} fixed / {_n['val_broken']} broken on val)"),
        mo.Html(counterexamples_html) if view.rows else mo.md("_No counterexamples recorded._"),
    ])
    return


if __name__ == "__main__":
    app.run()
