"""Evaluation: reference programs, the planning proxy, the tidy results frame and the CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from stub_llm import stub_llm  # noqa: F401  (pytest fixture)

from patchworld.baselines import (
    COPY_LAST,
    LOOKUP,
    MOST_FREQUENT,
    copy_last_source,
    lookup_table_source,
    null_source,
    reference_programs,
    transition_key,
)
from patchworld.envs.generate import GenerationConfig, generate
from patchworld.evaluate import (
    RESULT_SCHEMA,
    evaluate,
    load_results,
    load_split,
    program_source,
    save_results,
    wide,
)
from patchworld.planning import PerfectWorldModel, open_world_model
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.utility import decision_agreement, model_search_success

HANDWRITTEN = Path(__file__).resolve().parents[1] / "data" / "programs" / "handwritten"
PROGRAMS = HANDWRITTEN.parent


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trajectories")
    generate("maze", 0, root / "maze", GenerationConfig(n_tasks=(8, 2, 4), max_steps=15))
    generate("textcraft", 0, root / "textcraft", GenerationConfig(n_tasks=(8, 2, 4), max_steps=12))
    return root


def test_lookup_table_is_perfect_on_train_and_poor_on_unseen_test(data_dir: Path) -> None:
    for env in ("maze", "textcraft"):
        train, test = load_split(env, "train", data_dir), load_split(env, "test", data_dir)
        program = Program.from_source(lookup_table_source(train))
        if env == "maze":  # deterministic env: every train pair has one next observation
            assert replay(program, train, sandbox=False).metrics["exact_match"] == 1.0
        seen = {transition_key(t.observation, t.action) for tr in train for t in tr.transitions}
        steps = replay(program, test, sandbox=False).steps
        keys = [transition_key(o, a) for o, a in zip(steps["observation"], steps["action"], strict=True)]
        unseen = steps.filter(pl.Series([k not in seen for k in keys]))
        assert unseen.height > 0, env
        assert unseen["exact"].sum() == 0 and (unseen["predicted"] == "").all()
    assert replay(program, test, sandbox=False).metrics["exact_match"] < 0.5  # textcraft: mostly unseen


def test_reference_sources_behave_as_documented(data_dir: Path) -> None:
    train = load_split("maze", "train", data_dir)
    labels = [label for label, _ in reference_programs(train, "maze")]
    assert labels == [LOOKUP, COPY_LAST, MOST_FREQUENT]
    steps = replay(Program.from_source(copy_last_source()), train[:3], sandbox=False).steps
    assert (steps["predicted"] == steps["observation"]).all()
    frequent = dict(reference_programs(train, "maze"))[MOST_FREQUENT]
    assert replay(frequent, train[:3], sandbox=False).steps["predicted"].n_unique() == 1


def _opener(program: object):
    return lambda live: PerfectWorldModel(live) if program == "oracle" else open_world_model(program, sandbox=False)


def test_decision_agreement_separates_oracle_and_null(data_dir: Path) -> None:
    test = load_split("maze", "test", data_dir)
    oracle = decision_agreement(_opener("oracle"), "maze", test, max_states=8)
    null = decision_agreement(_opener(Program.from_source(null_source())), "maze", test, max_states=8)
    hand = decision_agreement(_opener(Program.from_file(HANDWRITTEN / "maze.py")), "maze", test, max_states=8)
    assert oracle["action_accuracy"].units == null["action_accuracy"].units  # the same 8 states for every model
    assert len(oracle["action_accuracy"].units) == 8
    assert oracle["action_accuracy"].value == 1.0 and oracle["decision_agreement"].value == 1.0
    assert null["action_accuracy"].value == 0.0 and null["decision_agreement"].value < 0.5
    assert hand["decision_agreement"].value == 1.0  # positions are right even where the wall text is not


SHIPPED = PROGRAMS.parent / "trajectories"
USELESS = {"null": null_source(), "copy last": copy_last_source()}
# model_search on shipped test tasks: the first 4, over every available action (as `evaluate` plans); WebShop's
# perfect model buys at the first positive reward, strictly right on 3 of its 15 test tasks, so all 15 (cheap)
SEARCH_TASKS = {"webshop": 15}


@pytest.mark.parametrize("env", ["maze", "wordle", "textcraft", "babyai", "alfworld", "webshop"])
def test_useless_programs_do_not_reach_the_perfect_model(env: str) -> None:
    """Predicting nothing, or the current text again, never plans like the perfect model (shipped test data)."""
    test = load_split(env, "test", SHIPPED)
    tasks = sorted({t.task_idx for t in test})[: SEARCH_TASKS.get(env, 4)]
    truth: dict = {}  # the true outcomes, computed once for the three models
    perfect_d = decision_agreement(_opener("oracle"), env, test, max_states=16, truth=truth)["decision_agreement"].value
    perfect_s = model_search_success(_opener("oracle"), env, tasks, 20, max_candidates=None)["model_search_success"]
    assert perfect_d == 1.0 and perfect_s.value > 0
    for name, source in USELESS.items():
        program = Program.from_source(source)
        agree = decision_agreement(_opener(program), env, test, max_states=16, truth=truth)["decision_agreement"].value
        search = model_search_success(_opener(program), env, tasks, 20, max_candidates=None)["model_search_success"]
        assert agree < perfect_d and search.value < perfect_s.value, (env, name, agree, search.value)


@pytest.fixture(scope="module")
def sciworld():
    """One SciWorld env (one JVM) for this module's SciWorld cases."""
    from patchworld.envs import make

    env = make("sciworld")
    yield env
    (getattr(env, "close", None) or env.engine.close)()


@pytest.mark.slow
def test_useless_programs_do_not_decide_like_the_perfect_model_on_sciworld(sciworld) -> None:
    """SciWorld: decision_agreement only. Its perfect model's live search clones the JVM world for every
    prediction (minutes per step over ~150 available actions), too slow for a test or `make results`."""
    test = load_split("sciworld", "test", SHIPPED)
    truth: dict = {}
    perfect = decision_agreement(_opener("oracle"), sciworld, test, max_states=4, truth=truth)
    assert perfect["decision_agreement"].value == 1.0 and perfect["decision_agreement"].n >= 2
    assert len(truth) == 4  # computed once, reused below
    for name, source in USELESS.items():
        got = decision_agreement(_opener(Program.from_source(source)), sciworld, test, max_states=4, truth=truth)
        assert got["action_accuracy"].units == perfect["action_accuracy"].units, name
        assert got["decision_agreement"].value < 1.0, name
    hand = Program.from_file(HANDWRITTEN / "sciworld.py")
    search = model_search_success(_opener(hand), sciworld, [4428], 4, max_candidates=12)
    assert search["model_search_steps"].value == 4  # a live episode ran through the shared env


def test_decision_truth_cache_gives_the_same_measures(data_dir: Path) -> None:
    """The shared true outcomes change nothing for a deterministic env: with and without the cache alike."""
    test = load_split("maze", "test", data_dir)
    program = Program.from_file(PROGRAMS / "maze_flawed.py")
    fresh = decision_agreement(_opener(program), "maze", test, max_states=8)
    truth: dict = {}
    decision_agreement(_opener("oracle"), "maze", test, max_states=8, truth=truth)
    cached = decision_agreement(_opener(program), "maze", test, max_states=8, truth=truth)
    assert len(truth) == 8
    for name, m in fresh.items():
        assert (cached[name].units, cached[name].num, cached[name].den) == (m.units, m.num, m.den), name


@pytest.fixture(scope="module")
def evaluated(data_dir: Path) -> tuple[list, pl.DataFrame, list[tuple[int, int, str]]]:
    """One evaluation of the handwritten maze program (Simple and Residual) on maze and textcraft, shared."""
    program = Program.from_file(HANDWRITTEN / "maze.py")
    entries = [(label, program, v, env) for env in ("maze", "textcraft") for v in ("simple", "residual")
               for label in ["handwritten"]]
    calls: list[tuple[int, int, str]] = []
    results = evaluate(entries, ["maze", "textcraft"], data_dir=data_dir, n_tasks=2, proxy_states=4,
                       rollout_limit=3, max_steps=6, sandbox=False, samples=200,
                       progress=lambda d, t, m: calls.append((d, t, m)))
    return entries, results, calls


def _without_interval(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows that have a value but no interval, or an interval the wrong way round."""
    return frame.filter(pl.col("value").is_not_null()
                        & (pl.col("lo").is_null() | pl.col("hi").is_null() | (pl.col("lo") > pl.col("hi"))))


def test_every_metric_of_the_frame_has_an_interval(evaluated) -> None:
    _, results, _ = evaluated
    metrics = sorted(set(results["metric"]))
    assert {"rollout_auc", "rollout_drop", "memory_hits", "memory_entries", "token_f1_post_correction"} <= set(metrics)
    for metric in metrics:
        rows = results.filter(pl.col("metric") == metric)
        assert rows["value"].is_not_null().any(), metric
        bad = _without_interval(rows)
        assert bad.is_empty(), f"{metric}: no interval in {bad.select('env', 'label', 'variant').rows()}"
    for env in ("maze", "textcraft", "macro"):  # the rollout metrics per env and macro, Simple-minus-Residual too
        for variant in ("simple", "residual", "simple-residual"):
            row = results.filter((pl.col("env") == env) & (pl.col("variant") == variant)
                                 & (pl.col("label") == "handwritten") & (pl.col("metric") == "rollout_auc"))
            assert row.height == 1 and row["lo"][0] is not None, (env, variant)
    auc = results.filter((pl.col("metric") == "rollout_auc") & (pl.col("label") == "handwritten"))
    per_env = auc.filter((pl.col("env") != "macro") & (pl.col("variant") == "simple"))["value"]
    macro = auc.filter((pl.col("env") == "macro") & (pl.col("variant") == "simple"))["value"][0]
    assert macro == pytest.approx(per_env.mean())
    diff = auc.filter((pl.col("env") == "maze") & (pl.col("variant") == "simple-residual"))["value"][0]
    both = {v: auc.filter((pl.col("env") == "maze") & (pl.col("variant") == v))["value"][0]
            for v in ("simple", "residual")}
    assert diff == pytest.approx(both["simple"] - both["residual"])
    entries = results.filter((pl.col("metric") == "memory_entries") & (pl.col("env") == "maze"))
    assert entries["lo"][0] == entries["hi"][0] == entries["value"][0]  # built from train: a constant


def test_evaluate_frame_shape_intervals_differences_and_macro(evaluated, data_dir: Path, tmp_path: Path) -> None:
    entries, results, calls = evaluated
    assert results.schema == pl.Schema(RESULT_SCHEMA)
    assert calls[-1][0] == calls[-1][1] == 12  # per env: 2 entries + 3 references + the oracle
    variants = set(results.filter(pl.col("env") == "maze").select("label", "variant").unique().iter_rows())
    assert variants == {("handwritten", "simple"), ("handwritten", "residual"), ("handwritten", "simple-residual"),
                        (LOOKUP, "reference"), (COPY_LAST, "reference"), (MOST_FREQUENT, "reference"),
                        ("perfect model", "oracle")}
    simple = results.filter((pl.col("label") == "handwritten") & (pl.col("variant") == "simple")
                            & (pl.col("env") == "maze"))
    by_rq = {rq: set(g["metric"]) for (rq,), g in simple.group_by("rq")}
    assert {"token_f1", "exact_match", "bleu4", "coverage", "token_f1_ref", "bleu4_ref", "coverage_ref"} <= by_rq["rq1"]
    assert {"rollout_auc", "rollout_drop", "f1@1"} <= by_rq["rq2"]
    assert {"decision_agreement", "decision_regret", "action_accuracy"} <= by_rq["decision"]
    assert {"model_search_success", "model_search_lenient_success", "model_search_steps"} <= by_rq["search"]
    # ratio metrics: the value lies in its percentile interval (the rollout AUC/drop, a nonlinear function of
    # per-horizon means, need not: tests/test_rollout_intervals.py checks those against a hand bootstrap)
    with_interval = results.filter(pl.col("lo").is_not_null() & ~pl.col("metric").str.starts_with("rollout_"))
    assert with_interval.height > 0 and (with_interval["lo"] <= with_interval["value"] + 1e-9).all()
    assert (with_interval["value"] <= with_interval["hi"] + 1e-9).all()
    residual = results.filter((pl.col("variant") == "residual") & (pl.col("env") == "maze"))
    assert {"memory_hits", "memory_wrong_hits", "memory_entries"} <= set(residual["metric"])
    # a difference row is the paired difference of the two variants' values
    diff = results.filter((pl.col("variant") == "simple-residual") & (pl.col("metric") == "token_f1")
                          & (pl.col("env") == "maze"))["value"][0]
    f1 = {v: results.filter((pl.col("variant") == v) & (pl.col("metric") == "token_f1") & (pl.col("env") == "maze")
                            & (pl.col("label") == "handwritten"))["value"][0] for v in ("simple", "residual")}
    assert diff == pytest.approx(f1["simple"] - f1["residual"])
    macro = results.filter((pl.col("env") == "macro") & (pl.col("metric") == "token_f1")
                           & (pl.col("variant") == "simple") & (pl.col("label") == "handwritten"))
    per_env = results.filter((pl.col("env") != "macro") & (pl.col("metric") == "token_f1")
                             & (pl.col("variant") == "simple") & (pl.col("label") == "handwritten"))["value"]
    assert macro["value"][0] == pytest.approx(per_env.mean()) and macro["lo"][0] <= macro["value"][0]
    macro_diff = results.filter((pl.col("env") == "macro") & (pl.col("metric") == "token_f1")
                                & (pl.col("variant") == "simple-residual"))
    env_diffs = results.filter((pl.col("env") != "macro") & (pl.col("metric") == "token_f1")
                               & (pl.col("variant") == "simple-residual"))["value"]
    assert macro_diff["value"][0] == pytest.approx(env_diffs.mean())
    assert macro_diff["lo"][0] <= macro_diff["value"][0] <= macro_diff["hi"][0]
    again = evaluate(entries[:1], ["maze"], data_dir=data_dir, rqs=["rq1"], references=False, oracle=False,
                     sandbox=False, samples=200)
    first = results.filter((pl.col("env") == "maze") & (pl.col("variant") == "simple")
                           & (pl.col("label") == "handwritten") & (pl.col("rq") == "rq1")).sort("metric")
    assert first.select("lo", "hi").equals(again.sort("metric").select("lo", "hi"))  # the seed fixes the draws
    table = wide(results)
    assert {"token_f1", "model_search_success", "decision_agreement"} <= set(table.columns)
    path = save_results(results, tmp_path / "out", {"note": "test"})
    back, meta = load_results(path.parent)
    assert back.equals(results) and meta["note"] == "test" and "created" in meta
    assert (path.parent / "results.csv").exists()


def test_evaluate_rejects_bad_input(data_dir: Path, tmp_path: Path) -> None:
    program = Program.from_source(null_source())
    with pytest.raises(ValueError, match="variant"):
        evaluate([("x", program, "fancy", "maze")], ["maze"], data_dir=data_dir, rqs=["rq1"])
    with pytest.raises(ValueError, match="unknown rq"):
        evaluate([], ["maze"], data_dir=data_dir, rqs=["rq9"])
    with pytest.raises(FileNotFoundError, match="wordle_traj_train"):
        evaluate([], ["wordle"], data_dir=data_dir, rqs=["rq1"])
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "results.parquet")
    with pytest.raises(ValueError, match="missing columns"):
        load_results(tmp_path)


def test_cli_evaluate_then_figures(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from patchworld.cli import main

    out = tmp_path / "results"
    code = main(["evaluate", "--programs", str(HANDWRITTEN / "maze.py"), "--data", str(data_dir), "--out", str(out),
                 "--rqs", "rq1", "decision", "--n-tasks", "3", "maze=1", "--proxy-states", "3", "--no-sandbox",
                 "--samples", "100", "--skip", "maze/oracle/decision"])
    assert code == 0
    frame, meta = load_results(out)
    assert set(frame["variant"]) == {"simple", "residual", "simple-residual", "reference", "oracle"}
    assert meta["programs"] and meta["per_env"]["maze"]["n_tasks"] == 1 and meta["per_env"]["maze"]["proxy_states"] == 3
    decided = set(frame.filter(pl.col("rq") == "decision")["variant"])
    assert "oracle" not in decided and {"simple", "residual"} <= decided  # the skipped measure only
    states = frame.filter((pl.col("metric") == "action_accuracy") & (pl.col("variant") == "simple"))["n"]
    assert states.to_list() == [3]  # --proxy-states 3 reached decision_agreement
    assert meta["bootstrap"] == {"seed": 0, "samples": 100, "level": 0.95, "paired": True}
    assert meta["tasks"]["maze"] == sorted({t.task_idx for t in load_split("maze", "test", data_dir)})[:1]
    figs = tmp_path / "figures"
    assert main(["figures", "--results", str(out), "--out", str(figs), "--formats", "html", "--plotlyjs", "cdn"]) == 0
    assert {p.name for p in figs.iterdir()} >= {"pareto.html", "table.html", "results_wide.csv", "results.tex"}
    assert main(["figures", "--results", str(tmp_path / "nowhere"), "--out", str(figs)]) == 2
    assert "no results file" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="no such program file"):
        main(["evaluate", "--programs", str(tmp_path / "x.py"), "--out", str(out)])
    (tmp_path / "x.py").write_text((HANDWRITTEN / "maze.py").read_text())
    with pytest.raises(SystemExit, match="ENV=FILE"):
        main(["evaluate", "--programs", str(tmp_path / "x.py"), "--out", str(out)])
    with pytest.raises(SystemExit, match="--proxy-states maze=x: expected N or ENV=N"):
        main(["evaluate", "--proxy-states", "maze=x", "--out", str(out)])
    with pytest.raises(SystemExit, match="--n-tasks mars=2: unknown env 'mars'"):
        main(["evaluate", "--n-tasks", "mars=2", "--out", str(out)])
    assert main(["evaluate", "--skip", "maze/oracle", "--out", str(out)]) == 2
    assert "--skip maze/oracle: expected ENV/VARIANT/RQ" in capsys.readouterr().err


def test_rq3_llm_success_and_react_baseline_count_failed_choices(data_dir: Path, stub_llm) -> None:  # noqa: F811
    from patchworld.evaluate import REACT_LABEL
    from patchworld.planning import LLMSettings

    stub_llm.default = "Thought: hm.\nAction: move up"
    llm = LLMSettings(base_url=stub_llm.url, api_key="t", model="stub", max_retries=0, timeout=5)
    program = Program.from_file(HANDWRITTEN / "maze.py")
    results = evaluate([("hw", program, "simple", "maze")], ["maze"], data_dir=data_dir, rqs=["rq3"],
                       references=True, oracle=False, n_tasks=1, sandbox=False, llm=llm, max_steps=3, samples=50)
    labels = set(results["label"])
    assert {"hw", REACT_LABEL} <= labels
    hw = results.filter(pl.col("label") == "hw")
    assert {"llm_success", "llm_lenient_success", "llm_steps", "n_chooser_fallbacks"} == set(hw["metric"])
    assert hw.filter(pl.col("metric") == "n_chooser_fallbacks")["value"][0] == 0
    # each lookahead step: one proposal and one choice; each ReAct step: one request
    lookahead_steps = hw.filter(pl.col("metric") == "llm_steps")["value"][0]
    react_steps = results.filter((pl.col("label") == REACT_LABEL) & (pl.col("metric") == "llm_steps"))["value"][0]
    references = 3 * 2 * 3  # three reference programs, 3 steps, two requests each
    assert stub_llm.calls == 2 * lookahead_steps + react_steps + references
    assert any("PREDICTED NEXT OBS" in r["messages"][-1]["content"] for r in stub_llm.requests)
    stub_llm.default = "no idea"
    again = evaluate([("hw", program, "simple", "maze")], ["maze"], data_dir=data_dir, rqs=["rq3"],
                     references=False, oracle=False, n_tasks=1, sandbox=False, llm=llm, max_steps=2, samples=50)
    assert again.filter(pl.col("metric") == "n_chooser_fallbacks")["value"][0] == 2  # every choice failed
    assert _without_interval(pl.concat([results, again])).is_empty()  # RQ3 measures and the fallback count too


def _stored_sources(out: Path, frame: pl.DataFrame) -> dict[str, str]:
    """``programs/<hash>.py`` of a results folder, checked: one file per program hash of the frame
    (none for the oracle), each file's content hash its name."""
    hashes = set(frame["program"]) - {"oracle", "react", ""}  # "": difference and macro rows
    files = {p.stem: p.read_bytes().decode("utf-8") for p in (out / "programs").glob("*.py")}
    assert set(files) == hashes
    assert all(Program.from_source(text).hash == h for h, text in files.items())
    return files


def test_save_results_writes_every_program_source(data_dir: Path, tmp_path: Path) -> None:
    program = Program.from_file(HANDWRITTEN / "maze.py")
    sources: dict[str, str] = {}
    results = evaluate([("handwritten", program, "simple", "maze"), ("handwritten", program, "residual", "maze")],
                       ["maze"], data_dir=data_dir, rqs=["rq1"], sandbox=False, sources=sources)
    out = tmp_path / "out"
    save_results(results, out, sources={**sources, Program.from_source("x = 1").hash: "x = 1"})
    files = _stored_sources(out, results)  # the extra source (not in the frame) is not written
    assert files[program.hash] == (HANDWRITTEN / "maze.py").read_text(encoding="utf-8")
    references = dict(reference_programs(load_split("maze", "train", data_dir), "maze"))
    for label, ref in references.items():
        assert results.filter(pl.col("label") == label)["program"][0] == ref.hash
        assert files[ref.hash] == ref.source
    assert load_results(out)[1]["program_files"] == [f"programs/{h}.py" for h in sorted(files)]
    with pytest.raises(ValueError, match="has hash"):
        save_results(results, tmp_path / "bad", sources={program.hash: "not the source"})


def test_cli_evaluate_stores_programs_of_files_and_runs(data_dir: Path, tmp_path: Path) -> None:
    from patchworld.cli import main
    from patchworld.store import load_run

    run_dir = tmp_path / "runs" / "maze-flawed"
    assert main(["induce", "--env", "maze", "--proposer", "mutation", "--rounds", "1", "--out", str(run_dir),
                 "--program", str(PROGRAMS / "maze_flawed.py"), "--data-dir", str(data_dir / "maze"),
                 "--no-sandbox"]) == 0
    run = load_run(run_dir)
    assert run.current != run.header["initial_program"]  # the round was accepted
    out = tmp_path / "results"
    assert main(["evaluate", "--programs", str(HANDWRITTEN / "maze.py"), "--runs", str(run_dir), "--data", str(data_dir),
                 "--out", str(out), "--rqs", "rq1", "--no-sandbox", "--samples", "50"]) == 0
    frame, meta = load_results(out)
    induced = frame.filter(pl.col("label") == "induced from maze_flawed")
    assert set(induced["variant"]) == {"simple", "residual", "simple-residual"}
    assert set(induced["round"]) == {0, 1}  # every accepted program: the start and the round-1 child
    last = induced.filter(pl.col("round") == 1)
    assert set(last.filter(pl.col("variant") != "simple-residual")["program"]) == {run.current}
    assert meta["runs"][str(run_dir)]["program"] == run.current
    files = _stored_sources(out, frame)
    assert files[run.current] == run.program(run.current).source
    assert files[Program.from_file(HANDWRITTEN / "maze.py").hash] == (HANDWRITTEN / "maze.py").read_text()
    for h in files:  # the folder alone is enough, without the run folder or data/programs
        assert program_source(out, h) == files[h]


def test_program_source_by_folder_then_search_by_content(tmp_path: Path) -> None:
    text = (HANDWRITTEN / "wordle.py").read_text(encoding="utf-8")
    h = Program.from_source(text).hash
    results = tmp_path / "results"
    (results / "programs").mkdir(parents=True)
    (results / "programs" / f"{h}.py").write_text(text, encoding="utf-8")
    assert program_source(results, h) == text
    assert program_source(tmp_path / "elsewhere", h) is None  # no results folder, no search folders
    other = (PROGRAMS / "maze_reference.py").read_text(encoding="utf-8")
    oh = Program.from_source(other).hash
    search = tmp_path / "search"
    (search / "deep" / "er").mkdir(parents=True)
    (search / "deep" / "er" / "renamed.py").write_text(other, encoding="utf-8")
    (search / f"{oh}.py").write_text("# edited, so not this program any more\n", encoding="utf-8")
    assert program_source(results, oh) is None
    assert program_source(results, oh, search=[tmp_path / "missing", search]) == other  # by content hash
    assert program_source(results, oh, search=[str(PROGRAMS)]) == other  # str folders, data/programs itself
    assert program_source(results, "0123456789ab", search=[search, PROGRAMS]) is None
    assert program_source(results, "oracle") is None  # the perfect model's entry has no source
    for bad in ("../x", f"../{h}", f"programs/{h}", h.upper(), h + "0", h[:-1], "", f"{h[:11]}/", None):
        with pytest.raises(ValueError, match="not a program hash"):
            program_source(results, bad, search=[search])


def test_cli_evaluate_finds_the_shipped_data_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from patchworld.cli import main

    monkeypatch.chdir(tmp_path)   # no data/trajectories here: the default is the shipped folder, not the cwd's
    out = tmp_path / "results"
    code = main(["evaluate", "--programs", f"maze={HANDWRITTEN / 'maze.py'}", "--out", str(out), "--rqs", "rq1",
                 "--variants", "simple", "--no-references", "--no-oracle", "--max-test", "2", "--no-sandbox"])
    assert code == 0
    frame, _meta = load_results(out)
    assert set(frame["env"]) == {"maze"} and frame.filter(pl.col("metric") == "token_f1")["value"][0] > 0.5
