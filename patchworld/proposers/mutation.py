"""The offline proposer: targeted AST mutations of the methods counterexamples implicate.

No LLM needed. For each request it

1. weighs the program's functions: frames named in exception tracebacks (the innermost one
   most, its line "hot"), plus the method that built the belief the crashing one received
   (``predict_belief`` for a crash in ``readout_observation``); ``predict_belief``/``readout_observation`` (and, less,
   ``correct_belief``/``parse_observation``) for mismatches; helpers they call inherit part
   of their caller's weight;
2. mines phrase pairs (predicted -> true) from the counterexamples' observations;
3. enumerates mutations in the weighted functions (see :mod:`.mutation_ops`: swap sibling
   variables/subscripts/tuple elements, move a ``± k`` offset, flip ``+``/``-`` and
   comparisons, integer constants ±1, negate a condition, delete a statement, replace a
   string by a mined phrase, swap two mined literals);
4. ranks them: function weight x operator prior x site factor (a site inside an ``if`` whose
   test names the failing actions, e.g. ``action == "move down"``, gains; one in a branch for
   other actions loses; a traceback's line gains), ties broken by a seeded shuffle;
5. returns the best ``request.n`` as SEARCH/REPLACE patches, at most ``max_per_operator`` per
   operator (default: 60% of ``n``, at least 2) unless too few others exist.

The proposer remembers the patches it already returned for a parent and skips them, so
successive rounds on an unchanged program go deeper down the ranking; it never proposes a
child equal to a program it was asked about before (undoing an accepted patch). Deterministic: the
same seed and the same sequence of requests give the same proposals. Fewer than ``n``
proposals come back when the ranking runs out; a program that does not parse gives one
``kind="error"`` proposal (mutation cannot repair syntax).
"""

from __future__ import annotations

import ast
import difflib
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from patchworld.patches import patch_from_sources, source_hash
from patchworld.proposers.base import Proposal, ProposalRequest
from patchworld.proposers.mutation_candidate import Candidate, ValidQueue
from patchworld.proposers.mutation_evidence import TOKEN as _TOKEN
from patchworld.proposers.mutation_evidence import function_weights, mine_insertions, mine_phrase_pairs
from patchworld.proposers.mutation_evidence import program_functions as _functions
from patchworld.proposers.mutation_literals import (
    LiteralCorpus,
    module_strings,
    program_keys,
    rekey_mutations,
    restore_mutations,
)
from patchworld.proposers.mutation_ops import SourceIndex, function_mutations
from patchworld.proposers.mutation_pieces import split_separators

__all__ = ["MutationProposer", "Candidate", "mine_phrase_pairs", "mine_insertions", "function_weights"]

MIN_TOP_OPERATORS = 4
"""Wide search: the most blamed lines get at least this many operators' best mutations, however small the
pool (a beam member's share can be ten: a quarter of it would try two ways of fixing the crash line)."""


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    return {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _branch_strings(node: ast.AST, parents: dict[int, ast.AST]) -> list[str]:
    """String constants in the tests of the ``if`` s whose body (or test) contains ``node``."""
    out, child = [], node
    cur = parents.get(id(node))
    while cur is not None and not isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)):
        body = cur.body if isinstance(cur, (ast.If, ast.IfExp)) else None
        in_body = any(x is child for x in body) if isinstance(body, list) else child is body
        if body is not None and (child is cur.test or in_body):
            out += [n.value for n in ast.walk(cur.test) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        child, cur = cur, parents.get(id(cur))
    if isinstance(node, (ast.If, ast.IfExp)):
        out += [n.value for n in ast.walk(node.test) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return [s for s in out if len(s.strip()) >= 2]


def _in_test(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
    """Whether ``node`` is (part of) the test of an ``if``, ``while`` or conditional expression: a
    mutation there changes which transitions take the branch, not what the branch does."""
    if isinstance(node, (ast.If, ast.IfExp)):
        return True
    child, cur = node, parents.get(id(node))
    while cur is not None:
        if isinstance(cur, (ast.If, ast.IfExp, ast.While)) and child is cur.test:
            return True
        if isinstance(cur, ast.stmt):
            return False
        child, cur = cur, parents.get(id(cur))
    return False


def _swap_text(text: str, a: str, b: str) -> str:
    if len(a.strip()) < 3 or len(b.strip()) < 3:
        return "".join(b if t == a else a if t == b else t for t in re.split(r"(\W+)", text))
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


def _text_gain(extra: dict, cxs: Sequence[Any], words: bool = False) -> float:
    """Multiplier for a string edit from what it would do to the predicted texts.

    The edit is simulated on the text alone (no code runs): swapping two literals swaps
    them in each prediction, replacing one replaces it. The more the edited predictions
    approach the true observations, the higher the multiplier (0.3 to 3). ``words``: compare
    word sequences instead of characters (the wide search: long observations, many edits).
    """
    split = _TOKEN.findall if words else (lambda text: text)
    gains = []
    for cx in cxs:
        pred, true = getattr(cx, "predicted", "") or "", getattr(cx, "true", "") or ""
        if not pred or not true:
            continue
        if "swap" in extra:
            edited = _swap_text(pred, *extra["swap"])
        else:
            old, new = extra["replace"]
            edited = _swap_text(pred, old, new) if len(old.strip()) < 3 else pred.replace(old, new)
            if len(old.strip()) < 3:  # a one-way replacement: undo the reverse direction of the swap
                edited = "".join(new if t == old else t for t in re.split(r"(\W+)", pred))
        before = difflib.SequenceMatcher(None, split(pred), split(true), autojunk=False).ratio()
        after = difflib.SequenceMatcher(None, split(edited), split(true), autojunk=False).ratio()
        gains.append(after - before)
    if not gains:
        return 1.0
    return min(3.0, max(0.3, 0.5 + 5.0 * sum(gains) / len(gains)))


def _rendered(node: ast.AST, cxs: Sequence[Any]) -> bool:
    """Whether a string literal's text shows up in some counterexample's prediction (for an f-string:
    any of its constant pieces of 3+ characters). Only then can simulating an edit of it on the
    predicted texts say what the edit would do; a dict key or an action test never reaches them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        pieces = [node.value.strip()]
    elif isinstance(node, ast.JoinedStr):
        pieces = [v.value.strip() for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    else:
        return True
    pieces = [p for p in pieces if len(p) >= 3]
    if not pieces:
        return True  # too short to tell (a feedback letter, a separator): keep the simulation
    preds = [getattr(cx, "predicted", "") or "" for cx in cxs[:200]]
    return any(p in pred for p in pieces for pred in preds)


def _interface_factor(node: ast.AST, func: ast.AST, parents: dict[int, ast.AST]) -> float:
    """x1.3 for a site in a statement that reads/writes the belief argument or returns a value.

    Bugs at the belief <-> locals interface (unpacking a position, storing it back, the
    readout's return) are the classic ones; statements elsewhere are left at 1.
    """
    stmt = node
    while stmt is not None and not isinstance(stmt, ast.stmt):
        stmt = parents.get(id(stmt))
    if stmt is None or stmt is func or not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)):
        return 1.0
    if isinstance(stmt, ast.Return):
        return 1.3 if stmt.value is not None and not isinstance(stmt.value, ast.Constant) else 1.0
    args = [a.arg for a in getattr(func, "args", ast.arguments(args=[])).args if a.arg != "self"]
    if args and any(isinstance(n, ast.Name) and n.id == args[0] for n in ast.walk(stmt)):
        return 1.3
    return 1.0


def _action_base_rates(tree: ast.Module, cxs: Sequence[Any], train: Sequence[Any]) -> dict[str, float]:
    """For each string in an ``if`` test that occurs in known actions: its share of training actions.

    Without training data every such string gets 0.25 (a typical 4-way action branch).
    """
    actions = [t.action.lower() for traj in list(train)[:300] for t in traj.transitions]
    known = set(actions) | {getattr(cx, "action", "").lower() for cx in cxs}
    known.discard("")
    tests = [n for n in ast.walk(tree) if isinstance(n, (ast.If, ast.IfExp))]
    strings = {c.value.lower() for t in tests for c in ast.walk(t.test)
               if isinstance(c, ast.Constant) and isinstance(c.value, str) and len(c.value.strip()) >= 2}
    out = {}
    for s in strings:
        if any(s in a for a in known):
            out[s] = (sum(s in a for a in actions) / len(actions)) if actions else 0.25
    return out


class MutationProposer:
    """Offline proposer of targeted AST mutations (see the module docstring)."""

    name = "mutation"

    def __init__(self, seed: int = 0, max_per_operator: int | None = None, remember: bool = True):
        self.seed = seed
        self.max_per_operator = max_per_operator
        self.remember = remember
        self._seen: dict[str, set[str]] = {}
        self._programs: set[str] = set()  # programs seen as parents: never propose going back to one
        self._children: dict[str, set[str]] = {}  # wide search: child sources already proposed per parent
        self._corpus: tuple[Any, LiteralCorpus] | None = None   # (the train split, its observation texts)

    def candidates(self, request: ProposalRequest, functions: set[str] | None = None) -> list[Candidate]:
        """All mutations of the program (of ``functions`` only, when given), best first (no patches built
        yet, nothing remembered)."""
        source = request.program.source
        tree = ast.parse(source)
        weights, hot = function_weights(tree, request.counterexamples)
        pairs = mine_phrase_pairs(request.counterexamples)
        susp = request.suspicion
        inserts = mine_insertions(request.counterexamples) if susp is not None else None
        if susp is not None:  # wide search: every function, ranked by localisation (old weights break ties)
            weights = {name: max(0.05, susp.functions.get(name, 0.0)) * (1.0 + 0.2 * weights.get(name, 0.0))
                       for name in _functions(tree)}
        cxs = list(request.counterexamples)
        base = _action_base_rates(tree, cxs, request.train)
        parents = _parents(tree)
        idx = SourceIndex(source)
        keys = program_keys(tree)
        strings = module_strings(tree)
        separators = split_separators(tree, strings)
        best: dict[str, Candidate] = {}
        site_memo: dict[int, tuple[float, tuple[str, ...]]] = {}
        rng = random.Random(f"{self.seed}/{request.round}/{request.seed}")
        funcs = [(w, name, f) for name, fs in _functions(tree).items() if (w := weights.get(name, 0.0)) > 0
                 and (functions is None or name in functions) for f in fs]
        for w, name, func in sorted(funcs, key=lambda t: (-t[0], t[2].lineno)):
            literal_edits = itertools.chain(restore_mutations(func, idx, self._literal_corpus(request), strings,
                                                              separators),
                                            rekey_mutations(func, idx, keys)) if susp is not None else ()
            for mut in itertools.chain(function_mutations(func, idx, pairs, susp is not None, inserts), literal_edits):
                child = mut.apply(source)
                if child == source:
                    continue
                key = id(mut.node)
                if key not in site_memo:   # many mutations share a site: score it once
                    site_memo[key] = self._site_factor(mut.node, parents, cxs, base, hot)
                site, ids = site_memo[key]
                site *= _interface_factor(mut.node, func, parents)
                bonus = 1.0 + min(mut.extra.get("count", 0), 5) / 5
                if "replace" in mut.extra and susp is not None and not _rendered(mut.node, cxs):
                    bonus *= 0.3  # the literal never reaches a prediction: a text edit there is a long shot
                elif "swap" in mut.extra or "replace" in mut.extra:
                    bonus *= _text_gain(mut.extra, cxs[:8], words=True) if susp is not None else _text_gain(mut.extra, cxs)
                if susp is not None:
                    lo = getattr(mut.node, "lineno", func.lineno)
                    site *= 0.25 + susp.at(lo, getattr(mut.node, "end_lineno", lo))
                score = w * mut.prior * site * bonus * (1.0 + 1e-3 * rng.random())
                prev = best.get(child)
                if prev is None or score > prev.score:
                    best[child] = Candidate(score, name, mut, child, ids, where=(source, func, idx))
        return sorted(best.values(), key=lambda c: -c.score)

    def _literal_corpus(self, request: ProposalRequest) -> LiteralCorpus | None:
        """The training split's observation texts (built once per split), where a literal that lost a
        word finds it again (:mod:`.mutation_literals`); None for a request without one (a redo or
        crash-site request), which leaves the split's corpus and its memo in place."""
        if not request.train:
            return None
        if self._corpus is None or self._corpus[0] is not request.train:
            self._corpus = (request.train, LiteralCorpus(request.train))
        return self._corpus[1]

    def ranking(self, request: ProposalRequest, top: int = 20) -> Any:
        """The ``top`` ranked candidates as a polars frame (rank, score, function, line, operator, note)."""
        import polars as pl

        rows = [{"rank": i + 1, "score": round(c.score, 4), "function": c.function,
                 "line": int(getattr(c.mutation.node, "lineno", 0)), "operator": c.mutation.operator,
                 "note": c.mutation.note} for i, c in enumerate([c for c in self.candidates(request) if c.parses()][:top])]
        schema = {"rank": pl.Int64, "score": pl.Float64, "function": pl.Utf8, "line": pl.Int64, "operator": pl.Utf8,
                  "note": pl.Utf8}
        return pl.DataFrame(rows, schema=schema)

    @staticmethod
    def _site_factor(node: ast.AST, parents: dict[int, ast.AST], cxs: list[Any], base: dict[str, float],
                     hot: set[int]) -> tuple[float, tuple[str, ...]]:
        """How likely this site explains the counterexamples.

        A site inside an ``if`` on actions only matters for counterexamples with those
        actions: its factor is coverage x sqrt(lift), coverage being the share of
        counterexamples whose action the branch names and lift that share over the
        actions' share in the training data (0.25 when unknown). A traceback line gains x1.5.
        """
        factor = 1.0
        all_ids = tuple(getattr(cx, "id", "") for cx in cxs)
        lo, hi = getattr(node, "lineno", 0), getattr(node, "end_lineno", 0)
        if any(lo <= h <= hi for h in hot):
            factor *= 1.5  # the crash site; the cause is often upstream, so only a mild boost
        strings = [s.lower() for s in _branch_strings(node, parents)]
        action_like = [s for s in strings if s in base]
        if not action_like or not cxs:
            return factor, all_ids
        matched = [cx for cx in cxs if any(s in getattr(cx, "action", "").lower() for s in action_like)]
        coverage = len(matched) / len(cxs)
        prior = min(1.0, sum(base[s] for s in set(action_like))) or 0.25
        fit = coverage * (coverage / prior) ** 0.5
        if _in_test(node, parents) and prior < 1.0:
            # a wrong test (a stray `not`, a flipped comparison) sends the actions it does NOT name
            # into the branch just as often: score the site by those too, against their own share
            rest = 1.0 - coverage
            if rest * (rest / (1.0 - prior)) ** 0.5 > fit:
                fit = rest * (rest / (1.0 - prior)) ** 0.5
                named = {id(cx) for cx in matched}
                matched = [cx for cx in cxs if id(cx) not in named]
        factor *= max(0.15, fit)
        return factor, tuple(getattr(cx, "id", "") for cx in matched) or all_ids

    def propose(self, request: ProposalRequest) -> list[Proposal]:
        """Up to ``request.n`` mutation patches, best first, skipping ones already proposed for this parent."""
        program = request.program
        try:
            ranked = self.candidates(request)
        except SyntaxError as exc:
            msg = f"cannot mutate: the program does not parse (line {exc.lineno}: {exc.msg})"
            return [Proposal(None, "error", error=msg)]
        seen = self._seen.setdefault(program.hash, set())
        if request.suspicion is not None:
            fresh = [c for c in ranked if c.child not in self._children.setdefault(program.hash, set())]
            ranked = self._by_function(fresh, request.n, request.suspicion)
        self._programs.add(program.hash)
        chosen: list[Candidate] = []
        skipped: list[Candidate] = []
        per_op: Counter[str] = Counter()
        cap = self.max_per_operator if self.max_per_operator is not None else max(2, math.ceil(0.6 * request.n))
        for cand in ranked:
            if len(chosen) >= request.n:
                break
            if not cand.parses():
                continue
            op = cand.mutation.operator
            note = f"{cand.function}:{getattr(cand.mutation.node, 'lineno', 0)} {op}: {cand.mutation.note}"
            cand.patch = patch_from_sources(program, cand.child, origin=f"mutation:{op}", note=note,
                                            counterexample_ids=[i for i in cand.counterexample_ids if i])
            if cand.patch.id in seen or source_hash(cand.child) in self._programs:
                continue  # already proposed, or it would undo a step back to an earlier program
            if per_op[op] >= cap:
                skipped.append(cand)
                continue
            per_op[op] += 1
            chosen.append(cand)
        chosen += skipped[: request.n - len(chosen)]
        if self.remember:
            seen.update(c.patch.id for c in chosen if c.patch is not None)
            if request.suspicion is not None:
                self._children[program.hash].update(c.child for c in chosen)
        return [Proposal(c.patch, "ast_mutation", response=c.patch.note if c.patch else "",
                         extra={"score": round(c.score, 4), "function": c.function,
                                "line": int(getattr(c.mutation.node, "lineno", 0))})
                for c in chosen]

    @staticmethod
    def _by_function(ranked: list[Candidate], n: int, suspicion: Any = None) -> list[Candidate]:
        """Wide search: a quarter of the pool (at least :data:`MIN_TOP_OPERATORS`) goes to the most suspicious
        lines, each getting its best mutation of every operator (a stray ``not`` on the top line is found even
        when a text edit there ranks higher); up to half round-robin over mutated lines (each line's best
        mutation first, lines in rank order); the rest by global rank. So the lines localisation blames are
        tried several ways at once, and every line, in every function, soon has one mutant tried; what those do
        feeds back into localisation next round."""
        queues: dict[tuple[str, int], list[Candidate]] = {}
        for cand in ranked:
            queues.setdefault((cand.function, int(getattr(cand.mutation.node, "lineno", 0))), []).append(cand)
        head: list[Candidate] = []
        taken: set[int] = set()
        lines_by_blame = sorted(queues, key=lambda k: -suspicion.at(k[1])) if suspicion is not None else []
        quarter = max(n // 4, min(n, MIN_TOP_OPERATORS))
        for key in lines_by_blame:
            if len(head) >= quarter or suspicion.at(key[1]) <= 0:
                break
            ops: set[str] = set()
            for cand in queues[key]:
                if cand.mutation.operator not in ops and len(head) < quarter and cand.parses():
                    ops.add(cand.mutation.operator)
                    head.append(cand)
                    taken.add(id(cand))
        valid = {key: ValidQueue(q) for key, q in queues.items()}   # each line's candidates that parse, found lazily
        depth = 0
        while len(head) < n // 2 and any(v.at(depth) is not None for v in valid.values()):
            picks = [v.at(depth) for v in valid.values()]
            head += [c for c in picks if c is not None and id(c) not in taken]
            depth += 1
        head = head[: max(n // 2, quarter)]
        taken = {id(c) for c in head}
        return head + [c for c in ranked if id(c) not in taken]
