"""The wide search: a beam of programs, each expanded by many cheap, screened candidates per round.

One :func:`beam_step` is one round of a :class:`patchworld.synthesis.Session` with
``search="beam"``:

0. a new current program (the one the session started from, one just accepted) first has each of its
   conditions negated once and screened on its sample (:mod:`patchworld.probes`): a probe that makes
   failing rows exact (more of them, in share, than it breaks) marks its line for localisation (the
   spectrum cannot rank lines run on every row); probes are evidence, not candidates;
1. localise the faults of every beam member (:func:`patchworld.localise.localise`) and ask the
   proposer for candidates of each (the best member gets half the pool, the rest share the other half);
   the first round on a program the search did not make (the one the session started from, a hand
   edit, a resumed run) gets :data:`FIRST_POOL` times the pool: it is the one round on the user's
   program, and a compensation accepted there (an edit elsewhere fitted to the bug's symptoms) is the
   hardest thing for later rounds to undo, while the fix may sit on a line a 64-candidate pool does
   not reach (a negated test in a parser that runs on every row, so every row's spectrum blames it);
2. screen each child on a small sample (:class:`patchworld.screening.Screener`): most are
   rejected after a replay of a few trajectories; survivors get a full val replay (a job of their
   own). The children of one parent are screened in ``workers`` batches, one sandbox job each
   (:func:`patchworld.screening.evaluate_batch`): a batch only screens, it never scores;
3. combine the edits of two children of one parent that each fixed different transitions, or
   that each beat the parent on val by changing different rows
   (:func:`patchworld.second_order.pairs_to_combine`), and evaluate those children the same way;
4. gate: the reported current program changes only to a child strictly better than it on val
   (:func:`patchworld.gate.judge`); ties and worse keep it;
5. update the beam (:meth:`patchworld.beam.Beam.update`): the current program, then the best other programs whose sets of exactly
   predicted transitions differ from every kept one and that are not a sibling of a kept one with
   the same line edited the same way (the diversity rule: string edits of a readout's default,
   each matching other rows, would crowd out the edit that puts its key back); of two programs
   exactly right on the same rows, one made by a change of logic is kept over one made by a string
   edit (a string spliced from the observations fits the rows it fixed, a logic edit explains
   them, and the second bug is then one step away), including neutral
   steps (a child scoring the same as its parent but behaving differently), each allowed to
   stay ``max_age`` rounds without producing an improvement. A member (the current program
   included) keeps across rounds what it gathered: its traced val lines, the evidence of its
   mutants, which mutants were promising or silent, which pairs were tried. A child starts with
   none of its parent's mutant evidence: that evidence describes the parent, whose bug may have
   shaped every prediction (a negated ``elif`` test that swallows every later branch makes the
   mutants of those branches change nothing, and the lines before it look guilty), so when the
   child's edit lets rows reach a second bug, the parent's evidence would rank other lines above it;
6. a program just accepted gets, next round, the other mutations of the line its edit changed in
   the program it replaced, as patches against it (:mod:`patchworld.redo`): a partial fix on the
   faulty line is then one step from the real one; a child that joins the beam gets the same (fewer,
   and screened like any candidate): a fix that only joined the beam, behind a string fitted to the
   rows a bug sent down the wrong branch, can have a child that edits the next faulty line the wrong
   way and pushes it out;
7. a member whose single mutations are used up gets pairs instead, taking turns between its most
   promising mutants and its silent ones (changed no prediction) on the most suspicious lines:
   two bugs that mask each other only show when both are fixed (:mod:`patchworld.second_order`);
8. a child rejected because it raises where its parent did not, or where its parent raised at another
   line (a fix that let the program reach a second bug), is kept, and later rounds propose its fix
   plus a repair at the crash site, or at the test of the ``if`` that let the rows reach it, as one
   patch (:mod:`patchworld.exposed`), three a round, crashes in another function first, and beside the
   pool up to :data:`EXPOSED_SAME_SITE` other first edits that reached one of their crash sites (which of
   several edits letting the rows reach a second bug is the real fix, the crash cannot tell);
9. a program just accepted also gets, next round, the silent mutants of the program it replaced (a
   dozen, one a line, its most blamed lines first; the first six in its share of the pool, the rest
   beside it): the bug it fixed may have masked them
   (:func:`patchworld.second_order.unmasked`); a child that joins the beam gets its parent's silent
   and promising mutants the same way (a fix that only joined the beam, beside an edit elsewhere
   that scored more, may likewise have unmasked them);
10. a program just accepted also gets, next round, itself with one hunk of one earlier accepted edit
    undone (:mod:`patchworld.revert`): an edit accepted as a compensation for a bug (deleting the
    statement that turned a wrong value into wrong predictions) is a bug of its own once a later
    round fixes the first, and no mutation puts a deleted statement back;
11. the first round on a program the search did not make (step 1) also tries, once its single mutants
    are judged, up to :data:`FIRST_ROUND_PAIRS` pairs of its silent mutants on lines a belief key links
    (:func:`patchworld.dataflow.key_effects`): a lost history append behind a filter that ignores the
    history changes nothing alone, and a compensation accepted in that round is then a third edit to undo;
12. a round that proposed nothing (every member's mutations and pairs used up: every later round would
    propose nothing too) brings back the first programs to leave the beam, the start program first
    (:meth:`patchworld.beam.Beam.revive`): edits accepted early, fitted to a bug's symptoms, can leave the
    fix reachable only from a program before them, and its children still have to beat the current one.

Every candidate gets its verdict line (fixed/broken against its own parent; on the sample when
rejected early) and its patch folder (the proposer's reply, the edits when no child came out;
``replay_summary.json`` for children replayed on all of val); the child program is written without
fsync unless accepted. Diffs (side-by-side HTML,
``diff.patch``) are written only for the accepted child, after the round (the candidate view renders
the others from the two programs when someone opens them).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from patchworld import candidate_jobs
from patchworld.beam import Beam, Member, shares
from patchworld.exposed import pop_by_site, second_steps
from patchworld.gate import RoundResult, judge, replay_summary, score
from patchworld.probes import run_probes
from patchworld.redo import alternatives, redo_of
from patchworld.revert import reverts
from patchworld.screening import Screened, Screener, collect, send_batches
from patchworld.second_order import combine, gather_evidence, pairs_to_combine, second_order, unmasked

__all__ = ["Member", "Beam", "beam_step", "shares",   # Member, Beam, shares: from patchworld.beam
           "FIRST_POOL", "UNMASKED_IN_POOL", "UNMASKED_ON_TOP", "EXPOSED_SAME_SITE"]

Progress = Callable[[int, int, str], None]

FIRST_POOL = 2
"""The first round on a program the search did not make gets this many times ``n_candidates`` (step 1)."""
UNMASKED_IN_POOL, UNMASKED_ON_TOP = 6, 6
"""Step 9's mutants: the first (most blamed lines) take places of the member's pool, the next ones are tried
beside it: after a widened first round the silent mutants spread over twice the lines, and taking more
places of the pool cost other repairs (README, "tried and not kept")."""
FIRST_ROUND_PAIRS = 48
"""Step 11: at most this many pairs of silent mutants on linked lines in the first round on a program."""
EXPOSED_SAME_SITE = 3
"""Step 8: besides the three exposed crashes a round takes (two repairs each at the crash line, two at its guard),
up to this many other first edits that reached one of their crash sites, each with one repair at the crash line
and one at its guard, tried beside the pool (:func:`patchworld.exposed.pop_by_site`)."""


def beam_step(session: Any, progress: Progress | None = None) -> RoundResult:
    """One round of the wide search (see the module docstring); persisted like :meth:`Session.step`."""
    from patchworld.counterexamples import select_counterexamples
    from patchworld.localise import localise
    from patchworld.proposers.base import ProposalRequest

    start = time.perf_counter()
    current_replay = session.val_replay()
    current = Member.of(session.current, current_replay)
    beam: Beam = session.beam
    widen = 1
    if not beam.members or beam.members[0].program.hash != current.program.hash:
        # a program the search did not make (the search's own acceptances are already beam.members[0]):
        # the starting program, a hand edit, a resumed run; its first round gets the wider pool (step 1)
        widen = FIRST_POOL
        beam.reset(current)
    else:  # the same program as last round: keep what it gathered (traced lines, mutant evidence, tried pairs)
        current = beam.members[0]
    r = session.round + 1
    before = score(current_replay)
    pool, writer = session._executors()
    cands: list[tuple[int, Any, Any, Any, Member]] = []      # (slot, proposal, verdict, child, parent member)
    futures: dict[str, Any] = {}       # child hash -> (batch future, position in the batch)
    children: dict[str, Any] = {}
    pending: list[tuple[str, Any, Screener]] = []   # children waiting to be sent off in a batch
    shown_by: dict[str, list] = {}
    screeners: dict[str, Screener] = {}
    propose_seconds = 0.0
    suspicions: dict[str, dict] = {}
    first_susp = None

    def submit(p: Any, member: Member, screener: Screener | None = None) -> None:
        slot = len(cands)
        v, child = candidate_jobs.child_of(f"r{r:03d}b{slot:03d}", r, p, score(member.replay), member.program)
        if child is not None and child.hash not in futures and child.hash not in {m.program.hash for m in beam.members}:
            children[child.hash] = child
            futures[child.hash] = None
            pending.append((child.hash, child, screener or screeners[member.program.hash]))
        elif child is not None and child.hash not in futures:
            v.reason = "the child is already in the beam"
        cands.append((slot, p, v, child, member))
        writes.append(writer.submit(candidate_jobs.write_candidate, session.store, member.program, p, v, child, False))

    writes: list[Any] = []
    budgets = shares(session.n_candidates * widen, len(beam.members))
    for k, (member, n) in enumerate(zip(beam.members, budgets, strict=True)):
        # a wide pool mines its string edits from more of the failures than a prompt would show
        shown = select_counterexamples(member.replay, k=max(session.n_counterexamples, 32), seed=session.seed + r)
        if not shown:
            continue
        t = time.perf_counter()
        susp = localise(member.program.source, member.replay.steps, _lines(session, member), mutants=member.evidence,
                        critical=member.critical)
        screeners[member.program.hash] = Screener(member.replay, session.val, seed=session.seed * 1000 + r * 10 + k)
        if k == 0 and not member.probed:   # a new current program: its conditions switched first (step 0)
            member.probed = True
            member.critical = run_probes(member.program, member.rows(), screeners[member.program.hash], pool,
                                         session, susp)
            if member.critical:
                susp = localise(member.program.source, member.replay.steps, _lines(session, member),
                                mutants=member.evidence, critical=member.critical)
        if k == 0:
            first_susp = susp
        suspicions[member.program.hash] = {"method": susp.method, "lines": susp.lines, "functions": susp.functions}
        request = ProposalRequest(env=session.env, program=member.program, counterexamples=shown, n=n, round=r,
                                  seed=session.seed + r, train=session.train, suspicion=susp)
        # a crash in another function than the edit first (a fix that let the program reach a second bug),
        # then first edits on the most blamed lines
        member.exposed.sort(key=lambda e: (e[1] == e[3].extra.get("function"), -susp.at(e[3].extra.get("line", 0))))
        del member.exposed[32:]
        # the extras: first edits in the crash's own function first (the guard in front of the crash; the heads
        # are crashes in another function whenever there are some)
        heads, extras = pop_by_site(member.exposed, 3, EXPOSED_SAME_SITE, lambda e: e[3].extra.get("line"),
                                    lambda e: e[1] == e[3].extra.get("function"))
        steps = _completions(session, member, heads, 2, shown)
        if member.redo is not None:   # the line of the edit that made it, tried other ways (patchworld.redo)
            steps += alternatives(session.proposer, member.program, *member.redo, shown, session.env,
                                  k=12 if k == 0 else 6)
            member.redo = None
        # proposals beside the member's share of the pool, displacing none of it
        on_top = _completions(session, member, extras, 1, shown)
        if member.unmask is not None:   # mutants the bug it fixed may have masked (second_order.unmasked)
            found = unmasked(member.program, *member.unmask, susp, k=UNMASKED_IN_POOL + UNMASKED_ON_TOP)
            steps += found[:UNMASKED_IN_POOL]
            on_top += found[UNMASKED_IN_POOL:]
            member.unmask = None
        if member.revert:   # a compensation an earlier accepted edit made, now wrong (patchworld.revert)
            steps += reverts(member.program, beam.accepted)
            member.revert = False
        request.n = max(1, n - len(steps))
        proposals = steps + session.proposer.propose(request) + on_top
        # its single mutations are used up: pair the most promising ones instead (the unmasked ones beside
        # the pool then count towards its share)
        if len(proposals) < n:
            proposals += second_order(member, n - len(proposals), susp)
        propose_seconds += time.perf_counter() - t
        shown_by[member.program.hash] = shown
        unscreened = copy.copy(screeners[member.program.hash])
        unscreened.full = True   # another edit of the line just fixed differs on few rows: a sample misses them
        for p in proposals:   # the current program's redo and reverts: full val (another member's: screened)
            submit(p, member, unscreened if k == 0 and (p.extra or {}).keys() & {"redo", "revert"} else None)
        send_batches(pending, futures, pool, session)
    replays = collect(futures, children, pool, session, progress, f"round {r}: ")
    # wave 2: combine two children of one parent that fixed (or improved) different transitions
    n_before = len(cands)
    for a, b, member in pairs_to_combine(cands, replays):
        combo = combine(member.program, a, b)
        if combo is not None:
            submit(combo, member)
    gathered = 0
    if widen > 1 and first_susp is not None:   # the first round on a program: its silent pairs too (step 11)
        gather_evidence(cands[:n_before], replays)
        gathered = n_before
        for p in second_order(current, FIRST_ROUND_PAIRS, first_susp, turns=("quiet",), linked_only=True):
            submit(p, current)
    send_batches(pending, futures, pool, session)
    if len(cands) > n_before:
        replays.update(collect({h: f for h, f in futures.items() if h not in replays}, children, pool, session,
                               progress, f"round {r}: "))
    gather_evidence(cands[gathered:], replays)
    eval_seconds = time.perf_counter() - start - propose_seconds
    verdicts = [c[2] for c in cands]
    parents = {m.program.hash: m for m in beam.members}
    for _, _, v, child, member in cands:   # early rejections and children of other members: judged here
        rep = replays.get(child.hash) if child is not None else None
        if isinstance(rep, Screened):
            v.reason = rep.reason
            v.fixed, v.broken = member.compare(rep.replay)
        elif rep is not None and not isinstance(rep, BaseException) and member is not beam.members[0]:
            v.fixed, v.broken = member.compare(rep)
    winner = judge(verdicts, {h: rep for h, rep in replays.items() if not isinstance(rep, Screened)},
                   current_replay, before, keep_fixed=lambda v: v.parent != current.program.hash)
    winner, confirmed = session._confirm_best(winner, verdicts, children, before)
    new_members = []
    for _, prop, v, child, parent in cands:
        rep = replays.get(child.hash) if child is not None else None
        if rep is not None and not isinstance(rep, (Screened, BaseException)) and not v.accepted:
            fresh = Member.of(child, rep)
            fresh.family = (v.parent, (prop.extra or {}).get("line"), prop.patch.origin if prop.patch else "")
            fresh.redo = redo_of(parent.program, prop.extra)   # its line, tried other ways
            if prop.patch is not None and (parent.silent or parent.promising):   # its edit may have unmasked them
                louder = [((q.extra or {}).get("line"), q) for _, q in parent.promising]
                fresh.unmask = (parent.program, prop, [*parent.silent, *louder])
            new_members.append((fresh, parent))   # evidence of its own only
    if winner is not None:
        session.current = children[winner.child]
        session._replay_cache = (session.current.hash, confirmed)  # the full (not lean), isolated one
        current = Member.of(session.current, session._replay_cache[1])   # localised afresh (module docstring, 5)
        accepted = next(c[1] for c in cands if c[2] is winner)
        replaced = parents[winner.parent]
        current.redo = redo_of(replaced.program, accepted.extra)
        if replaced.silent:
            current.unmask = (replaced.program, accepted, list(replaced.silent))
        beam.accepted.append((replaced.program.source, session.current.source, winner.candidate_id))
        current.revert = True
    beam.update(current, new_members)
    if not cands:   # nothing left to try from any member: go on from programs the beam let go (Beam.revive)
        beam.revive()
    kept = {m.program.hash: m for m in beam.members[1:]}
    for _, _, v, child, member in cands:
        if child is not None and child.hash in kept and not v.accepted and v.reason and "beam" not in v.reason:
            v.reason += "; neutral step kept in the beam" if kept[child.hash].key == member.key else "; kept in the beam"
    _persist(session, cands, writes, replays, shown_by)
    session.round = r
    after = winner.score_after if winner else before
    screened = sum(isinstance(replays.get(c[3].hash if c[3] is not None else ""), Screened) for c in cands)
    session.store.append_round({
        "round": r, "candidates": len(verdicts), "accepted": winner is not None, "program": session.current.hash,
        "val_token_f1": after["token_f1"], "score": after, "fixed": len(winner.fixed) if winner else 0,
        "broken": len(winner.broken) if winner else 0, "seconds": round(time.perf_counter() - start, 3),
        "propose_seconds": round(propose_seconds, 3), "notes": [], "search": "beam", "screened_out": screened,
        "full_replays": sum(1 for rep in replays.values() if not isinstance(rep, Screened)),
        "beam": [m.program.hash for m in beam.members], "suspicion": suspicions})
    if winner is not None:   # the one pair of diffs of the round, after its records are safe
        _render_diff(session, parents[winner.parent].program, session.current, winner)
    return RoundResult(r, verdicts, winner, session.current, after, time.perf_counter() - start, propose_seconds,
                       eval_seconds, [])


def _completions(session: Any, member: Member, exposed: list, fixes: int, shown: list) -> list:
    """Step 8's proposals for ``exposed`` entries of ``member``: each first edit with up to ``fixes`` repairs
    at its crash line and as many at the guard of that line (:func:`patchworld.exposed.second_steps`)."""
    return [q for line, function, error, first, child in exposed
            for q in second_steps(session.proposer, member.program, child, first, line, function, shown,
                                  session.env, k=fixes, error=error)]


def _lines(session: Any, member: Member) -> list | None:
    """The program lines each val row of ``member`` ran (one traced replay per member; None when
    the sandbox gives no trace)."""
    if member.lines is None:
        from patchworld.replay import replay

        try:
            traced = replay(member.program, session.val, mode="teacher", sandbox=session.sandbox,
                            residual=session.residual, limits=session.limits, lean=True, trace_lines=True)
        except Exception:  # noqa: BLE001 - localisation falls back to tracebacks
            return None
        member.lines = getattr(traced, "lines", None) or []
    return member.lines or None


def _persist(session: Any, cands: list, writes: list, replays: dict, shown_by: dict) -> None:
    """Each child's replay summary (against its own parent), then the round's candidate lines."""
    for _, _, v, child, member in cands:
        if child is None:
            continue
        rep = replays.get(child.hash)
        if isinstance(rep, Screened):   # rejected early: its candidate line is its whole record (no example rows)
            continue
        after = None if isinstance(rep, BaseException) else rep
        summary = replay_summary(v, member.replay, after, shown_by.get(member.program.hash, []))
        session.store.save_patch_files(v.patch_id or v.candidate_id, {"replay_summary.json": _json(summary)})
    for w in writes:
        w.result()
    for _, _, v, child, _member in cands:
        if v.accepted and child is not None:
            _sync_program(session, child)
    session.store.append_candidates([c[2].to_record() for c in cands])


def _json(value: Any) -> str:
    """Compact JSON (the C encoder: indented JSON is encoded in Python, ~10x slower for a round's records)."""
    import json

    return json.dumps(value, default=str)


def _render_diff(session: Any, parent: Any, child: Any, v: Any) -> None:
    from patchworld.patches import side_by_side_html, unified_diff

    html = side_by_side_html(parent.source, child.source, parent.hash, child.hash)
    patch = unified_diff(parent.source, child.source, f"{parent.hash}.py", f"{child.hash}.py")
    session.store.save_patch_files(v.patch_id or v.candidate_id, {"side_by_side.html": html, "diff.patch": patch})


def _sync_program(session: Any, program: Any) -> None:
    """fsync an accepted child's program files (written without fsync while the round ran): resume needs them."""
    import os

    target = session.store.save_program(program)
    for path in (target.with_suffix(".json"), target):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
