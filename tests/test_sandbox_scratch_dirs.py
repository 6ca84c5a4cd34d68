"""Scratch directories: removed whatever a program built in them, and swept when their session died."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from patchworld.sandbox.scratch import flush_removals, make_scratch, remove_later, remove_tree, sweep_stale


def test_a_tree_too_deep_for_rmtree_is_removed_without_raising(tmp_path):
    root = tmp_path / "scratch"
    path = str(root)
    os.makedirs(path)
    fd = os.open(path, os.O_RDONLY)
    for _ in range(1500):          # what a program can build in its scratch (rmtree: RecursionError)
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(fd)
    remove_tree(path)
    assert not os.path.lexists(path)
    remove_tree(path)              # already gone: still no error


def test_stale_directories_of_dead_sessions_are_swept_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    gone = tmp_path / f"pw-sandbox-p{dead_pid}-abc"
    mine = tmp_path / f"pw-sandbox-p{os.getpid()}-abc"
    parent = tmp_path / f"pw-forkserver-p{os.getppid()}-abc"
    old = tmp_path / "pw-sandbox-oldname"
    fresh = tmp_path / "pw-sandbox-newname"
    other = tmp_path / "someone-elses"
    for d in (gone, mine, parent, old, fresh, other):
        (d / "x").mkdir(parents=True)
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    removed = sweep_stale(str(tmp_path))
    assert sorted(removed) == sorted([str(gone), str(old)])
    assert all(d.exists() for d in (mine, parent, fresh, other)) and not gone.exists() and not old.exists()


def test_scratch_names_carry_the_owner(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    path = make_scratch()
    assert os.path.basename(path).startswith(f"pw-sandbox-p{os.getpid()}-") and os.path.isdir(path)
    remove_tree(path)


def test_removal_in_the_background_removes_every_queued_tree_before_flush_returns(tmp_path):
    paths = []
    for k in range(5):
        path = tmp_path / f"job{k}" / "a" / "b"
        path.mkdir(parents=True)
        (path / "f").write_text("x")
        paths.append(tmp_path / f"job{k}")
    for path in paths:
        remove_later(str(path))
    flush_removals()
    assert not any(path.exists() for path in paths)


def test_a_finished_jobs_scratch_directory_is_gone_after_the_pool_shuts_down(monkeypatch):
    from patchworld.program import Program
    from patchworld.sandbox import job, pool, run_job, shutdown_pool

    seen = []
    taken = pool.take_worker

    def take():
        worker = taken()
        seen.append(worker.scratch)
        return worker

    program = Program(source="class WorldModel:\n    def init_belief(self):\n        return {}\n"
                             "    def correct_belief(self, b, o):\n        return b\n"
                             "    def predict_belief(self, b, a):\n        return b\n"
                             "    def readout_observation(self, b, a):\n        open('left', 'w').write('x')\n"
                             "        return 'seen'\n")
    monkeypatch.setattr(job, "take_worker", take)
    result = run_job(program, [[0, [["o", "a", "seen"]]]], "teacher", shards=1)
    assert result.outcome == "ok" and len(seen) == 1
    shutdown_pool()
    assert not os.path.lexists(seen[0])
