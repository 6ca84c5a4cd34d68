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


def test_a_shelved_directory_comes_back_empty_under_a_fresh_name_and_a_written_one_is_removed(tmp_path):
    from patchworld.sandbox.scratch import ScratchShelf

    shelf = ScratchShelf(limit=2)
    kept, written = tmp_path / "pw-sandbox-p1-kept", tmp_path / "pw-sandbox-p1-written"
    kept.mkdir()
    written.mkdir()
    (written / "left").write_text("a program's note for the next job")
    inode = kept.stat().st_ino
    shelf.put(str(written))
    shelf.put(str(kept))
    again = shelf.take()           # the last one put: renamed, the same inode, no new directory
    assert again != str(kept) and not kept.exists() and os.stat(again).st_ino == inode
    assert os.path.basename(again).startswith(f"pw-sandbox-p{os.getpid()}-") and not os.listdir(again)
    other = shelf.take()           # the written one is never handed out: removed, a new directory instead
    flush_removals()
    assert not written.exists() and other != again and not os.listdir(other)
    shelf.put(again)
    shelf.put(other)
    shelf.put(str(tmp_path))       # over the limit: removed, not kept
    flush_removals()
    assert not tmp_path.exists()
    shelf.clear()
    assert not os.path.lexists(again) and not os.path.lexists(other)


def test_jobs_reuse_the_scratch_directory_of_a_job_whose_program_only_saw_its_tmpfs(monkeypatch):
    """With the ``mounts`` layer (root with CAP_SYS_ADMIN) a finished job's directory serves the next job
    under a new name, and what the program wrote (into its tmpfs) is not there; without it, removed."""
    from patchworld.program import Program
    from patchworld.sandbox import job, kernel_layers, pool, run_job, shutdown_pool

    seen, inodes = [], []
    taken = pool.take_worker

    def take():
        worker = taken()
        seen.append(worker)
        inodes.append(os.stat(worker.scratch).st_ino)
        return worker

    program = Program(source="import os\nclass WorldModel:\n    def init_belief(self):\n        return {}\n"
                             "    def correct_belief(self, b, o):\n        return b\n"
                             "    def predict_belief(self, b, a):\n        return b\n"
                             "    def readout_observation(self, b, a):\n"
                             "        found = sorted(os.listdir('.'))\n        open('left', 'w').write('x')\n"
                             "        return ','.join(found) or 'empty'\n")
    monkeypatch.setattr(job, "take_worker", take)
    shutdown_pool()
    first = run_job(program, [[0, [["o", "a", "empty"]]]], "teacher", shards=1)
    deadline = time.monotonic() + 10   # the spare the release asked for (made on the refill thread) is ready
    while not pool._POOL.ready and time.monotonic() < deadline:
        time.sleep(0.01)
    second = run_job(program, [[0, [["o", "a", "empty"]]]], "teacher", shards=1)
    assert first.columns[0][0] == ["empty"] and second.columns[0][0] == ["empty"]   # nothing left from the first
    assert seen[0].scratch != seen[1].scratch and not os.path.lexists(seen[0].scratch)
    covered = bool(kernel_layers().get("mounts"))
    assert seen[0].covered is covered and ("mounts" in first.layers) is covered
    if covered:
        assert inodes[1] == inodes[0]
    shutdown_pool()
    assert not os.path.lexists(seen[1].scratch)
