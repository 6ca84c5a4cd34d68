"""RunStore: round trip, torn last line tolerated, atomic writes, resume bookkeeping."""

from __future__ import annotations

import json
import os

import pytest

from patchworld.program import Program
from patchworld.store import (
    RunStore,
    RunStoreError,
    atomic_write_text,
    load_run,
    proposer_from_header,
    proposer_settings,
    read_jsonl,
)


def _record(r: int, cid: str, parent: str, child: str | None, accepted: bool, f1_before: float, f1_after: float | None,
            fixed=(), broken=()) -> dict:
    return {"round": r, "candidate_id": cid, "parent": parent, "child": child, "patch_id": f"p{cid}",
            "apply_tier": "exact", "origin": "mutation:test", "accepted": accepted, "reason": "x",
            "score_before": {"token_f1": f1_before}, "score_after": None if f1_after is None else {"token_f1": f1_after},
            "fixed": list(fixed), "broken": list(broken), "prompt_tokens": 3, "completion_tokens": 4}


@pytest.fixture()
def store(tmp_path):
    return RunStore.create(tmp_path / "run", {"env": "maze", "initial_program": "aaa"})


def test_round_trip(store):
    p0 = Program("x = 1\n", origin="initial")
    p1 = Program("x = 2\n", origin="mutation:flip", parent=p0.hash)
    store.save_program(p0)
    store.save_program(p1)
    store.append_round({"round": 0, "candidates": 0, "accepted": False, "val_token_f1": 0.5, "program": p0.hash})
    store.append_candidates([
        _record(1, "r001c00", p0.hash, p1.hash, True, 0.5, 0.75, fixed=["t#1", "t#2"], broken=["t#3"]),
        _record(1, "r001c01", p0.hash, None, False, 0.5, None),
    ])
    store.append_candidates([_record(2, "r002c00", p1.hash, "zzz", False, 0.75, 0.7)])
    store.save_patch_files("pr001c00", {"edits.json": {"edits": []}, "prompt.txt": "hello"})
    run = load_run(store.path)
    assert run.header["env"] == "maze"
    assert run.candidates.height == 3
    first = run.candidates.row(0, named=True)
    assert first["score_before"] == 0.5 and first["score_after"] == 0.75
    assert first["fixed"] == ["t#1", "t#2"] and first["n_fixed"] == 2 and first["n_broken"] == 1
    assert run.candidates["score_after"].to_list()[1] is None
    assert run.rounds["round"].to_list() == [0, 1, 2]
    assert run.rounds["val_token_f1"].to_list() == [0.5, 0.75, 0.75]
    assert run.rounds["accepted"].to_list() == [False, True, False]
    assert run.current == p1.hash
    assert run.program(p1.hash) == p1
    assert (run.patch_dir("pr001c00") / "prompt.txt").read_text() == "hello"
    assert json.loads((run.patch_dir("pr001c00") / "edits.json").read_text()) == {"edits": []}
    assert store.last_accepted() == p1.hash and store.last_round() == 2


def test_torn_last_line_is_ignored_with_a_warning_and_repaired_on_append(store):
    store.append_candidates([_record(1, "r001c00", "a", "b", False, 0.5, 0.4)])
    with open(store.path / "candidates.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"round": 2, "candidate_id": "r002c0')      # a kill in the middle of a write
    with pytest.warns(UserWarning, match="torn last line"):
        run = load_run(store.path)
    assert run.candidates["candidate_id"].to_list() == ["r001c00"]
    # the next append starts on a fresh line, so the torn fragment never glues onto a good record
    store.append_candidates([_record(2, "r002c00", "a", "c", False, 0.5, 0.45)])
    with pytest.warns(UserWarning, match="corrupt line"):
        records = read_jsonl(store.path / "candidates.jsonl")
    assert [r["candidate_id"] for r in records] == ["r001c00", "r002c00"]


def test_corrupt_header_names_the_file(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "header.json").write_text("{not json")
    with pytest.raises(RunStoreError, match="header.json"):
        load_run(tmp_path / "run")
    with pytest.raises(RunStoreError, match="not a run folder"):
        RunStore(tmp_path)


def test_create_refuses_an_existing_run(store):
    with pytest.raises(FileExistsError):
        RunStore.create(store.path, {"env": "maze"})


def test_atomic_write_leaves_old_content_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    atomic_write_text(target, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]     # no temp file left behind


def test_missing_program_is_a_clear_error(store):
    with pytest.raises(RunStoreError, match="deadbeef"):
        store.load_program("deadbeef")


def test_report_of_a_run_without_candidates_still_renders(store):
    from patchworld.report import write_report

    store.append_round({"round": 0, "candidates": 0, "accepted": False, "val_token_f1": 0.25, "program": "aaa"})
    path = write_report(store.path, summary={"note": "empty run"})
    html = path.read_text(encoding="utf-8")
    assert path == store.path / "report.html"
    assert "Plotly.newPlot" in html and "No patch was accepted" in html and "empty run" in html


def test_llm_proposer_rebuilt_from_the_header_keeps_its_concurrency(tmp_path):
    from patchworld.proposers.llm import LLMProposer

    original = LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", api_key="sk-secret-xyz", cache_dir=tmp_path / "cache",
                           temperature=0.3, concurrency=3)
    header = json.loads(json.dumps(proposer_settings(original)))   # what header.json holds
    assert "sk-secret-xyz" not in json.dumps(header)                # the key is never written
    rebuilt = proposer_from_header(header, seed=0)
    assert isinstance(rebuilt, LLMProposer)
    assert (rebuilt.concurrency, rebuilt.temperature, rebuilt.model) == (3, 0.3, "m")
    assert rebuilt.workers(8) == 3
    default = proposer_from_header(json.loads(json.dumps(proposer_settings(
        LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path / "cache")))), seed=0)
    assert default.concurrency is None and default.workers(4) == 4


def test_report_examples_show_fixed_and_broken_transitions():
    from patchworld.report import _examples

    fixed = [{"id": f"f{i}", "action": "go", "true": "T", "predicted_before": "x", "predicted_after": "T",
              "exact_before": False, "exact_after": True} for i in range(6)]
    broken = [{"id": "b0", "action": "<b>x</b>", "true": "T", "predicted_before": "T", "predicted_after": "y",
               "exact_before": True, "exact_after": False}]
    page = _examples({"fixed_examples": fixed, "broken_examples": broken, "fixed": [r["id"] for r in fixed],
                      "broken": ["b0"]}, limit=4)
    assert page.count("<b>fixed</b>") == 4 and page.count("<b>broken</b>") == 1
    assert "fixed (6 in all) and broke (1)" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert _examples({}) == ""
