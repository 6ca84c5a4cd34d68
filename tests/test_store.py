"""RunStore: round trip, torn last line tolerated, atomic writes, resume bookkeeping."""

from __future__ import annotations

import json
import os

import pytest

from patchworld.program import Program
from patchworld.store import (
    RunLockedError,
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
    first = Program("x = 0\n", origin="initial")
    made = RunStore.create(tmp_path / "run", {"env": "maze", "initial_program": first.hash},
                           data={"train": [], "val": []}, programs=[first])
    yield made
    made.close()


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


def test_create_on_a_file_says_it_is_a_file_and_leaves_it(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        RunStore.create(target, {"env": "maze"})
    assert target.read_text() == "mine"


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
    import inspect

    preset = inspect.signature(LLMProposer).parameters["concurrency"].default   # the class's own default
    assert default.concurrency == preset and default.workers(4) == min(4, preset or 4)


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


# -- one writer per run folder, atomic creation, short writes and disk errors --------------------------

_HOLD = """
import os, sys, time
from patchworld.store import RunStore
store = RunStore(sys.argv[1], write=True, what="holder script")
if len(sys.argv) > 2:
    child = os.fork()
    if child == 0:              # a child inherits the lock's descriptor and outlives its parent
        time.sleep(60)
        os._exit(0)
    print(child, flush=True)
print("locked", flush=True)
time.sleep(60)
"""


def _holder(run_dir, fork=False):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)] + (["fork"] if fork else []),
                            stdout=subprocess.PIPE, text=True)
    proc.child = int(proc.stdout.readline()) if fork else None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _try_write(path):
    try:
        RunStore(path, write=True).close()
    except RunLockedError as exc:
        return exc
    return None


def test_the_same_thread_takes_over_and_the_older_store_is_superseded(store):
    newer = RunStore(store.path, write=True)       # a notebook cell run again / a script resuming its own run
    assert newer.locked and not store.locked
    with pytest.raises(RunLockedError, match="newer session in this thread"):
        store.append_round({"round": 0})
    newer.append_round({"round": 0})
    assert [r["round"] for r in newer.rounds()] == [0]
    newer.close()


def test_a_second_writer_is_refused_with_the_holder_named(store, tmp_path):
    from patchworld.runlock import lock_holder

    other = tmp_path / "other"
    made = RunStore.create(other, {"env": "maze"}, data={"train": [], "val": []})
    made.close()
    proc = _holder(other)
    try:
        holder = lock_holder(other)
        assert holder and holder["pid"] == proc.pid
        with pytest.raises(RunLockedError, match=f"pid {proc.pid} on host "):
            RunStore(other, write=True)
        with pytest.raises(RunLockedError, match="holder script"):
            RunStore(other).append_round({"round": 0})       # a reader that starts writing needs the lock too
        assert RunStore(other).rounds() == []                  # reading needs no lock
    finally:
        proc.kill()
        proc.wait()
    # in one process, another thread (two notebook tabs in one server): the fixture's store holds its folder
    import threading

    seen = []
    tab = threading.Thread(target=lambda: seen.append(_try_write(store.path)))
    tab.start()
    tab.join()
    assert seen and isinstance(seen[0], RunLockedError) and f"pid {os.getpid()}" in str(seen[0])
    store.close()
    again = RunStore(store.path, write=True)
    assert again.locked and lock_holder(store.path)["pid"] == os.getpid()
    again.close()
    assert lock_holder(store.path) is None


@pytest.mark.parametrize("fork", [False, True], ids=["plain", "child-keeps-descriptor"])
def test_a_stale_lock_of_a_killed_writer_is_taken_over_with_a_warning(store, fork):
    import signal

    from patchworld.runlock import StaleLockWarning

    store.close()
    proc = _holder(store.path, fork=fork)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with pytest.warns(StaleLockWarning, match=f"stale lock from pid {proc.pid}"):
        taken = RunStore(store.path, write=True)
    assert taken.locked
    taken.append_round({"round": 0, "program": "p"})
    assert [r["round"] for r in taken.rounds()] == [0]
    taken.close()
    if fork:   # the orphaned child still sleeps holding the old (replaced) lock file: end it
        os.kill(proc.child, signal.SIGKILL)


def test_a_half_made_folder_is_recognised_then_restarted(tmp_path):
    run = tmp_path / "run"
    first = Program("x = 0\n", origin="initial")
    # what older versions left when killed between header.json and the data files
    (run / "data").mkdir(parents=True)
    (run / "header.json").write_text(json.dumps({"env": "maze", "initial_program": first.hash}))
    with pytest.raises(RunStoreError, match="half-made run folder .no data/train.jsonl"):
        RunStore(run, write=True)
    with pytest.warns(UserWarning, match="restarting a half-made run folder"):
        made = RunStore.create(run, {"env": "maze", "initial_program": first.hash}, data={"train": [], "val": []},
                               programs=[first])
    assert made.missing() == [] and made.header["env"] == "maze"
    made.close()
    # a kill during creation now leaves no header: data written, header not yet
    (run / "header.json").unlink()
    with pytest.raises(RunStoreError, match="half-made run"):
        RunStore(run)
    with pytest.warns(UserWarning, match="files in programs/, data/ but no header.json"):
        RunStore.create(run, {"env": "wordle"}, data={"train": [], "val": []}).close()
    assert load_run(run).header["env"] == "wordle"


def test_header_is_written_last_so_a_failed_creation_leaves_no_run(tmp_path, monkeypatch):
    import patchworld.store as store_module

    def full(*args, **kwargs):
        raise store_module.RunDiskError(28, "cannot write data/val.jsonl: No space left on device (ENOSPC)")

    monkeypatch.setattr(RunStore, "save_data", full)
    with pytest.raises(OSError, match="ENOSPC"):
        RunStore.create(tmp_path / "run", {"env": "maze"}, data={"train": []})
    assert not (tmp_path / "run" / "header.json").exists()
    from patchworld.runlock import lock_holder

    assert lock_holder(tmp_path / "run") is None     # the failed creator let go of the folder


def test_short_writes_are_continued(store, monkeypatch):
    real = os.write
    calls = []

    def short(fd, data):
        calls.append(len(data))
        return real(fd, bytes(data[: max(1, len(data) // 3)]))   # the kernel takes a third each time

    monkeypatch.setattr(os, "write", short)
    store.append_candidates([_record(1, f"r001c{i:02d}", "a", "b", False, 0.5, 0.4) for i in range(3)])
    atomic_write_text(store.path / "note.txt", "x" * 1000)
    monkeypatch.undo()
    assert len(calls) > 2
    assert [r["candidate_id"] for r in store.candidates()] == ["r001c00", "r001c01", "r001c02"]
    assert (store.path / "note.txt").read_text() == "x" * 1000


def test_a_full_disk_is_one_line_and_loses_nothing(store, monkeypatch):
    import errno

    from patchworld.store import RunDiskError

    store.append_candidates([_record(1, "r001c00", "a", "b", True, 0.5, 0.6)])
    before = (store.path / "candidates.jsonl").read_bytes()
    real = os.write

    def full(fd, data):
        if len(data) > 20:
            real(fd, bytes(data[:20]))     # part of the line gets out, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(RunDiskError) as info:
        store.append_candidates([_record(2, "r002c00", "b", "c", True, 0.6, 0.7)])
    with pytest.raises(RunDiskError, match="program"):
        store.save_program(Program("y = 1\n" * 50, origin="patch"))
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message and "candidates.jsonl" in message and "ENOSPC" in message
    assert (store.path / "candidates.jsonl").read_bytes() == before      # no half line
    assert not [p for p in (store.path / "programs").iterdir() if p.name.endswith(".tmp")]
    assert load_run(store.path).current == "b"


def test_a_lock_left_by_an_ended_thread_is_taken_over(tmp_path):
    import threading

    from patchworld.runlock import StaleLockWarning, lock_holder

    first = Program("x = 0\n")
    RunStore.create(tmp_path / "run", {"env": "maze", "initial_program": first.hash}, data={"train": [], "val": []},
                    programs=[first]).close()
    kept = []                                   # a closed tab's session, still referenced somewhere
    tab = threading.Thread(target=lambda: kept.append(RunStore(tmp_path / "run", write=True)))
    tab.start()
    tab.join()
    assert kept[0].locked and lock_holder(tmp_path / "run") is None      # its thread is gone: not a live writer
    with pytest.warns(StaleLockWarning, match="thread has ended"):
        taken = RunStore(tmp_path / "run", write=True)
    assert taken.locked and not kept[0].locked
    with pytest.raises(RunLockedError):
        kept[0].append_round({"round": 0})       # the old session cannot write behind the new one's back
    taken.close()
