"""What counterexamples say about a program, for the mutation proposer: which functions to blame
(traceback frames, mismatch kinds, blame passed down to called helpers) and which phrases differ
between predicted and true observations (replacements and insertions)."""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from patchworld.localise import program_frames

__all__ = ["function_weights", "mine_phrase_pairs", "mine_insertions", "program_functions", "TOKEN"]

_MISMATCH_WEIGHTS = {"predict_belief": 1.0, "readout_observation": 1.0, "correct_belief": 0.5, "parse_observation": 0.5}
_UPSTREAM = {"readout_observation": {"predict_belief": 2.0}, "predict_belief": {"correct_belief": 1.0, "parse_observation": 0.5}}
TOKEN = re.compile(r"\w+|[^\w\s]")
"""Words and single punctuation marks: the unit phrases are mined and compared in."""


def program_functions(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """Every function definition of the program by name (methods and helpers alike)."""
    out: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.setdefault(node.name, []).append(node)
    return out


def _calls(func: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                names.add(node.func.attr)
            elif isinstance(node.func, ast.Name):
                names.add(node.func.id)
    return names


def function_weights(tree: ast.Module, counterexamples: Sequence[Any]) -> tuple[dict[str, float], set[int]]:
    """Weight per function name (max 1.0) and the traceback lines ("hot" lines) inside the program."""
    funcs = program_functions(tree)
    spans = {name: [(f.lineno, f.end_lineno) for f in fs] for name, fs in funcs.items()}
    weights: Counter[str] = Counter()
    hot: set[int] = set()
    for cx in counterexamples:
        kind = getattr(cx, "error_kind", "mismatch")
        frames = program_frames(getattr(cx, "error", "") or "", spans)
        if frames:
            for k, (name, _line) in enumerate(frames):
                weights[name] += 2.0 if k == len(frames) - 1 else 1.0
            hot.add(frames[-1][1])
            # the belief a crashing method received was made by the step before it in the replay loop
            upstream = _UPSTREAM.get(frames[0][0], {})
            for name, w in upstream.items():
                weights[name] += w
        elif kind in ("load_error",):
            for name in funcs:
                weights[name] += 0.5
        else:
            for name, w in _MISMATCH_WEIGHTS.items():
                if name in funcs:
                    weights[name] += w
    if not weights:  # no counterexamples (or none implicating anything): everything is fair game
        weights.update({name: 1.0 for name in funcs})
    out = {name: float(w) for name, w in weights.items()}
    cap = max(out.values(), default=1.0)
    calls = {name: {c for f in fs for c in _calls(f) if c in funcs and c != name} for name, fs in funcs.items()}
    for _ in range(3):  # helpers inherit blame from every implicated caller (shared helpers the most)
        incoming: Counter[str] = Counter()
        for name, w in out.items():
            for callee in sorted(calls.get(name, ())):
                incoming[callee] += 0.8 * w
        for callee, w in incoming.items():
            out[callee] = max(out.get(callee, 0.0), min(cap, w))
    top = max(out.values(), default=1.0) or 1.0
    return {name: round(w / top, 6) for name, w in out.items() if w > 0}, hot


def mine_phrase_pairs(counterexamples: Sequence[Any], limit: int = 24) -> dict[tuple[str, str], int]:
    """(predicted phrase, true phrase) -> number of counterexamples showing that difference."""
    pairs: Counter[tuple[str, str]] = Counter()
    for cx in counterexamples:
        pred, true = getattr(cx, "predicted", "") or "", getattr(cx, "true", "") or ""
        if not pred.strip() or not true.strip() or pred == true:
            continue
        p_tok = [(m.start(), m.end()) for m in TOKEN.finditer(pred)]
        t_tok = [(m.start(), m.end()) for m in TOKEN.finditer(true)]
        p_words = [pred[a:b] for a, b in p_tok]
        t_words = [true[a:b] for a, b in t_tok]
        found: set[tuple[str, str]] = set()
        if len(p_words) == len(t_words):
            for pw, tw in zip(p_words, t_words, strict=True):
                if pw != tw:
                    found.add((pw, tw))
        ops = difflib.SequenceMatcher(None, p_words, t_words, autojunk=False).get_opcodes()
        for tag, i1, i2, j1, j2 in ops:
            if tag == "replace":
                found.add((pred[p_tok[i1][0]:p_tok[i2 - 1][1]], true[t_tok[j1][0]:t_tok[j2 - 1][1]]))
        for old, new in sorted(found):  # sorted: set order follows the hash seed
            if any(ch.isalpha() for ch in old) and any(ch.isalpha() for ch in new):
                pairs[(old, new)] += 1  # numbers come from state, not from literals: not mined
    return dict(pairs.most_common(limit))


def mine_insertions(counterexamples: Sequence[Any], limit: int = 24) -> dict[tuple[str, str, str], int]:
    """(word before, words the prediction lacks, word after) -> number of counterexamples showing it."""
    found: Counter[tuple[str, str, str]] = Counter()
    for cx in counterexamples:
        pred, true = getattr(cx, "predicted", "") or "", getattr(cx, "true", "") or ""
        if not pred.strip() or not true.strip() or pred == true:
            continue
        p_words, t_words = TOKEN.findall(pred), TOKEN.findall(true)
        ops = difflib.SequenceMatcher(None, p_words, t_words, autojunk=False).get_opcodes()
        for tag, i1, _i2, j1, j2 in ops:
            missing = t_words[j1:j2]
            if tag != "insert" or not any(w.isalpha() and len(w) >= 2 for w in missing) or len(missing) > 3:
                continue   # words only: single letters (feedback codes, grid cells) are data, not wording
            left = p_words[i1 - 1] if i1 > 0 else ""
            right = p_words[i1] if i1 < len(p_words) else ""
            found[(left, " ".join(missing), right)] += 1
    return dict(found.most_common(limit))
