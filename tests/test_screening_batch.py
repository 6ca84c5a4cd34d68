"""Screening in batches (patchworld.sandbox.batch, patchworld.screening.evaluate_batch): a batch gives
each candidate what a job of its own gives on the screening sample; a candidate that stops on its own
stops alone; a batch that fails as a whole is screened again one job per child; and a hostile child
that copies or sabotages its siblings inside a batch changes at most who is screened out, never what
the gate accepts or reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchworld.candidate_jobs import replay_candidate
from patchworld.data import load_trajectories
from patchworld.patches import apply_patch, patch_from_sources
from patchworld.program import Program
from patchworld.proposers.base import Proposal, ProposalRequest
from patchworld.proposers.mutation import MutationProposer
from patchworld.replay import replay
from patchworld.sandbox import Limits
from patchworld.sandbox.batch import run_batch
from patchworld.screening import (
    Screened,
    Screener,
    Survives,
    collect,
    columns,
    evaluate_batch,
    evaluate_one,
    send_batches,
)

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile"
MOVE_BUG = ("row + MOVES[action][1], col + MOVES[action][0]", "row + MOVES[action][0], col + MOVES[action][1]")
COLS = ("id", "predicted", "exact", "error_kind", "token_f1")


@pytest.fixture(scope="module")
def maze():
    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = (load_trajectories(folder / f"maze_traj_{s}.jsonl") for s in ("train", "val"))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    parent = replay(program, val, lean=True)
    screener = Screener(parent, val, seed=3)
    request = ProposalRequest(env="maze", program=program, counterexamples=parent.counterexamples()[:8], n=10,
                              round=1, seed=1, train=train, replay=parent)
    mutants = [Program(source=apply_patch(program.source, p.patch).source)
               for p in MutationProposer(seed=0).propose(request)]
    return train, val, program, parent, screener, mutants


def _child(program: Program, old: str, new: str) -> Program:
    assert old in program.source
    return Program(source=program.source.replace(old, new, 1))


def test_a_batch_gives_each_child_the_rows_of_a_job_of_its_own(maze):
    _train, _val, program, _parent, screener, mutants = maze
    raising = _child(program, "        found = POSITION.findall(obs)\n", "        found = POSITION.findall(obs)\n"
                     "        if 'wall' in obs:\n            raise KeyError('parse')\n")
    children = [*mutants, _child(program, *MOVE_BUG), raising, Program(source="raise ValueError('no model')\n")]
    batch = run_batch(children, screener.payload)
    assert batch.outcome == "ok"
    assert batch.outcomes[-1] == "load_error" and "no model" in batch.details[-1]
    reasons = set()
    for k, child in enumerate(children):
        alone = replay(child, screener.sample, lean=True)
        together = screener.rows(batch.columns[k], batch.outcomes[k], batch.details[k])
        assert columns(together, *COLS) == columns(alone, *COLS), k
        assert screener.judge(together) == screener.judge(alone)
        reasons.add(screener.judge(alone).split(":")[0])
    assert len(reasons) >= 2   # the children differ: some screened out, some survive
    assert any(kind == "exception" for kind in columns(screener.rows(batch.columns[-2]), "error_kind")[0])


def test_a_child_out_of_step_time_stops_alone(maze):
    _train, _val, program, _parent, screener, mutants = maze
    looping = _child(program, "        new = dict(belief)\n        if new[\"steps\"]",
                     "        new = dict(belief)\n        while action == 'move up':\n            pass\n"
                     "        if new[\"steps\"]")
    children = [mutants[0], looping, mutants[1]]
    limits = Limits(step_seconds=2.0, max_step_timeouts=1)   # ample for honest steps on a loaded machine
    batch = run_batch(children, screener.payload, limits=limits)
    assert batch.outcome == "ok"
    assert batch.outcomes == ["ok", "timeout", "ok"]
    for k in (0, 2):
        alone = replay(children[k], screener.sample, lean=True, limits=limits)
        assert columns(screener.rows(batch.columns[k]), *COLS) == columns(alone, *COLS)
    rows = screener.rows(batch.columns[1], batch.outcomes[1], batch.details[1])
    assert "timeout" in columns(rows, "error_kind")[0]


def test_a_batch_that_fails_as_a_whole_is_screened_one_job_per_child(maze):
    _train, val, program, parent, screener, mutants = maze
    bomb = _child(program, "        new = dict(belief)\n        if new[\"steps\"]",
                  "        new = dict(belief)\n        new['blob'] = bytearray(1 << 40)\n        if new[\"steps\"]")
    children = [mutants[0], bomb, _child(program, *MOVE_BUG)]
    assert run_batch(children, screener.payload).outcome == "memory"
    got = evaluate_batch(children, screener, val, True, None, None)
    want = [evaluate_one(c, screener, val, True, None, None) for c in children]
    for g, w in zip(got, want, strict=True):
        assert type(g) is type(w)
        if isinstance(g, Screened):
            assert g.reason == w.reason
        else:
            assert g.metrics["token_f1"] == w.metrics["token_f1"]
    assert isinstance(got[1], Screened) and "worse" in got[1].reason       # the bomb: screened out alone
    assert not isinstance(got[2], Screened) and got[2].metrics["token_f1"] > parent.metrics["token_f1"]   # the fix: full val


class _CountingPool:
    """A thread pool that records which job function each submission ran."""

    def __init__(self, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        self.workers, self.calls = workers, []
        self._pool = ThreadPoolExecutor(workers)

    def submit(self, fn, *args):
        self.calls.append(fn.__name__)
        return self._pool.submit(fn, *args)


class _Session:
    """What send_batches and collect read off a session."""

    def __init__(self, val, workers: int):
        self.val, self.workers, self.sandbox, self.residual, self.limits = val, workers, True, None, None

    def _val_handle(self):
        return self.val


def test_survivors_are_replayed_as_jobs_of_their_own_sent_as_their_batch_returns(maze):
    _train, val, program, parent, screener, mutants = maze
    fix = _child(program, *MOVE_BUG)
    children = list({c.hash: c for c in [*mutants[:5], fix, *mutants[5:]]}.values())   # one fix is also a mutant
    screened_only = evaluate_batch(children, screener, val, True, None, None, full=False)
    survivors = [k for k, r in enumerate(screened_only) if isinstance(r, Survives)]
    assert children.index(fix) in survivors and len(survivors) < len(children)   # some are screened out
    pool, session = _CountingPool(2), _Session(val, 2)
    pending = [(c.hash, c, screener) for c in children]
    futures: dict = {}
    send_batches(pending, futures, pool, session)
    assert pool.calls == ["evaluate_batch", "evaluate_batch"]   # one screening batch per worker
    got = collect(futures, {c.hash: c for c in children}, pool, session)
    assert pool.calls[2:] == ["replay_candidate"] * len(survivors)   # then one job per survivor
    whole = evaluate_batch(children, screener, val, True, None, None)
    for k, child in enumerate(children):
        g, w = got[child.hash], whole[k]
        assert type(g) is type(w), k
        if isinstance(g, Screened):
            assert g.reason == w.reason
        else:
            assert _same(g.metrics, w.metrics), k
    assert got[fix.hash].metrics["token_f1"] > parent.metrics["token_f1"]
    assert _same(replay_candidate(fix, val, True, None, None, True).metrics, got[fix.hash].metrics)


def _same(a: dict, b: dict) -> bool:
    """Equal metrics, NaN (a lean replay's BLEU) equal to NaN."""
    return a.keys() == b.keys() and all(a[k] == b[k] or a[k] != a[k] and b[k] != b[k] for k in a)


class _Scripted:
    """Proposes the given child sources, in order, once."""

    name = "scripted"

    def __init__(self, sources: list[str]):
        self.sources = sources

    def propose(self, request: ProposalRequest) -> list[Proposal]:
        out = [Proposal(patch_from_sources(request.program, s, origin="scripted", note=f"child {i}"), "manual")
               for i, s in enumerate(self.sources)]
        self.sources = []
        return out


def _round(maze, tmp_path, hostile: str):
    from patchworld.synthesis import Session

    train, val, program, _parent, _screener, _mutants = maze
    fix = _child(program, *MOVE_BUG).source
    bad = program.source + "\n" + (HOSTILE / hostile).read_text()
    session = Session("maze", train, val, program=program, proposer=_Scripted([fix, bad]), run_dir=tmp_path / "run",
                      n_candidates=2, workers=1, search="beam")
    before = session.score
    res = session.step()
    session.close()
    by_child = {v.child: v for v in res.verdicts}
    return session, before, res, by_child[Program(source=fix).hash], by_child[Program(source=bad).hash], fix, bad


def test_a_child_copying_its_sibling_in_the_batch_is_judged_on_its_own_replay(maze, tmp_path):
    _train, val, program, _parent, screener, _mutants = maze
    session, before, res, fix, copier, fix_src, bad_src = _round(maze, tmp_path, "batch_copy_sibling.py")
    # the copy works inside a batch: there the copier predicts what the fix predicts
    batch = run_batch([Program(source=fix_src), Program(source=bad_src)], screener.payload)
    assert batch.columns[0] and batch.columns[1].keys() == batch.columns[0].keys()
    assert all(batch.columns[1][i][0] == batch.columns[0][i][0] for i in batch.columns[0])
    assert screener.judge(screener.rows(batch.columns[1])) == ""   # it would survive the screen
    alone = replay(Program(source=bad_src), screener.sample, lean=True)
    assert screener.judge(alone).startswith("rejected early")          # as it does not on its own
    # ... yet the gate judged it on a replay of its own: no better than its parent, not accepted
    assert not copier.accepted and copier.score_after is not None
    assert copier.score_after["token_f1"] == before["token_f1"]
    assert res.accepted is not None and res.accepted.child == fix.child and fix.accepted
    assert session.current.hash == fix.child
    isolated = replay(session.current, val, isolate=True).metrics["token_f1"]
    assert res.val_token_f1 == isolated > before["token_f1"]


def test_a_child_sabotaging_its_siblings_in_the_batch_changes_no_reported_score(maze, tmp_path):
    _train, val, program, _parent, _screener, _mutants = maze
    session, before, res, fix, saboteur, _fix_src, _bad_src = _round(maze, tmp_path, "batch_sabotage_siblings.py")
    # a batch is not isolation: the saboteur got the fix screened out (the documented limit) ...
    assert fix.reason.startswith("rejected early") and fix.score_after is None
    # ... but nothing worse or unconfirmed was accepted, and the reported score is the program's own
    assert res.accepted is None and not saboteur.accepted and session.current.hash == program.hash
    assert res.val_token_f1 == before["token_f1"] == replay(program, val, isolate=True).metrics["token_f1"]


def test_a_batch_sends_the_next_round_only_after_the_reply_and_before_recording_it(maze, monkeypatch):
    # lockstep: round t+1 carries round t's true observations, so it may leave only once the reply to
    # round t is in; it leaves before the candidates' rows are checked and recorded, so the worker
    # computes while this process records
    import patchworld.sandbox.batch as batch_mod
    from patchworld.sandbox.lockstep import Lockstep
    from patchworld.sandbox.procs import Worker

    _train, _val, _program, _parent, screener, mutants = maze
    events: list[str] = []
    real_send, real_recv, real_take = Worker.send, batch_mod._BoxedBatch._recv, Lockstep.take

    def send(self, message):
        events.append("send-round" if type(message) is list and message and message[0] == "round" else "send")
        return real_send(self, message)

    def recv(self, *args, **kwargs):
        reply = real_recv(self, *args, **kwargs)
        events.append("reply" if type(reply) is list and reply and reply[0] == "batch" else "recv")
        return reply

    def take(self, reply):
        if not events or events[-1] != "take":
            events.append("take")
        return real_take(self, reply)

    monkeypatch.setattr(Worker, "send", send)
    monkeypatch.setattr(batch_mod._BoxedBatch, "_recv", recv)
    monkeypatch.setattr(Lockstep, "take", take)
    batch = run_batch(mutants[:4], screener.payload)
    assert batch.outcome == "ok"
    rounds = [e for e in events if e in ("send-round", "reply", "take")]
    assert rounds[:2] == ["send-round", "reply"] and rounds.count("reply") > 3
    for k, event in enumerate(rounds):
        if event == "send-round" and k > 0:
            assert rounds[k - 1] == "reply", rounds        # never ahead of the reply it follows
            assert rounds[k + 1] == "take", rounds         # ... and before that reply's rows are taken
    assert rounds.count("send-round") == rounds.count("reply")
