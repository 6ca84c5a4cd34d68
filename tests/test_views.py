"""What the notebooks show (patchworld.views) and how they open runs and save hand edits
(patchworld.workbench), checked on a real maze run made with a scripted proposer."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import polars as pl
import pytest
from test_synthesis import GOAL_BUG, MOVE_BUG, ScriptedProposer, maze_trajectories
from test_viz import _results

from patchworld.program import Program
from patchworld.store import load_run
from patchworld.synthesis import Session
from patchworld.views import (
    candidate_row,
    candidate_view,
    candidates_table,
    clickable_points,
    counterexample_rows,
    counterexamples_html,
    default_candidate,
    id_list,
    metric_deltas,
    picked_points,
    remaining_counterexamples,
    remaining_html,
)
from patchworld.viz import pareto_figure
from patchworld.workbench import (
    env_of_program_file,
    load_edit_target,
    make_proposer,
    open_session,
    save_manual_edit,
)

ROOT = Path(__file__).resolve().parents[1]
FLAWED = ROOT / "data" / "programs" / "maze_flawed.py"


@pytest.fixture(scope="module")
def data():
    return maze_trajectories("train", [0, 1, 2, 3]), maze_trajectories("val", [4, 5, 6])


@pytest.fixture()
def run_after_one_round(data, tmp_path):
    """A run whose round 1 has an accepted fix, a malformed reply and a rejected (no-op) candidate."""
    train, val = data
    s = Session("maze", train, val, program=Program.from_file(FLAWED),
                proposer=ScriptedProposer([[GOAL_BUG, None, ("# nothing", "# nothing")]]), run_dir=tmp_path / "run",
                sandbox=False)
    s.step()
    return s, load_run(s.store.path)


def test_counterexample_rows_mark_status_and_keep_the_first_occurrence() -> None:
    summary = {
        "counterexamples": [{"id": "a", "exact_before": False, "exact_after": True, "true": "T"},
                            {"id": "b", "exact_before": False, "exact_after": False}],
        "fixed_examples": [{"id": "a", "exact_before": False, "exact_after": True, "true": "other"}],
        "broken_examples": [{"id": "c", "exact_before": True, "exact_after": False},
                            {"id": "d", "exact_before": True, "exact_after": None}],
    }
    rows = counterexample_rows(summary)
    assert [(r["id"], r["status"]) for r in rows] == [("a", "fixed"), ("b", "still wrong"), ("c", "broken"),
                                                      ("d", "not replayed")]
    assert rows[0]["true"] == "T"
    assert counterexample_rows({}) == []


def test_counterexamples_html_escapes_and_colours() -> None:
    rows = [{"id": "t/0#1", "status": "fixed", "action": "<script>alert(1)</script>", "true": "a & b"},
            {"id": "t/0#2", "status": "broken", "action": "go"}]
    page = counterexamples_html(rows)
    assert "<script>" not in page and "&lt;script&gt;" in page and "a &amp; b" in page
    assert page.count("<tr") == 3 and "#c8f7c5" in page and "#ffd0d0" in page


def test_token_diff_marks_wrong_and_missing_tokens_and_shows_everything() -> None:
    from patchworld.tokendiff import diff_html, token_ops, tokens

    truth = "You are at (2, 3). The goal is at (4, 1). Exits: north, east."
    predicted = "You are at (3, 2). The goal is at (4, 1). Exits: north, <b>west</b>."
    assert "".join(tokens(predicted)) == predicted
    ops = token_ops(truth, predicted)
    assert "".join(t for k, t in ops if k != "missing") == predicted      # the prediction, whole
    assert "".join(t for k, t in ops if k != "wrong") == truth             # the truth, whole
    marked = diff_html(truth, predicted)
    assert '<ins class="pw-tok-wrong">' in marked and '<del class="pw-tok-missing">east</del>' in marked
    assert "&lt;b&gt;" in marked and "<b>" not in marked
    wrong = re.findall(r'<ins class="pw-tok-wrong">(.*?)</ins>', marked)
    assert "".join(wrong).replace(" ", "") == "32&lt;b&gt;west&lt;/b&gt;"
    long_text = "word " * 300 + "end"                                          # nothing is cut
    assert _visible(diff_html(long_text, long_text + " extra")).count("word") == 300
    assert "pw-tok-" not in diff_html(truth, truth) and "\u2014" in diff_html(truth, None)


def _visible(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).replace("\xa0", " ")


def test_rows_say_what_was_shown_to_the_proposer_and_how_token_f1_moved() -> None:
    summary = {"counterexamples": [{"id": "a", "exact_before": False, "exact_after": False, "true": "x y z",
                                    "predicted_before": "x q q", "predicted_after": "x y q"}],
               "fixed_examples": [{"id": "b", "exact_before": False, "exact_after": True, "true": "x",
                                   "predicted_before": "y", "predicted_after": "x"}]}
    rows = {r["id"]: r for r in counterexample_rows(summary)}
    assert rows["a"]["shown"] and not rows["b"]["shown"]
    assert rows["a"]["f1_change"] == "up" and rows["a"]["status"] == "still wrong"
    assert rows["b"]["f1_before"] == 0.0 and rows["b"]["f1_after"] == 1.0
    page = counterexamples_html(list(rows.values()), prompt_anchor="pw-prompt-r001c00")
    assert page.count("shown to the proposer") == 1 and 'href="#pw-prompt-r001c00"' in page
    assert "0.00 &rarr; 1.00" in page and "pw-tok-wrong" in page


def test_candidate_table_and_views_of_a_real_run(run_after_one_round) -> None:
    session, run = run_after_one_round
    table = candidates_table(run.candidates)
    assert table.columns[:7] == ["round", "candidate_id", "accepted", "score_before", "score_after", "fixed", "broken"]
    assert table.height == 3
    newest = default_candidate(run.candidates)
    assert newest is not None and newest["child"] is not None
    accepted = run.candidates.filter(pl.col("accepted")).row(0, named=True)
    view = candidate_view(run, candidate_row(run.candidates, accepted["candidate_id"]))
    assert "accepted" in view.title and accepted["candidate_id"] in view.title
    visible = html.unescape(re.sub(r"<[^>]+>", "", view.diff_html)).replace("\xa0", " ")
    assert "{GOAL[0]}, {GOAL[1]}" in visible and "{GOAL[1]}, {GOAL[0]}" in visible   # child and parent lines
    assert view.rows and view.counts["val_fixed"] == accepted["n_fixed"] > 0
    (run.patch_dir(accepted["patch_id"]) / "side_by_side.html").unlink()   # no record: made from the programs
    remade = html.unescape(re.sub(r"<[^>]+>", "", candidate_view(run, view.row).diff_html)).replace("\xa0", " ")
    assert "{GOAL[0]}, {GOAL[1]}" in remade and "{GOAL[1]}, {GOAL[0]}" in remade
    assert view.counts["fixed"] == sum(r["status"] == "fixed" for r in view.rows) > 0
    assert "pw-counterexamples" in view.counterexamples_html
    assert view.prompt == "prompt" and view.response == "response"       # what the scripted proposer recorded
    assert f'id="{view.anchor}"' in view.prompt_html and view.anchor in view.counterexamples_html
    assert view.counts["shown"] == sum(r["shown"] for r in view.rows) > 0
    assert view.flags == []                                                 # it fixed transitions exactly
    gain_only = candidate_view(run, {**view.row, "n_fixed": 0})
    gain_only.summary["fixed"] = []
    assert gain_only.flags and "token-F1 gain only" in gain_only.flags[0]
    malformed = run.candidates.filter(pl.col("child").is_null()).row(0, named=True)
    empty = candidate_view(run, malformed)
    assert "rejected" in empty.title and empty.rows == []
    assert candidate_row(run.candidates, "nope") is None and candidate_view(run, None).row is None
    assert default_candidate(run.candidates.clear()) is None


def test_a_beam_rounds_candidate_shows_where_the_search_looked(data, tmp_path, run_after_one_round) -> None:
    """Issue 14: the candidate view shows the suspicion the round localised the parent with, as a column
    beside the parent's lines in the diff and beside every line of the whole parent (folded); a greedy
    round recorded none, so its views show none."""
    from patchworld.proposers.mutation import MutationProposer

    train, val = data
    s = Session("maze", train, val, program=Program.from_file(FLAWED), proposer=MutationProposer(seed=0),
                run_dir=tmp_path / "beam", n_candidates=16, search="beam", sandbox=False)
    s.step()
    s.close()
    run = load_run(s.store.path)
    row = next(r for r in run.candidates.iter_rows(named=True) if r["child"])
    recorded = s.store.rounds()[-1]["suspicion"][row["parent"]]
    view = candidate_view(run, row)
    assert view.suspicion == {int(k): v for k, v in recorded["lines"].items()} and view.suspicion
    assert view.suspicion_method == recorded["method"] and recorded["method"] in view.suspicion_html
    shown = re.findall(r'<td class="pw-susp"[^>]*title="suspicion ([0-9.]+)"', view.diff_html)
    assert shown and set(map(float, shown)) <= {round(v, 3) for v in view.suspicion.values()}
    listed = [float(v) for v in re.findall(r'title="suspicion ([0-9.]+)"', view.suspicion_html)]
    assert listed == [round(v, 3) for _, v in sorted(view.suspicion.items())]      # every scored line, in order
    top = max(view.suspicion.items(), key=lambda kv: (kv[1], -kv[0]))
    assert f"most suspicious: line {top[0]} ({top[1]:.2f})" in view.suspicion_html
    _, greedy = run_after_one_round
    plain = candidate_view(greedy, greedy.candidates.filter(pl.col("accepted")).row(0, named=True))
    assert plain.suspicion is None and plain.suspicion_html == "" and 'class="pw-susp"' not in plain.diff_html


def test_metric_deltas_remaining_and_id_list(run_after_one_round) -> None:
    session, _ = run_after_one_round
    from patchworld.replay import replay

    before = replay(Program.from_file(FLAWED), session.val, sandbox=False)
    after = session.val_replay()
    deltas = {r["metric"]: r for r in metric_deltas(before, after).iter_rows(named=True)}
    assert deltas["token_f1"]["delta"] == pytest.approx(after.metrics["token_f1"] - before.metrics["token_f1"])
    assert deltas["token_f1"]["delta"] > 0 and deltas["n_transitions"]["delta"] == 0
    remaining = remaining_counterexamples(after)
    assert remaining.height == after.steps.height - int(after.steps["exact"].sum())
    from patchworld.views import f1_changes

    up, down = f1_changes(before, after)
    steps = before.steps.join(after.steps, on="id", suffix="_after")
    assert set(up) == set(steps.filter(pl.col("token_f1_after") > pl.col("token_f1"))["id"].to_list()) and up
    assert set(down) == set(steps.filter(pl.col("token_f1_after") < pl.col("token_f1"))["id"].to_list())
    assert f1_changes(after, before) == (down, up)
    page = remaining_html(after, before, limit=5)
    first = remaining.row(0, named=True)
    assert _visible(page).count(first["true"]) >= 1 and page.count("<tr") == 1 + min(5, remaining.height)
    assert id_list([]) == "none" and id_list(["a", "b"]) == "a, b"
    assert id_list([str(i) for i in range(35)], limit=30).endswith("29 ... (+5)")


def test_clickable_points_map_clicks_to_programs() -> None:
    fig = pareto_figure(_results())
    keys = clickable_points(fig, [a.text for a in fig.layout.annotations])
    assert ("maze", "prog", "residual") in keys.values() and ("wordle", "lookup table", "reference") in keys.values()
    for (number, _), _key in keys.items():
        assert "lines" in fig.data[number].mode and fig.data[number].line.width == 0
    (curve, index), key = next((k, v) for k, v in keys.items() if v == ("maze", "prog", "simple"))
    clicks = [{"curveNumber": curve, "pointIndex": index}, {"curveNumber": 999, "pointNumber": 0}]
    assert picked_points(clicks, keys) == [key]


def test_open_session_new_then_resumed(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    opened = open_session(folder, "maze", ROOT / "data" / "trajectories", program_file=FLAWED, n_candidates=2)
    assert not opened.resumed and opened.session.n_candidates == 2 and "New run" in opened.note
    again = open_session(folder, "wordle", ROOT / "data" / "trajectories")   # the folder's run wins
    assert again.resumed and again.session.env == "maze" and again.session.current.hash == opened.session.current.hash
    with pytest.raises(ValueError, match="unknown proposer"):
        make_proposer("gpt")


def test_save_manual_edit_goes_through_the_gate_and_flags_another_parent(data, tmp_path: Path) -> None:
    train, val = data
    loaded = Program.from_file(FLAWED)
    fixed = loaded.source.replace(*GOAL_BUG)
    first = save_manual_edit(fixed, loaded, "maze", val=val, train=train, run_dir=None, runs_dir=tmp_path)
    assert first.verdict.accepted and first.note == ""
    assert first.run_dir == tmp_path / f"manual-maze-{loaded.hash}"
    # a second edit of the same loaded program: the run's current program is now the first edit
    second = save_manual_edit(fixed.replace(*MOVE_BUG), loaded, "maze", val=val, train=train, run_dir=None,
                              runs_dir=tmp_path)
    assert second.verdict.accepted and first.verdict.child in second.note and loaded.hash in second.note
    log = load_run(second.run_dir).candidates
    assert log["accepted"].to_list() == [True, True] and log["parent"][1] == first.verdict.child
    patch = json.loads((load_run(second.run_dir).patch_dir(log["patch_id"][1]) / "edits.json").read_text())
    assert patch["parent"] == first.verdict.child


def test_load_edit_target_from_a_file_and_from_a_run(run_after_one_round) -> None:
    session, run = run_after_one_round
    traj = ROOT / "data" / "trajectories"
    assert env_of_program_file("wordle_flawed.py", traj, "maze") == "wordle"
    assert env_of_program_file("mine.py", traj, "babyai") == "babyai"
    from_file = load_edit_target(traj, path=FLAWED, env="maze")
    assert from_file.program.source == FLAWED.read_text() and from_file.run_dir is None and from_file.val
    from_run = load_edit_target(traj, run_dir=run.path)
    assert from_run.program.hash == session.current.hash and from_run.env == "maze"
    assert len(from_run.val) == len(session.val) and from_run.run_dir == run.path
    with pytest.raises(ValueError, match="run_dir or path"):
        load_edit_target(traj)


def test_plan_run_creates_nothing_names_follow_settings_and_resume_lists_what_it_ignores(tmp_path: Path) -> None:
    from patchworld.runlock import RunLockedError
    from patchworld.workbench import available_envs, default_run_folder, plan_run

    traj = ROOT / "data" / "trajectories"
    a = default_run_folder(tmp_path, "maze", "simple", "mutation", FLAWED, 4)
    assert a != default_run_folder(tmp_path, "maze", "simple", "mutation", FLAWED, 2)
    assert a != default_run_folder(tmp_path, "maze", "simple", "mutation", ROOT / "data/programs/maze_reference.py", 4)
    assert a == default_run_folder(tmp_path, "maze", "simple", "mutation", FLAWED, 4, "greedy")   # names kept
    assert a != default_run_folder(tmp_path, "maze", "simple", "mutation", FLAWED, 4, "beam")
    assert "wide search" in plan_run(tmp_path / "w", "maze", traj, program_file=FLAWED, search="beam").note
    plan = plan_run(a, "maze", traj, program_file=FLAWED)
    assert not plan.resumes and "new run" in plan.note and not a.exists()       # looking creates nothing
    assert "no-env" not in available_envs(traj) and {"maze", "wordle"} <= set(available_envs(traj))
    missing = plan_run(tmp_path / "x", "no-env", traj)
    assert "patchworld generate --env no-env" in missing.problem

    opened = open_session(a, "maze", traj, program_file=FLAWED, n_candidates=2)   # what Step does
    other = plan_run(a, "maze", traj, variant="residual", program_file=ROOT / "data/programs/maze_reference.py",
                     n_candidates=3, search="beam")
    assert other.resumes and "variant residual (the run uses simple)" in other.note
    assert "search beam (the run uses greedy)" in other.note
    assert "candidates per round 3 (the run uses 2)" in other.note and "maze_reference.py" in other.note
    assert other.holder and other.holder["pid"] == os.getpid()                  # the open session holds it
    mine = plan_run(a, "maze", traj, program_file=FLAWED, n_candidates=2, own=opened.session)
    assert mine.holder is None and "In use" not in mine.note                     # ...but it is this notebook's

    import threading

    errors = []

    def second_tab() -> None:
        try:
            open_session(a, "maze", traj, program_file=FLAWED, n_candidates=2)
        except RunLockedError as exc:
            errors.append(str(exc))

    tab = threading.Thread(target=second_tab)
    tab.start()
    tab.join()
    assert errors and f"pid {os.getpid()}" in errors[0]
    again = open_session(a, "maze", traj, variant="residual", program_file=FLAWED, n_candidates=2,
                         previous=opened.session)
    assert again.resumed and "Ignored: variant residual (the run uses simple)" in again.note
    again.session.close()
    assert plan_run(a, "maze", traj, program_file=FLAWED, n_candidates=2).holder is None


def test_trajectory_stepper_pairs_parent_and_child(run_after_one_round) -> None:
    from patchworld.stepper import step_through, trajectory_choices, transition_html

    _, run = run_after_one_round
    row = run.candidates.filter(pl.col("accepted")).row(0, named=True)
    view = candidate_view(run, row)
    ids = trajectory_choices(run, row)
    fixed_id = view.summary["fixed"][0]
    traj_id = fixed_id.split("#")[0]
    wanted = {r["id"].split("#")[0] for r in view.rows} | {i.split("#")[0] for i in view.summary["fixed"]}
    assert set(ids[: len(wanted)]) == wanted and traj_id in ids          # the candidate's trajectories first
    steps = step_through(run, row, traj_id, sandbox=False)
    val = {t.id: t for t in RunStore_val(run)}
    assert len(steps) == len(val[traj_id].transitions)
    assert [s.true for s in steps] == [t.next_observation for t in val[traj_id].transitions]
    assert all(s.child is not None for s in steps)
    changed = next(s for s in steps if s.id == fixed_id)
    assert changed.changed and changed.child["exact"] and not changed.parent["exact"]   # the fix, where it is
    assert steps[0].parent["belief_after"] == steps[1].parent["belief_before"]
    page = transition_html(steps, changed.index)
    assert f"Transition {changed.index + 1} of {len(steps)}" in page and "pw-tok-wrong" in page
    assert "the child predicts differently here" in page
    assert "Transition 1 of" in transition_html(steps, -5) and transition_html([], 0).startswith("<p>")


def RunStore_val(run):  # noqa: N802
    from patchworld.store import RunStore

    return RunStore(run.path).load_data("val")


def test_run_comparison_table_curves_diff_and_round_curve_clicks(run_after_one_round, data, tmp_path) -> None:
    from patchworld.compare import (
        final_program_diff,
        picked_candidate,
        round_curve_points,
        round_curves_figure,
        runs_table,
    )
    from patchworld.viz import round_curve

    session, run = run_after_one_round
    train, val = data
    plain = Session("maze", train, val, program=Program.from_file(FLAWED), proposer=None, run_dir=tmp_path / "plain",
                    sandbox=False)
    assert plain.score["token_f1"] < 1
    plain.close()
    other = load_run(tmp_path / "plain")
    table = runs_table([run, other]).to_dicts()
    assert [r["accepted"] for r in table] == [1, 0] and table[0]["gain"] > 0 and table[1]["rounds"] == 0
    assert table[0]["final_program"] == session.current.hash
    fig = round_curves_figure([run, other])
    assert [t.name for t in fig.data] == ["run", "plain"] and list(fig.data[0].x) == [0, 1]
    page = _visible(final_program_diff(other, run))
    assert "{GOAL[0]}, {GOAL[1]}" in page and "{GOAL[1]}, {GOAL[0]}" in page
    curve = round_curve(run.candidates)
    keys = round_curve_points(curve, run.candidates)
    assert set(keys.values()) == set(run.candidates["candidate_id"].to_list())
    accepted = run.candidates.filter(pl.col("accepted"))["candidate_id"][0]
    (number, index) = next(k for k, v in keys.items() if v == accepted)
    assert "lines" in curve.data[number].mode
    assert picked_candidate([{"curveNumber": number, "pointIndex": index}], keys) == accepted
    assert picked_candidate([{"curveNumber": 99, "pointIndex": 0}], keys) is None


def test_exported_figure_is_used_only_when_as_new_as_the_results(tmp_path: Path) -> None:
    import os as _os

    from patchworld.views import exported_figure

    (tmp_path / "results.parquet").write_bytes(b"x")
    (tmp_path / "pareto.svg").write_text('<?xml version="1.0"?><svg class="main-svg"><g/></svg>')
    shown = exported_figure(tmp_path, "pareto")
    assert shown and shown.startswith('<div class="pw-exported-figure"><svg') and "<?xml" not in shown
    stamp = (tmp_path / "results.parquet").stat().st_mtime
    _os.utime(tmp_path / "pareto.svg", (stamp - 60, stamp - 60))     # results re-evaluated after the export
    assert exported_figure(tmp_path, "pareto") is None
    assert exported_figure(tmp_path, "horizon") is None


def test_accepted_candidate_records_token_f1_ups_and_downs_over_all_of_val(run_after_one_round) -> None:
    from patchworld.data import load_trajectories

    _, run = run_after_one_round
    accepted = run.candidates.filter(pl.col("accepted")).row(0, named=True)
    view = candidate_view(run, candidate_row(run.candidates, accepted["candidate_id"]))
    up, down = view.summary["f1_up"], view.summary["f1_down"]
    assert view.counts["val_f1_up"] == len(up) > 0 and view.counts["val_f1_down"] == len(down)
    assert set(view.summary["fixed"]) <= set(up)  # an exact fix is also a token-F1 rise
    val_ids = {f"{t.id}#{i}" for t in load_trajectories(run.path / "data" / "val.jsonl") for i in range(len(t))}
    assert set(up) <= val_ids and not set(up) & set(down)
