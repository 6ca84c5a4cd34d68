"""Predicate switching: every condition of a program negated once, to find the decisions failures hang on.

A coverage spectrum cannot tell apart lines that run on every transition: ``parse_observation`` runs on
every step, so an inverted test there scores like every other line of the step, below the downstream
lines that run mostly on the failures it causes (Wordle's negated feedback match: the parse line 0.92,
``predict_belief`` 0.94). Switching a predicate (Zhang, Gupta & Gupta, ICSE 2006) asks the program
instead: a condition whose negation turns failing transitions exact, a larger share of them than of the
passing ones it breaks, is a decision the failures depend on.

The wide search (:mod:`patchworld.population`) runs these probes once for each new current program
(the one it starts from, one it just accepted), before it localises (:func:`run_probes`: one screening
batch per worker on the program's screening sample), and :func:`critical_lines` is the evidence
localisation raises those lines by (:func:`patchworld.localise.localise`'s ``critical``: only the marked
lines move, the others keep their spectrum scores, which the proposer weighs). Probes are evidence, not
candidates: the gate never judges them, so they add no val-fitted acceptance of their own (a probe that
nudged WebShop's val above the original's program, but not its test score, was accepted when they were);
the proposer, drawing from the lines they mark, proposes the negation among its other edits there. Only
critical probes count: a probe that fixed nothing says little about its line (a branch the failures
never reach), and counting it would lower every condition below the unprobed lines.
``benchmarks/localise_eval.py --probes`` measures it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PROBES", "CRITICAL", "Probe", "switch_probes", "critical_lines", "run_probes"]

MAX_PROBES = 64
"""At most this many probes per program (the most suspicious conditions first when there are more)."""

CRITICAL = 0.6
"""A probe's :func:`patchworld.localise.mutant_score` above this (a net share of failing transitions made
exact: MUSE's fail-to-pass less pass-to-fail) makes its line critical."""


@dataclass(frozen=True)
class Probe:
    """One condition negated: its line and function, what was negated, and the child's source."""

    line: int
    function: str
    note: str
    child: str


def switch_probes(program: Any, suspicion: Any = None, k: int = MAX_PROBES) -> list[Probe]:
    """One probe per condition (``if``, ``while``, conditional expression) in the functions of ``program``
    (:func:`patchworld.proposers.mutation_ops.op_negate_cond`), in source order. With more than ``k``, the
    ``k`` on the most suspicious lines (``suspicion``: a :class:`patchworld.localise.Suspicion`). Empty for a
    program that does not parse."""
    from patchworld.proposers.mutation_ops import SourceIndex, op_negate_cond

    source = program.source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    idx = SourceIndex(source)
    sites: dict[tuple[int, int], tuple[str, Any]] = {}
    for func in ast.walk(tree):   # outer functions first: a nested function's conditions end up under its name
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for m in op_negate_cond(func, idx):
                sites[m.splices[0][:2]] = (func.name, m)
    chosen = sorted(sites.values(), key=lambda fm: fm[1].splices[0][0])
    if len(chosen) > k:
        at = suspicion.at if suspicion is not None else (lambda line: 0.0)
        keep = {id(fm) for fm in sorted(chosen, key=lambda fm: -at(fm[1].node.lineno))[:k]}
        chosen = [fm for fm in chosen if id(fm) in keep]
    return [Probe(m.node.lineno, name, m.note, m.apply(source)) for name, m in chosen]


def critical_lines(parent_rows: Mapping[str, tuple[bool, str]], probes: list[tuple[Probe, Any]]) -> dict[int, float]:
    """Line -> best :func:`patchworld.localise.mutant_score` of the probes on it that scored above
    :data:`CRITICAL`. ``probes``: (probe, result) pairs, the result a :class:`patchworld.replay.Replay`, a
    :class:`patchworld.screening.Screened` or :class:`patchworld.screening.Survives` (its sample's rows
    count), an exception or None; ``parent_rows``: id -> (exact, prediction) of the probed program."""
    from patchworld.localise import mutant_score
    from patchworld.screening import Screened, Survives, columns

    out: dict[int, float] = {}
    for probe, rep in probes:
        rep = rep.replay if isinstance(rep, (Screened, Survives)) else rep
        if rep is None or isinstance(rep, BaseException):
            continue
        ids, preds, exacts = columns(rep, "id", "predicted", "exact")
        value = mutant_score(parent_rows, ids, preds, exacts)
        if value > CRITICAL:
            out[probe.line] = max(out.get(probe.line, 0.0), round(value, 6))
    return out


def run_probes(program: Any, parent_rows: Mapping[str, tuple[bool, str]], screener: Any, pool: Any, session: Any,
               suspicion: Any = None) -> dict[int, float]:
    """:func:`critical_lines` of :func:`switch_probes` of ``program``, the probes screened on ``screener``'s
    sample (all of val when it screens nothing) in ``session.workers`` batches on ``pool``
    (:func:`patchworld.screening.evaluate_batch`); ``parent_rows``: id -> (exact, prediction) of ``program``."""
    from patchworld.program import Program
    from patchworld.sandbox.batch import MAX_BATCH
    from patchworld.screening import evaluate_batch

    probes = switch_probes(program, suspicion)
    if not probes:
        return {}
    children = [Program(p.child) for p in probes]
    size = min(MAX_BATCH, -(-len(children) // max(1, session.workers)))
    chunks = [children[i:i + size] for i in range(0, len(children), size)]
    futures = [pool.submit(evaluate_batch, chunk, screener, session._val_handle(), session.sandbox, session.residual,
                           session.limits, screener.full) for chunk in chunks]
    results: list[Any] = []
    for chunk, fut in zip(chunks, futures, strict=True):
        try:
            results += fut.result()
        except Exception as exc:  # noqa: BLE001 - a failed batch gives no evidence
            results += [exc] * len(chunk)
    return critical_lines(parent_rows, list(zip(probes, results, strict=True)))
