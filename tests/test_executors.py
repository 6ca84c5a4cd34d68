"""The executor seam: the same replay through the local pool and a 2-worker Dask cluster gives the
same results; data is shipped once; a worker that dies mid-job becomes a retried job."""

import os

import pytest

from patchworld.data import load_trajectories
from patchworld.executors import ExecutorError, LocalExecutor, make_executor
from patchworld.program import Program
from patchworld.replay import replay

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_executor():
    executor = make_executor("dask", workers=2)
    yield executor
    executor.close()


def _replay_job(program, trajectories, mode):
    return replay(program, trajectories, mode=mode, sandbox=True)


def _die_once(marker: str) -> int:
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write("died")
        os._exit(1)  # the worker process dies mid-job
    return os.getpid()


def test_dask_replay_equals_local(dask_executor):
    val = load_trajectories("data/trajectories/maze/maze_traj_val.jsonl")[:20]
    program = Program.from_file("data/programs/maze_flawed.py")
    local = LocalExecutor(workers=1)
    try:
        expected = local.submit(_replay_job, program, local.share(val), "teacher").result()
    finally:
        local.close()
    shared = dask_executor.share(val)
    assert dask_executor.share(val) is shared  # shipped once, reused by every job
    got = [dask_executor.submit(_replay_job, program, shared, mode).result(timeout=120) for mode in ("teacher",) * 2]
    assert dask_executor.workers == 2
    for result in got:
        assert result.outcome == expected.outcome == "ok"
        assert result.metrics["token_f1"] == pytest.approx(expected.metrics["token_f1"])
        assert result.steps["predicted"].to_list() == expected.steps["predicted"].to_list()


def test_worker_death_is_a_retried_job(dask_executor, tmp_path):
    marker = str(tmp_path / "died-once")
    pid = dask_executor.submit(_die_once, marker).result(timeout=120)
    assert os.path.exists(marker) and isinstance(pid, int)


def test_unknown_executor_is_a_clear_error():
    with pytest.raises(ExecutorError, match="unknown executor 'spark'"):
        make_executor("spark")
    with pytest.raises(ExecutorError, match="use --executor dask"):
        make_executor("ray")
    with pytest.raises(ExecutorError, match="local executor has none"):
        make_executor("local", address="tcp://127.0.0.1:1")


def test_evaluate_through_dask_equals_local(dask_executor):
    from patchworld.evaluate import evaluate

    program = Program.from_file("data/programs/maze_flawed.py", label="flawed")
    entries = [("flawed", program, "simple", "maze"), ("flawed", program, "residual", "maze")]
    kwargs = {"rqs": ["rq1", "decision"], "max_test": 4, "proxy_states": 6, "samples": 50, "oracle": False}
    local = evaluate(entries, ["maze"], **kwargs)
    remote = evaluate(entries, ["maze"], executor=dask_executor, **kwargs)
    assert local.height > 10
    assert local.drop("note").sort(["label", "variant", "metric"]).equals(
        remote.drop("note").sort(["label", "variant", "metric"]))


def test_induce_through_dask_writes_the_same_candidates_as_local(tmp_path, capsys):
    from patchworld.cli import main

    runs = {}
    for name in ("local", "dask"):
        out = tmp_path / name
        code = main(["induce", "--env", "maze", "--program", "data/programs/maze_flawed.py", "--rounds", "2",
                     "--out", str(out), "--executor", name, "--workers", "2"])
        assert code == 0
        runs[name] = (out / "candidates.jsonl").read_text()
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last.startswith("induce: val token_f1 0.727 -> 1.000"), last
    assert runs["local"] == runs["dask"] and runs["local"].count("\n") > 10


def test_notebook_executor_choice_is_kept_and_closed_on_change(tmp_path):
    from patchworld.workbench import executor_for, open_session

    held: dict = {}
    assert executor_for("local", "", held) == (None, "Candidate replays run on this machine.")
    executor, note = executor_for("dask", "", held)
    assert executor is not None and "Dask cluster" in note
    assert executor_for("dask", " ", held)[0] is executor  # same choice: the same live cluster
    opened = open_session(tmp_path / "run", "maze", "data/trajectories", program_file="data/programs/maze_flawed.py",
                          executor=executor)
    try:
        result = opened.session.step()
        scored = [v for v in result.verdicts if v.score_after is not None]
        assert scored, "the candidates were replayed through the Dask workers and scored"
    finally:
        opened.session.close()
    assert executor_for("local", "", held)[0] is None
    assert executor.client.status == "closed"  # the old cluster was closed when the choice changed
