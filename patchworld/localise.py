"""Spectrum fault localisation: which lines of a world-model program most likely cause its failures.

Every transition of a val replay is a test that passes (exact prediction) or fails. For each
line of the program this module counts the failing (``ef``) and passing (``ep``) transitions
that ran it and scores the line with Ochiai, ``ef / sqrt(F * (ef + ep))`` (``F``: all failing
transitions), or Tarantula. Which lines ran comes from the sandbox's per-transition line
record when the replay has one (``replay(..., trace_lines=True)``: ``Replay.lines``, the line
numbers each row ran); without it, the lines of every function a transition's traceback names count as run,
and every other function gets a small prior (so parsing, belief correction and helpers are
still searched, just later). A line that writes a belief key is also scored as if it ran on the later rows
of its trajectory that read that key (:func:`patchworld.dataflow.carried_reads`) when those rows fail more
often than later rows at large: a value parsed on one step and shown on every later one is blamed where it was
written, and in the lines that computed it on that step (:func:`patchworld.dataflow.producers`). Traceback
frames add evidence on top of the spectrum: the innermost frame's line gets the most,
and the lines that wrote the belief keys the crash line read (and the ``if`` tests guarding those writes:
:mod:`patchworld.dataflow`) get nearly as much, since a crash is often a bad value stored upstream
(line scores only: a function still scores by its own evidence, so the function that crashed stays first
when the fault is where it crashed). Mutants the search already evaluated add a third kind (Metallaxis): a
line whose mutants change the predictions of failing transitions but not of passing ones is where the fault
most likely is. Scores are in [0, 1], but a line a critical probe marked (:mod:`patchworld.probes`) is lifted
above the rest, up to :data:`SUSPICION_CEILING`; a function scores its best line.

:func:`localise` is what the search uses; :mod:`patchworld.suspicion` reads what a run recorded of it
and computes it for any program and its replay (the candidate view's per-line suspicion column).
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from patchworld.dataflow import carried_reads, crash_writers, producers

__all__ = ["Suspicion", "localise", "spectrum", "function_spans", "mutant_score", "FORMULAS",
           "CARRIED_WEIGHT", "CLUSTER_WEIGHT", "SUSPICION_CEILING", "action_kind"]

_FRAME = re.compile(r'File "([^"]*)", line (\d+), in (\S+)')  # Python's own traceback format
_COMPACT_FRAME = re.compile(r"^(?:in \w+: )?line (\d+), in (\w+): ", re.MULTILINE)
"""The format replay records (``patchworld.sandbox.calls``): ``[in <phase>: ]line N, in <function>: <source>``,
one line per frame of the program's own code, outermost first, then ``<Exception>: <message>``."""
_PRIOR = {"predict_belief": 0.3, "readout_observation": 0.3, "correct_belief": 0.25, "parse_observation": 0.25}
_DEFAULT_PRIOR = 0.15


def ochiai(ef: int, ep: int, total_failed: int, total_passed: int) -> float:
    """Ochiai: ef / sqrt(F * (ef + ep))."""
    denom = math.sqrt(total_failed * (ef + ep))
    return ef / denom if denom else 0.0


def tarantula(ef: int, ep: int, total_failed: int, total_passed: int) -> float:
    """Tarantula: (ef/F) / (ef/F + ep/P)."""
    f = ef / total_failed if total_failed else 0.0
    p = ep / total_passed if total_passed else 0.0
    return f / (f + p) if f + p else 0.0


FORMULAS = {"ochiai": ochiai, "tarantula": tarantula}

SUSPICION_CEILING = 4 / 3
"""The highest line score: 1 from the spectrum and its blames, plus a critical probe's lift of at most 1/3."""


@dataclass
class Suspicion:
    """Per-line and per-function suspicion in [0, 1] (up to :data:`SUSPICION_CEILING` for a line a
    critical probe raised, method ``+probes``), and how it was obtained."""

    lines: dict[int, float]
    functions: dict[str, float]
    method: str                       # "coverage" or "tracebacks", "+mutants" when mutant evidence was used
    failing: int = 0
    passing: int = 0
    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def ranked_functions(self) -> list[tuple[str, float]]:
        """Functions, most suspicious first (ties by name)."""
        return sorted(self.functions.items(), key=lambda kv: (-kv[1], kv[0]))

    def at(self, lo: int, hi: int | None = None) -> float:
        """The highest line score in lines ``lo..hi`` (a mutation site's span)."""
        hi = lo if hi is None else hi
        return max((self.lines.get(n, 0.0) for n in range(lo, hi + 1)), default=0.0)


def function_spans(source: str) -> dict[str, list[tuple[int, int]]]:
    """Function name -> (first line, last line) of each definition with that name (a new dict each call)."""
    out: dict[str, list[tuple[int, int]]] = {}
    for name, first, last in _definitions(source):
        out.setdefault(name, []).append((first, last))
    return out


@lru_cache(maxsize=64)
def _definitions(source: str) -> tuple[tuple[str, int, int], ...]:
    """(name, first line, last line) of every function definition, parsed once per source: a round
    asks for its parent's spans several times (localisation, its members, crashes its children expose)."""
    return tuple((node.name, node.lineno, node.end_lineno or node.lineno) for node in ast.walk(ast.parse(source))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


@lru_cache(maxsize=64)
def _body_lines(source: str) -> Mapping[int, str]:
    """Line -> innermost enclosing function, for every line holding a statement inside a function (read-only,
    computed once per source: each round localises every beam member, most of them unchanged)."""
    tree = ast.parse(source)
    owner: dict[int, tuple[int, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.stmt) and stmt is not node:
                    depth = node.lineno  # the later (inner) definition wins
                    for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                        if line not in owner or owner[line][0] < depth:
                            owner[line] = (depth, node.name)
    return MappingProxyType({line: name for line, (_, name) in owner.items()})


def program_frames(error: str, spans: Mapping[str, list[tuple[int, int]]]) -> list[tuple[str, int]]:
    """The program's own frames of an error text, outermost first: (function, line).

    Reads the compact frames replay records (see ``_COMPACT_FRAME``) and Python's traceback format
    (``File "<program>", line N, in f``); a frame counts only if ``spans`` (see :func:`function_spans`)
    has that function around that line, so text in an exception message cannot pass for a frame of
    code that is not there.
    """
    out = []
    for filename, line, name in _FRAME.findall(error or ""):
        n = int(line)
        if name in spans and (filename == "<program>" or (filename.startswith("<")
                                                        and any(a <= n <= b for a, b in spans[name]))):
            out.append((name, n))
    if not out:
        for line, name in _COMPACT_FRAME.findall(error or ""):
            n = int(line)
            if name in spans and any(a <= n <= b for a, b in spans[name]):
                out.append((name, n))
    return out


def spectrum(failed: Sequence[bool], lines_run: Sequence[Iterable[int] | None]) -> tuple[Counter, Counter, int, int]:
    """(ef, ep, F, P): per line, how many failing and passing rows ran it; rows without a record are skipped."""
    ef: Counter[int] = Counter()
    ep: Counter[int] = Counter()
    n_fail = n_pass = 0
    for bad, ran in zip(failed, lines_run, strict=True):
        if ran is None:
            continue
        if bad:
            n_fail += 1
            ef.update(set(ran))
        else:
            n_pass += 1
            ep.update(set(ran))
    return ef, ep, n_fail, n_pass


def mutant_score(parent_rows: Mapping[str, tuple[bool, str]], child_ids: Sequence[str],
                 child_preds: Sequence[str], child_exact: Sequence[bool] | None = None) -> float:
    """Evidence from one evaluated mutant that its line matters, in [0, 1].

    Metallaxis: ``fk / sqrt(F * (fk + pk))``, fk (pk) counting the failing (passing)
    transitions whose prediction the mutant changed and F the failing ones it ran on; capped
    at 0.6. A mutant that turns failing transitions exact (MUSE's fail-to-pass) scores
    ``0.6 + 0.4 * (f2p / F - p2f / P)`` instead: a line where a change fixes things is where the
    fault most likely is. ``parent_rows``: id -> (exact, prediction) of the parent."""
    fk = pk = n_fail = n_pass = f2p = p2f = 0
    exacts = child_exact if child_exact is not None else [None] * len(child_ids)
    for tid, pred, ok in zip(child_ids, child_preds, exacts, strict=True):
        row = parent_rows.get(tid)
        if row is None:
            continue
        changed = pred != row[1]
        if row[0]:
            n_pass += 1
            pk += changed
            p2f += bool(changed and ok is False)
        else:
            n_fail += 1
            fk += changed
            f2p += bool(ok)
    denom = math.sqrt(n_fail * (fk + pk))
    metallaxis = 0.6 * fk / denom if denom else 0.0
    if f2p and n_fail:
        muse = f2p / n_fail - (p2f / n_pass if n_pass else 0.0)
        return max(metallaxis, min(1.0, 0.6 + 0.4 * max(0.0, muse)))
    return metallaxis


_UPSTREAM_ORDER = ("parse_observation", "correct_belief", "init_belief", "predict_belief", "readout_observation")
"""Tie-break (1e-3 steps): with equal evidence, a function earlier in a step's data flow goes first
(a fault upstream spoils everything after it, so it explains the most failures)."""


def _blend(scores: Mapping[int, float], mutants: Mapping[int, float]) -> dict[int, float]:
    """Line scores blended with mutant evidence: a line not mutated yet counts as 0.5 (unknown), a
    mutated one by its best mutant."""
    return {line: 0.6 * value + 0.4 * float(mutants.get(line, 0.5)) for line, value in scores.items()}


def _lift(scores: Mapping[int, float], critical: Mapping[int, float]) -> dict[int, float]:
    """Line scores with only the critical lines raised: by :func:`_blend`'s margin of a line with mutant
    evidence ``m`` over an unmutated one (``0.4 (m - 0.5)`` on its ``0.6`` scale), not capped, so a raised
    line can reach :data:`SUSPICION_CEILING` and the order is exactly the blend's (a cap at 1 tied a raised
    line with every line the spectrum already scores 1). The other lines keep their own scores, where the
    blend would compress them all into [0.2, 0.8] and flatten the proposer's weighting of every line no
    probe marked."""
    return {line: value + (2 / 3) * (float(critical[line]) - 0.5) if line in critical else value
            for line, value in scores.items()}


CARRIED_WEIGHT = 0.95
"""A key's writer blamed through the later rows that read it scores this share of their spectrum score."""


def _blame_carried(lines: dict[int, float], source: str, traj_ids: Sequence[object], failed: Sequence[bool],
                   lines_run: Sequence[Iterable[int] | None], f_total: int, p_total: int,
                   score: Callable[[int, int, int, int], float]) -> None:
    """Raise each line that wrote a belief key later rows read (:func:`patchworld.dataflow.carried_reads`) to
    :data:`CARRIED_WEIGHT` times the score of the rows that read what it wrote (all of them, or those of its
    most suspicious reader alone), when that beats its own score and the score of a line run on every row
    after each trajectory's first (so those readers fail more often than later rows at large): the writer of
    an instruction parsed on a passing first step and shown wrong on every failing later step. Without that
    floor every writer of a key most rows read would rank with the lines run everywhere and take pool places
    from lines that ran on the failures themselves. A writer raised so whose own rows tell nothing against it
    (it scores below a line run on every row) passes :data:`CARRIED_WEIGHT` of its new score on to the lines
    of the functions that computed what it stored (:func:`patchworld.dataflow.producers`) that ran on its
    rows and score below such a line too: the parse of that first step. Other lines keep their scores."""
    carried = carried_reads(source, traj_ids, lines_run)
    union: dict[int, list[int]] = {}                    # writer -> [failing, passing] rows that read what it wrote
    per_reader: dict[tuple[int, int], list[int]] = {}   # (writer, reader) -> the same, for one reader's rows
    later = [0, 0]                                      # rows after their trajectory's first (with a line record)
    previous: object = object()
    for tid, bad, row in zip(traj_ids, failed, carried, strict=True):
        if tid == previous and row is not None:
            later[0 if bad else 1] += 1
        previous = tid
        for w, readers in (row or {}).items():
            union.setdefault(w, [0, 0])[0 if bad else 1] += 1
            for reader in readers:
                per_reader.setdefault((w, reader), [0, 0])[0 if bad else 1] += 1
    everywhere = score(f_total, p_total, f_total, p_total)   # a line run on every row: no evidence either way
    floor = max(everywhere, score(*later, f_total, p_total))   # nor one run on every row that could read a value
    best = {w: score(*counts, f_total, p_total) for w, counts in union.items() if w in lines}
    for (w, _), counts in per_reader.items():
        if w in best:
            best[w] = max(best[w], score(*counts, f_total, p_total))
    made = producers(source)
    owner = _body_lines(source)
    for w, value in best.items():
        carried_score = CARRIED_WEIGHT * value
        if carried_score <= floor or carried_score <= lines[w]:
            continue
        innocent = lines[w] < everywhere
        lines[w] = carried_score
        if not innocent or w not in made:
            continue
        ran_with = set().union(*(set(ran) for ran in lines_run if ran is not None and w in ran))
        for line in ran_with:
            if owner.get(line) in made[w] and lines.get(line, everywhere) < everywhere:
                lines[line] = max(lines[line], CARRIED_WEIGHT * carried_score)


CLUSTER_WEIGHT = 0.75
"""A line scored on one kind of action's failures alone (:func:`_blame_clusters`) gets this share of that score."""

CLUSTER_MIN = 3
"""Fewer failing rows of one kind of action than this make no cluster (one odd row says little)."""

def action_kind(action: object) -> str:
    """An action's first whitespace-separated token, lower-cased (``examine``, ``move``; ``click[buy`` of
    ``click[Buy Now]``, apart from ``click[item`` and ``click[next``; "" for none). Finer than the word
    before a bracket, coarser than two tokens: ``benchmarks/localise_eval.py`` ranked planted bugs' lines
    best with this key."""
    tokens = str(action or "").split(maxsplit=1)
    return tokens[0].lower() if tokens else ""


def _blame_clusters(lines: dict[int, float], actions: Sequence[object], failed: Sequence[bool],
                    lines_run: Sequence[Iterable[int] | None], ep: Mapping[int, int], p_total: int,
                    score: Callable[[int, int, int, int], float]) -> None:
    """Raise each line to :data:`CLUSTER_WEIGHT` times its score over the failing rows of one kind of action
    (:func:`action_kind`) against every passing row, when that beats its score over all failures. A program
    that already fails on many rows for other reasons (an imperfect model, a second bug) buries a fault that
    only one action reaches: ALFWorld's ``examine`` answer with an inverted test fails a dozen rows of 132,
    so its line's Ochiai is 0.3 among lines at 0.8 that the other failures run. A kind holding every
    failure adds nothing (the global score is the same), nor one of fewer than :data:`CLUSTER_MIN` rows."""
    groups: dict[str, list[Iterable[int]]] = {}
    for action, bad, ran in zip(actions, failed, lines_run, strict=True):
        if bad and ran is not None:
            groups.setdefault(action_kind(action), []).append(ran)
    n_fail = sum(len(rows) for rows in groups.values())
    for rows in groups.values():
        if len(rows) < CLUSTER_MIN or len(rows) == n_fail:
            continue
        ef: Counter[int] = Counter()
        for ran in rows:
            ef.update(set(ran))
        for line, count in ef.items():
            if line in lines:
                lines[line] = max(lines[line], CLUSTER_WEIGHT * score(count, ep.get(line, 0), len(rows), p_total))


def localise(source: str, steps: Any, lines_run: Sequence[Iterable[int] | None] | None = None,
             formula: str = "ochiai", mutants: Mapping[int, float] | None = None,
             critical: Mapping[int, float] | None = None) -> Suspicion:
    """Suspicion of every line of ``source`` from a replay's ``steps`` frame (``exact``, ``error``),
    when given the lines each row ran (aligned with ``steps``), and ``mutants``: line -> best
    :func:`mutant_score` of the mutants already evaluated there (mutation-based evidence, which
    the search gathers for free while it screens candidates). ``critical``: line -> score of the
    predicate-switch probes that marked it (:mod:`patchworld.probes`); with mutant evidence it counts as
    more of it, without, it raises only its own lines (:func:`_lift`; method ``+probes``)."""
    spans = function_spans(source)
    owner = _body_lines(source)
    exact = [bool(x) for x in steps.get_column("exact").to_list()]
    errors = steps.get_column("error").to_list()
    failed = [not x for x in exact]
    n_fail = sum(failed)
    tb: Counter[int] = Counter()
    crash: Counter[int] = Counter()
    tb_funcs: Counter[str] = Counter()
    for bad, err in zip(failed, errors, strict=True):
        if not bad or not err:
            continue
        frames = program_frames(err, spans)
        for k, (name, line) in enumerate(frames):
            inner = k == len(frames) - 1
            tb[line] += 1.0 if inner else 0.5
            crash[line] += inner
            tb_funcs[name] += 1.0 if inner else 0.5
    lines: dict[int, float] = {}
    if lines_run is not None and any(r is not None for r in lines_run):
        ef, ep, f_total, p_total = spectrum(failed, lines_run)
        score = FORMULAS[formula]
        for line in owner:
            lines[line] = score(ef.get(line, 0), ep.get(line, 0), f_total, p_total) if f_total else 0.0
        if f_total and "action" in steps.columns:
            _blame_clusters(lines, steps.get_column("action").to_list(), failed, lines_run, ep, p_total, score)
        if f_total and "traj_id" in steps.columns:
            _blame_carried(lines, source, steps.get_column("traj_id").to_list(), failed, lines_run, f_total, p_total,
                           score)
        method, n_p = "coverage", p_total
    else:
        # no line record: a function named by tracebacks counts as run by those failures; the rest get a prior
        for line, name in owner.items():
            share = min(1.0, tb_funcs.get(name, 0.0) / n_fail) if n_fail else 0.0
            lines[line] = max(_PRIOR.get(name, _DEFAULT_PRIOR), 0.5 * share) if n_fail else 0.0
        method, n_p = "tracebacks", len(failed) - n_fail
    for line, weight in tb.items():  # the traceback's own lines: the crash site and its call sites
        if line in owner and n_fail:
            lines[line] = min(1.0, lines.get(line, 0.0) * 0.5 + 0.5 + 0.5 * weight / n_fail)
    before_writers = dict(lines)
    if crash and n_fail:  # the writers of what a crash line read: the bad value's origin
        for line, writers in crash_writers(source, crash).items():
            for w in writers:
                if w in owner:
                    blamed = min(1.0, lines.get(w, 0.0) * 0.5 + 0.4 + 0.5 * crash[line] / n_fail)
                    lines[w] = max(lines.get(w, 0.0), blamed)
    if mutants:
        evidence = dict(critical or {})
        for line, value in mutants.items():
            evidence[line] = max(evidence.get(line, 0.0), value)
        method += "+mutants"
        lines, before_writers = _blend(lines, evidence), _blend(before_writers, evidence)
    elif critical:
        method += "+probes"
        lines, before_writers = _lift(lines, critical), _lift(before_writers, critical)
    functions: dict[str, float] = {}
    for line, value in before_writers.items():   # writers rank lines, not functions: the crash's own stays first
        name = owner[line]
        functions[name] = max(functions.get(name, 0.0), value)
    for k, name in enumerate(_UPSTREAM_ORDER):
        if name in functions:
            functions[name] += 1e-3 * (len(_UPSTREAM_ORDER) - k)
    for name in spans:
        functions.setdefault(name, 0.0)
    return Suspicion({k: round(v, 6) for k, v in sorted(lines.items())},
                     {k: round(v, 6) for k, v in functions.items()}, method, n_fail, n_p, spans)
