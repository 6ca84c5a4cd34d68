"""Patch rounds: propose local patches from counterexamples, evaluate them on val, gate, persist.

A :class:`Session` holds the current program and a run folder (:class:`~patchworld.store.RunStore`).
One :meth:`Session.step` is one round: replay the current program on val (cached), pick
counterexamples, ask the proposer for candidates, apply each patch, replay every child on
val in parallel (each replay runs in its own sandbox process), and accept the best child
only if it strictly beats the current program under :func:`patchworld.gate.score_key`.
Everything is written to the run folder before the session moves on, so a killed run
resumes (:meth:`Session.resume`) from its last accepted program. The test split is never
read: the session refuses test trajectories outright.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from patchworld import candidate_jobs
from patchworld.candidate_jobs import replay_candidate, slot_of
from patchworld.gate import RoundResult, Verdict, compare, describe, judge, score, score_key
from patchworld.store import RunStore, data_summary, proposer_from_header, proposer_settings, versions

__all__ = ["Session", "Verdict", "RoundResult", "compare", "TestSplitError"]

Progress = Callable[[int, int, str], None]
SEARCHES = ("greedy", "beam")
"""greedy: one incumbent, ``n_candidates`` a round (the demo); beam: :mod:`patchworld.population`."""


def _beam(width: int) -> Any:
    from patchworld.beam import Beam

    return Beam(width)


class TestSplitError(ValueError):
    """Raised when test-split trajectories are handed to the gate (it must never see them)."""

    __test__ = False  # not a pytest class


def _lazy(propose: Callable[[Any], list[Any]], request: Any) -> Iterator[Any]:
    """Call ``propose(request)`` only when the first proposal is asked for (so its time is counted)."""
    yield from propose(request)


def _as_trajectories(value: Any, role: str) -> list[Any]:
    from patchworld.data import load_trajectories

    trajs = load_trajectories(value) if isinstance(value, (str, os.PathLike)) else list(value)
    bad = [t.id for t in trajs if t.split == "test"]
    if bad:
        raise TestSplitError(f"{role}: {len(bad)} trajectories of the test split (e.g. {bad[0]}); "
                             "the synthesis gate never reads test data")
    if not trajs:
        raise ValueError(f"{role}: no trajectories")
    return trajs


class Session:
    """A synthesis run: the current program, its val replay, a proposer and a run folder."""

    def __init__(self, env: str, train: Any, val: Any, program: Any | None = None, proposer: Any | None = None,
                 variant: str = "simple", run_dir: str | os.PathLike[str] | None = None, n_candidates: int = 4,
                 n_counterexamples: int = 8, seed: int = 0, workers: int = 2, sandbox: bool = True,
                 residual_options: dict | None = None, limits: Any | None = None, search: str = "greedy",
                 beam_width: int = 3, executor: Any | None = None):
        if variant not in ("simple", "residual"):
            raise ValueError(f"variant must be 'simple' or 'residual', not {variant!r}")
        if search not in SEARCHES:
            raise ValueError(f"search must be one of {SEARCHES}, not {search!r}")
        self.search = search
        self.beam = _beam(beam_width)
        files = {role: [value] for role, value in (("train", train), ("val", val)) if isinstance(value, (str, os.PathLike))}
        self.train = _as_trajectories(train, "train")
        self.val = _as_trajectories(val, "val")
        self.env, self.proposer, self.variant = env, proposer, variant
        self.n_candidates, self.n_counterexamples, self.seed = n_candidates, n_counterexamples, seed
        self.workers, self.sandbox, self.limits = max(1, workers), sandbox, limits
        self.executor = executor   # where candidate replays run (patchworld.executors); None: local threads
        self.residual_options = dict(residual_options or {})
        self.round = 0
        self._initial_proposal = None
        if program is None:
            program = self._initial_program()
        from patchworld.redact import refuse_secrets

        refuse_secrets(program.source, "the starting program")
        self.current = program
        self._build_residual()
        header = {
            "env": env, "variant": variant, "seed": seed, "n_candidates": n_candidates,
            "n_counterexamples": n_counterexamples, "workers": self.workers, "sandbox": sandbox,
            "residual_options": self.residual_options, "proposer": proposer_settings(proposer),
            "search": search, "beam_width": beam_width,
            "data": {"train": data_summary(self.train, files.get("train", ())),
                     "val": data_summary(self.val, files.get("val", ()))},
            "versions": versions(), "initial_program": program.hash,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        run_dir = run_dir or tempfile.mkdtemp(prefix="patchworld-run-")
        # data and program first, header last, under the folder's writer lock (one writer per run)
        self.store = RunStore.create(run_dir, header, data={"train": self.train, "val": self.val}, programs=[program],
                                     what=f"Session on {env}")
        if self._initial_proposal is not None:   # keep the LLM's prompt and reply for the first program
            p = self._initial_proposal
            self.store.save_patch_files("initial", {"prompt.txt": p.prompt or "", "response.txt": p.response or "",
                                                    "edits.json": p.patch.to_dict()})
        self._replay_cache: tuple[str, Any] | None = None

    @classmethod
    def resume(cls, run_dir: str | os.PathLike[str], proposer: Any | None = None, workers: int | None = None,
               sandbox: bool | None = None, executor: Any | None = None) -> Session:
        """Reopen a run folder and continue from its last accepted program (after any kill)."""
        store = RunStore(run_dir, write=True, what="Session (resumed)")   # takes the writer lock
        h = store.header
        self = cls.__new__(cls)
        self.store, self.env, self.variant = store, h["env"], h.get("variant", "simple")
        self.train = _as_trajectories(store.load_data("train"), "train")
        self.val = _as_trajectories(store.load_data("val"), "val")
        self.n_candidates, self.n_counterexamples = int(h["n_candidates"]), int(h["n_counterexamples"])
        self.seed = int(h.get("seed", 0))
        self.workers = max(1, workers or int(h.get("workers", 2)))
        self.sandbox = bool(h.get("sandbox", True)) if sandbox is None else sandbox
        self.executor = executor
        self.limits, self.residual_options = None, dict(h.get("residual_options") or {})
        self.proposer = proposer if proposer is not None else proposer_from_header(h.get("proposer", {}), self.seed)
        self.current = store.load_program(store.last_accepted() or h["initial_program"])
        self.round = store.last_round()
        self.search = h.get("search", "greedy")
        self.beam = _beam(int(h.get("beam_width", 3)))
        self._build_residual()
        self._replay_cache = None
        return self

    # -- setup --------------------------------------------------------------------------------------
    def _initial_program(self) -> Any:
        from patchworld.patches import apply_patch
        from patchworld.program import Program

        make = getattr(self.proposer, "initial_program", None)
        if make is None:
            raise ValueError("no starting program: pass program= (CLI: --program FILE) or a proposer that writes one (llm)")
        proposal = make(self.env, self.train)
        if proposal.patch is None:
            raise ValueError(f"the proposer could not write an initial program: {proposal.error or proposal.kind}")
        self._initial_proposal = proposal
        return Program(source=apply_patch("", proposal.patch).source, origin="initial", label="initial")

    def _build_residual(self) -> None:
        self.residual = None
        if self.variant == "residual":
            from patchworld.residual import ResidualMemory

            self.residual = ResidualMemory.build(self.train, **self.residual_options)

    # -- replay -------------------------------------------------------------------------------------
    def _replay(self, program: Any) -> Any:
        from patchworld.replay import replay

        return replay(program, self.val, mode="teacher", sandbox=self.sandbox, residual=self.residual,
                      limits=self.limits, isolate=True)

    def _confirm(self, winner: Any, child: Any, before: dict) -> Any | None:
        """The winner's val replay with one fresh worker per trajectory (:func:`replay` ``isolate``), if it
        is still strictly better than the parent; else the winner is rejected (a program whose score came
        from remembering other trajectories' true observations) and None is returned."""
        isolated = self._replay(child)
        if score_key(score(isolated)) > score_key(before):
            return isolated
        winner.accepted = False
        winner.reason = (f"rejected: with one worker per trajectory its val token F1 is "
                         f"{isolated.metrics['token_f1']:.4f}, not better than the parent's {before['token_f1']:.4f} "
                         "(its score depended on other trajectories' observations)")
        return None

    def _confirm_best(self, winner: Any, verdicts: Sequence[Any], children: dict[str, Any],
                      before: dict, tries: int = 3) -> tuple[Any | None, Any | None]:
        """(winner, its isolated replay) after :meth:`_confirm`; when the winner fails it, the next best
        candidate that beat the parent is confirmed instead (``tries`` in all), so a child whose score came
        from other trajectories cannot keep an honest sibling out of the round. (None, None) if none holds."""
        for _ in range(tries):
            if winner is None:
                break
            confirmed = self._confirm(winner, children[winner.child], before)
            if confirmed is not None:
                return winner, confirmed
            failed = winner.candidate_id
            rest = [v for v in verdicts if v.score_after is not None and v.child in children
                    and v.reason.startswith("beats the parent")]
            winner = max(rest, key=lambda v: score_key(v.score_after)) if rest else None   # max keeps the first
            if winner is not None:
                winner.accepted = True
                winner.reason = (f"accepted: {describe(before)} -> {describe(winner.score_after)} "
                                 f"({failed} scored higher but failed its confirmation)")
        return None, None

    def val_replay(self) -> Any:
        """The current program's val replay (cached; round 0 of the round log is written on first use)."""
        if self._replay_cache is None or self._replay_cache[0] != self.current.hash:
            result = self._replay(self.current)
            self._replay_cache = (self.current.hash, result)
            if not any(int(r.get("round", -1)) == 0 for r in self.store.rounds()):
                s = score(result)
                self.store.append_round({"round": 0, "candidates": 0, "accepted": False, "program": self.current.hash,
                                         "val_token_f1": s["token_f1"], "score": s, "fixed": 0, "broken": 0})
        return self._replay_cache[1]

    @property
    def score(self) -> dict:
        """The current program's val score (see :func:`patchworld.gate.score`)."""
        return score(self.val_replay())

    # -- rounds -------------------------------------------------------------------------------------
    def step(self, progress: Progress | None = None) -> RoundResult:
        """One patch round; returns its :class:`RoundResult` (already persisted)."""
        from patchworld.counterexamples import select_counterexamples
        from patchworld.proposers.base import ProposalRequest

        if self.proposer is None:
            raise ValueError("this session has no proposer: use submit() for hand edits, or pass proposer=")
        if self.search == "beam":
            from patchworld.population import beam_step

            return beam_step(self, progress)
        start = time.perf_counter()
        parent_replay = self.val_replay()
        r = self.round + 1
        shown = select_counterexamples(parent_replay, k=self.n_counterexamples, seed=self.seed + r)
        if not shown:
            return self._finish(r, iter(()), "c", parent_replay, shown, start, ["no counterexamples left on val"])
        request = ProposalRequest(env=self.env, program=self.current, counterexamples=shown, n=self.n_candidates,
                                  round=r, seed=self.seed + r, train=self.train, replay=parent_replay)
        # a proposer with propose_iter() streams its proposals: each child is evaluated as soon as it
        # arrives, overlapping the replays with the wait for the next LLM reply
        stream = getattr(self.proposer, "propose_iter", None)
        proposals = iter(stream(request)) if stream is not None else _lazy(self.proposer.propose, request)
        return self._finish(r, proposals, "c", parent_replay, shown, start, [], progress)

    def run(self, max_rounds: int, patience: int = 3, progress: Progress | None = None) -> list[RoundResult]:
        """Up to ``max_rounds`` rounds; stops after ``patience`` rounds in a row without an acceptance,
        or when val is reproduced exactly."""
        results: list[RoundResult] = []
        stale = 0
        for i in range(max_rounds):
            res = self.step()
            results.append(res)
            stale = 0 if res.accepted else stale + 1
            if progress:
                progress(i + 1, max_rounds, f"round {res.round}: val token_f1 {res.val_token_f1:.3f}"
                         + (" (accepted)" if res.accepted else ""))
            perfect = res.score.get("exact_match", 0.0) >= 1.0 and score_key(res.score)[:2] == (0, 0)
            if stale >= patience or perfect:
                break
        return results

    def submit(self, source: str, origin: str = "manual") -> Verdict:
        """Put a hand-edited program through the same gate, as a round with one candidate.
        A source holding a configured secret is refused (``ValueError``) before anything is written."""
        from patchworld.patches import patch_from_sources
        from patchworld.proposers.base import Proposal
        from patchworld.redact import refuse_secrets

        refuse_secrets(source, "the hand-edited program")
        start = time.perf_counter()
        parent_replay = self.val_replay()
        r = self.round + 1
        try:
            proposal = Proposal(patch=patch_from_sources(self.current, source, origin=origin, note="hand edit"),
                                kind="manual")
        except ValueError as exc:
            proposal = Proposal(patch=None, kind="manual", error=str(exc))
        res = self._finish(r, iter([proposal]), "m", parent_replay, [], start, [])
        return res.verdicts[0]

    # -- the gate -----------------------------------------------------------------------------------
    def _executors(self) -> tuple[Any, ThreadPoolExecutor]:
        """The replay executor (``self.executor``, else ``workers`` local threads, each driving one
        sandbox job) and a one-thread file writer; kept across rounds so no round pays for starting
        threads. Jobs submitted to the executor are module-level functions of plain values (see
        :func:`replay_candidate`), so a distributed executor can run them on any node."""
        pools = getattr(self, "_pools", None)
        if pools is None or pools[0] != (self.workers, id(self.executor)):
            from patchworld.executors import LocalExecutor

            replays = self.executor if self.executor is not None else LocalExecutor(self.workers)
            pools = ((self.workers, id(self.executor)), replays, ThreadPoolExecutor(1, thread_name_prefix="pw-write"))
            self._pools = pools
        return pools[1], pools[2]

    def _val_handle(self) -> Any:
        """The val split as the executor ships it (once per node)."""
        return self._executors()[0].share(self.val)

    def close(self) -> None:
        """Stop the session's helper threads (optional: they also end with the session)."""
        pools = getattr(self, "_pools", None)
        self._pools = None
        if pools is not None:
            if pools[1] is not self.executor:   # a caller's executor is the caller's to close
                pools[1].close()
            pools[2].shutdown()
        store = getattr(self, "store", None)
        if store is not None:
            store.close()   # give the run folder's writer lock back

    def _finish(self, r: int, proposals: Iterator[Any], tag: str, parent_replay: Any, shown: Sequence[Any],
                start: float, notes: list[str], progress: Progress | None = None) -> RoundResult:
        """Apply each proposal as it arrives and start its child's val replay at once; while the
        replays run, write each candidate's program and patch folder; then gate and log the round.

        Candidates are ordered (ids, log lines, tie-breaks) by their sample index
        (``proposal.extra["sample"]``, else arrival position), never by arrival time."""
        before = score(parent_replay)
        pool, writer = self._executors()
        parent = self.current
        cands: list[tuple[int, Any, Verdict, Any | None]] = []   # (slot, proposal, verdict, child)
        used: set[int] = set()
        children: dict[str, Any] = {}
        futures: dict[str, Future] = {}
        writes: list[Future] = []
        propose_seconds = 0.0
        while True:
            t = time.perf_counter()
            p = next(proposals, None)
            propose_seconds += time.perf_counter() - t
            if p is None:
                break
            slot = slot_of(p, len(cands), used)
            v, child = candidate_jobs.child_of(f"r{r:03d}{tag}{slot:02d}", r, p, before, parent)
            if child is not None and child.hash not in futures:
                children[child.hash] = child
                futures[child.hash] = pool.submit(replay_candidate, child, self._val_handle(), self.sandbox,
                                                  self.residual, self.limits)
            cands.append((slot, p, v, child))
            writes.append(writer.submit(candidate_jobs.write_candidate, self.store, parent, p, v, child))
        cands.sort(key=lambda c: c[0])
        verdicts = [c[2] for c in cands]
        eval_start = time.perf_counter()
        replays: dict[str, Any] = {}
        for done, (h, fut) in enumerate(futures.items(), start=1):
            replays[h] = fut.result()
            if progress:
                progress(done, len(futures), f"round {r}: evaluated {done}/{len(futures)} candidates")
        eval_seconds = time.perf_counter() - eval_start
        winner = judge(verdicts, replays, parent_replay, before)
        winner, confirmed = self._confirm_best(winner, verdicts, children, before)
        self._persist(cands, writes, replays, parent_replay, shown)
        if winner is not None:
            self.current = children[winner.child]
            self._replay_cache = (self.current.hash, confirmed)
        self.round = r
        after = winner.score_after if winner else before
        self.store.append_round({"round": r, "candidates": len(verdicts), "accepted": winner is not None,
                                 "program": self.current.hash, "val_token_f1": after["token_f1"], "score": after,
                                 "fixed": len(winner.fixed) if winner else 0,
                                 "broken": len(winner.broken) if winner else 0,
                                 "seconds": round(time.perf_counter() - start, 3),
                                 "propose_seconds": round(propose_seconds, 3), "notes": notes})
        return RoundResult(r, verdicts, winner, self.current, after, time.perf_counter() - start, propose_seconds,
                           eval_seconds, notes)

    def _persist(self, cands: list, writes: list[Future], replays: dict, parent_replay: Any,
                 shown: Sequence[Any]) -> None:
        """Add each child's replay summary, wait for the writer, then append the round's candidate
        lines in one fsynced write (so a logged candidate always has its files)."""
        from patchworld.gate import replay_summary

        for _, _, v, child in cands:
            if child is None:
                continue
            rep = replays.get(child.hash)
            summary = replay_summary(v, parent_replay, None if isinstance(rep, BaseException) else rep, shown)
            self.store.save_patch_files(v.patch_id or v.candidate_id, {"replay_summary.json": summary})
        for w in writes:
            w.result()
        self.store.append_candidates([c[2].to_record() for c in cands])
