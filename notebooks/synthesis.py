import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="PatchWorld: synthesis", html_head_file="offline_head.html")


@app.cell
def _():
    import os
    from pathlib import Path

    import marimo as mo

    return Path, mo, os


@app.cell
def _(Path, mo, os):
    # Where things live. PATCHWORLD_RUNS_DIR moves run folders elsewhere (tests use a temp dir).
    from patchworld.workbench import available_envs

    ROOT = Path(mo.notebook_dir() or Path.cwd()).resolve().parent
    RUNS_DIR = Path(os.environ.get("PATCHWORLD_RUNS_DIR") or ROOT / "runs")
    TRAJ_DIR = Path(os.environ.get("PATCHWORLD_TRAJ_DIR") or ROOT / "data" / "trajectories")
    PROGRAMS_DIR = ROOT / "data" / "programs"
    ENVS = available_envs(TRAJ_DIR)   # registered envs + any env with trajectories
    return ENVS, PROGRAMS_DIR, ROOT, RUNS_DIR, TRAJ_DIR


@app.cell
def _(mo):
    mo.md("""
    # PatchWorld: synthesis

    Pick an environment, a variant and a proposer, then press **Step round**: the current
    program is replayed on the validation split, counterexamples go to the proposer, every
    candidate patch is replayed on val and the gate keeps the best one only if it is strictly
    better. Nothing is written until you step; the run folder's name follows the settings, and
    the line under the pickers says whether Step starts a new run or resumes one (and what it ignores).
    """)
    return


@app.cell
def _(ENVS, RUNS_DIR, mo):
    from patchworld.workbench import SEARCH_LABELS, available_proposers, run_folders

    llm_ready = "llm" in available_proposers()
    env_pick = mo.ui.dropdown(ENVS, value="maze" if "maze" in ENVS else ENVS[0], label="Environment")
    variant_pick = mo.ui.radio(["simple", "residual"], value="simple", label="Variant", inline=True)
    proposer_pick = mo.ui.dropdown(["mutation"] + (["llm"] if llm_ready else []), value="mutation", label="Proposer")
    n_candidates = mo.ui.slider(steps=[1, 2, 3, 4, 6, 8, 16, 32, 64, 128], value=4, label="Candidates per round",
                                show_value=True)
    resume_pick = mo.ui.dropdown(["(the run folder below)"] + run_folders(RUNS_DIR), value="(the run folder below)",
                                 label="Resume an existing run")
    executor_pick = mo.ui.dropdown(["local", "dask"], value="local", label="Candidate replays on")
    address_text = mo.ui.text(value="", label="Dask scheduler (empty: a local cluster)")
    return (SEARCH_LABELS, address_text, env_pick, executor_pick, llm_ready, n_candidates, proposer_pick,
            resume_pick, variant_pick)


@app.cell
def _(SEARCH_LABELS, mo):
    search_pick = mo.ui.radio(list(SEARCH_LABELS), value="greedy", label="Search", inline=True)
    return (search_pick,)


@app.cell
def _(PROGRAMS_DIR, env_pick, mo):
    _env = env_pick.value
    _programs = sorted(p.name for p in PROGRAMS_DIR.glob(f"{_env}_*.py"))
    _default = f"{_env}_flawed.py" if f"{_env}_flawed.py" in _programs else (_programs[0] if _programs else None)
    program_pick = mo.ui.dropdown(_programs or ["(none: the LLM writes one)"],
                                  value=_default or "(none: the LLM writes one)", label="Starting program")
    return (program_pick,)


@app.cell
def _(PROGRAMS_DIR, RUNS_DIR, SEARCH_LABELS, env_pick, mo, n_candidates, program_pick, proposer_pick, search_pick,
      variant_pick):
    from patchworld.workbench import default_run_folder

    _env = env_pick.value
    _program = PROGRAMS_DIR / program_pick.value
    run_folder = mo.ui.text(value=str(default_run_folder(RUNS_DIR, _env, variant_pick.value, proposer_pick.value,
                                                         _program, n_candidates.value,
                                                         SEARCH_LABELS[search_pick.value])),
                            label="Run folder (new, or existing to resume)", full_width=True)
    return (run_folder,)


@app.cell
def _(address_text, env_pick, executor_pick, llm_ready, mo, n_candidates, program_pick, proposer_pick, resume_pick,
      run_folder, search_pick, variant_pick):
    _llm_note = "" if llm_ready else (" (LLM proposer: not configured; set PATCHWORLD_LLM_MODEL and "
                                      "OPENAI_BASE_URL or OPENAI_API_KEY)")
    mo.vstack([
        mo.hstack([env_pick, variant_pick, proposer_pick, program_pick, search_pick, n_candidates], justify="start",
                  wrap=True),
        resume_pick,
        run_folder,
        mo.hstack([executor_pick, address_text], justify="start"),
        mo.md(f"<small>Proposers available: mutation{', llm' if llm_ready else ''}{_llm_note}. The wide search "
              "screens tens of candidates a round (64 is its usual pool) and records where it looked: the candidate "
              "view shows each line's suspicion.</small>"),
    ])
    return


@app.cell
def _():
    # This tab's open session (one per browser tab): reused across steps, closed when the folder changes;
    # and its executor (patchworld.workbench.executor_for keeps it here).
    tab = {"session": None, "note": "", "executor": {}}
    return (tab,)


@app.cell
def _(PROGRAMS_DIR, Path, SEARCH_LABELS, TRAJ_DIR, env_pick, n_candidates, program_pick, proposer_pick, resume_pick,
      run_folder, search_pick, tab, variant_pick):
    from patchworld.workbench import plan_run

    # What Step will do with the chosen folder; nothing is created or locked here.
    _resume = resume_pick.value if resume_pick.value != "(the run folder below)" else None
    run_dir = Path(_resume or run_folder.value).expanduser()
    settings = {"env": env_pick.value, "variant": variant_pick.value, "proposer": proposer_pick.value,
                "program_file": PROGRAMS_DIR / program_pick.value, "n_candidates": int(n_candidates.value),
                "search": SEARCH_LABELS[search_pick.value]}
    plan = plan_run(run_dir, traj_dir=TRAJ_DIR, own=tab["session"], **settings)
    return plan, run_dir, settings


@app.cell
def _(mo, plan):
    step_button = mo.ui.run_button(label="Step round", kind="success", disabled=bool(plan.problem))
    n_rounds = mo.ui.number(start=1, stop=50, value=3, label="N")
    run_n_button = mo.ui.run_button(label="Run N rounds", disabled=bool(plan.problem))
    mo.vstack([
        mo.callout(mo.md(plan.problem), kind="warn") if plan.problem else mo.md(""),
        mo.hstack([step_button, n_rounds, run_n_button], justify="start"),
    ])
    return n_rounds, run_n_button, step_button


@app.cell
def _(step_button):
    from patchworld.workbench import preload_step_modules

    # runs once the Step button is on screen (it depends on the button): the first step then does not wait
    # for the session, sandbox and plotly imports, and the first view did not either
    _ = step_button
    preload_step_modules()
    return


@app.cell
def _(n_rounds, run_n_button, step_button):
    # How many rounds the buttons ask for (tests substitute this value through app.run(defs=...)).
    n_requested = 1 if step_button.value else (int(n_rounds.value) if run_n_button.value else 0)
    return (n_requested,)


@app.cell
def _(TRAJ_DIR, address_text, executor_pick, mo, n_requested, plan, run_dir, settings, tab):
    from patchworld.executors import ExecutorError
    from patchworld.runlock import RunLockedError
    from patchworld.workbench import executor_for, open_session

    def _adapter(bar):
        """Turn the package's progress(done, total, message) callback into progress-bar updates."""
        seen = {"done": 0}

        def callback(done: int, total: int, message: str) -> None:
            if total and bar.total != total:
                bar.total, bar.loading_spinner = total, False
            bar.update(increment=max(0, done - seen["done"]), title=message)
            seen["done"] = done

        return callback

    step_results, step_error = [], ""
    session = tab["session"]
    if n_requested:
        try:
            _executor, _where = executor_for(executor_pick.value, address_text.value, tab["executor"])
            if session is None or session.store.path != run_dir:
                _opened = open_session(run_dir, traj_dir=TRAJ_DIR, previous=session, executor=_executor, **settings)
                session = tab["session"] = _opened.session
                tab["note"] = _opened.note + " " + _where
            session.executor = _executor
            with mo.status.progress_bar(total=session.n_candidates if n_requested == 1 else n_requested,
                                        title=f"Round {session.round + 1}", remove_on_exit=True) as _bar:
                if n_requested == 1:
                    step_results.append(session.step(progress=_adapter(_bar)))
                else:
                    step_results.extend(session.run(n_requested, patience=n_requested, progress=_adapter(_bar)))
        except (OSError, ValueError, RunLockedError, ExecutorError) as _exc:   # a folder in use, missing data...
            step_error = f"{type(_exc).__name__}: {_exc}"
    session_note = tab["note"]
    _last = step_results[-1] if step_results else None
    if step_error:
        _out = mo.callout(mo.md(f"**Cannot step this run.** {step_error}"), kind="danger")
    elif _last:
        _out = mo.md(f"{session_note} Ran {len(step_results)} round(s); last: round {_last.round}, "
                     f"{_last.candidates} candidates, "
                     f"{'accepted ' + _last.accepted.candidate_id if _last.accepted else 'none accepted'}, "
                     f"val token F1 {_last.val_token_f1:.4f} ({_last.seconds:.1f} s).")
    else:   # nothing stepped yet (or the pickers changed): what Step will do
        _out = mo.md(plan.note) if not plan.problem else mo.md("")
    mo.output.replace(_out)
    return session, session_note, step_error, step_results


@app.cell
def _(mo, run_dir, step_results):
    from patchworld.store import load_run
    from patchworld.views import candidates_table as _table

    _ = step_results  # re-read the run folder after every step
    run = load_run(run_dir) if (run_dir / "header.json").exists() else None
    mo.stop(run is None, mo.md("_No run in this folder yet: press **Step round**._"))
    candidates = run.candidates
    candidates_table = mo.ui.table(_table(candidates), selection="single", page_size=10,
                                   label="Candidates (select one, or click a point of the curve)")
    return candidates, candidates_table, run


@app.cell
def _(candidates, mo):
    from patchworld.compare import round_curve_points
    from patchworld.viz import round_curve

    _fig = round_curve(candidates).update_layout(height=340) if candidates.height else None
    curve_keys = round_curve_points(_fig, candidates) if _fig is not None else {}
    # an explicit config keeps mo.ui.plotly from importing plotly's renderers (seconds on the first step)
    curve = mo.ui.plotly(_fig, config={"displaylogo": False}) if _fig is not None else None
    return curve, curve_keys


@app.cell
def _(candidates, candidates_table, curve, mo, run):
    mo.vstack([
        mo.md(f"### Candidates: {candidates.height} so far; current program `{run.current}`"),
        candidates_table,
        curve if curve is not None else mo.md("_No rounds yet: press **Step round**._"),
    ])
    return


@app.cell
def _(curve):
    # The clicked round-curve points (tests substitute this value through app.run(defs=...)).
    clicked_points = list(curve.value or []) if curve is not None else []
    return (clicked_points,)


@app.cell
def _(candidates, candidates_table, clicked_points, curve_keys):
    from patchworld.compare import picked_candidate
    from patchworld.views import candidate_row, default_candidate

    # The candidate to show: a clicked curve point, else the table's selection, else the newest one with a program.
    _sel = candidates_table.value
    _clicked = picked_candidate(clicked_points, curve_keys)
    if _clicked:
        selected = candidate_row(candidates, _clicked)
    elif _sel is not None and len(_sel) > 0:
        _cid = _sel["candidate_id"][0] if hasattr(_sel, "columns") else _sel[0]["candidate_id"]
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
    from patchworld.views import FIXED_BROKEN_NOTE

    # the diff is itself two columns (parent | child); the counterexamples get the full width below it
    _n = view.counts
    mo.vstack([
        mo.md(f"### {view.title}"),
        *[mo.callout(mo.md(f"**{_flag}**"), kind="warn") for _flag in view.flags],
        mo.Html(f'<div class="pw-patch-diff" style="overflow-x:auto">{diff_html}</div>'),
        mo.Html(_where) if (_where := view.suspicion_html) else mo.md(""),
        mo.md(f"#### Counterexamples ({len(view.rows)} rows: {_n['shown']} shown to the proposer; {_n['fixed']} "
              f"fixed, {_n['broken']} broken, token F1 up in {_n['f1_up']}, down in {_n['f1_down']}; on all of val "
              f"{_n['val_fixed']} fixed / {_n['val_broken']} broken exactly, token F1 up in {_n['val_f1_up']} / "
              f"down in {_n['val_f1_down']})"),
        mo.Html(f"<small>{FIXED_BROKEN_NOTE}</small>"),
        mo.Html(counterexamples_html) if view.rows else mo.md("_No counterexamples recorded._"),
        mo.Html(view.prompt_html) if view.row else mo.md(""),
    ])
    return


if __name__ == "__main__":
    app.run()
