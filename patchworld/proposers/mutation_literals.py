"""Put back a word a string literal lost, from the texts the environment really produced.

A literal the program tests observations against (``"walls around you." in text``) or renders
(``"Your score (min 0.0, max 1.0)"``) that lost a word matches nothing any more, and no
counterexample names the word: a test that never fires predicts nothing wrong in the text, it
sends the belief down another branch. The observations of the training split do name it: the
literal with one word put back occurs there. :class:`LiteralCorpus` holds those texts and, for a
literal that occurs in none of them, finds the one-word insertions that do occur (most frequent
first); :func:`restore_mutations` turns them into edits of a function's literals. A literal the
program compares actions against (``action == "move up"``) that lost a word is restored the same way
from the split's actions, where the restored literal must be a whole action. A regular expression
that lost one alternative of a group (``r"^(|close) "``: ``open`` cut out) gets back the words the empty
alternative's place holds in the split's actions and observations that the pattern with the place
widened matches (:meth:`LiteralCorpus.alternatives`).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from patchworld.proposers.mutation_ops import Mutation, SourceIndex
from patchworld.proposers.mutation_pieces import NOT_PLAIN as _NOT_PLAIN
from patchworld.proposers.mutation_pieces import PieceIndex, piece_restores

__all__ = ["LiteralCorpus", "restore_mutations", "module_strings", "empty_alternative", "program_keys",
           "rekey_mutations"]

_WORD = r"([A-Za-z][A-Za-z-]*)"
_OPENERS = {"[": "]", "(": ")", "<": ">", "{": "}"}
"""Brackets a word can be cut from whole (``"WebShop [] Instruction:"`` from ``[SEP]``)."""
_MAX_CHARS = 4_000_000
"""Corpus size cap (characters of distinct observation texts): bounds the cost of one search."""
_MAX_ACTIONS = 20_000
"""Distinct actions kept (the most frequent): bounds the cost of one action search."""


class LiteralCorpus:
    """The distinct observation texts and actions of some trajectories, searched for restored literals."""

    def __init__(self, trajectories: Sequence[Any]):
        texts: dict[str, None] = {}
        actions: Counter[str] = Counter()
        size = 0
        for traj in trajectories:
            for t in getattr(traj, "transitions", ()):
                if isinstance(t.action, str):
                    actions[t.action] += 1
                for text in (t.observation, t.next_observation):
                    if text and text not in texts and size + len(text) <= _MAX_CHARS:
                        texts[text] = None
                        size += len(text) + 1
        self.texts = list(texts)
        self.text = "\x00".join(texts)
        self.actions = dict(actions.most_common(_MAX_ACTIONS))
        self._memo: dict[str, list[tuple[str, int]]] = {}
        self._pieces: dict[tuple[str, ...], PieceIndex] = {}

    def pieces(self, separators: tuple[str, ...]) -> PieceIndex:
        """The texts cut at ``separators`` (:mod:`.mutation_pieces`), built once per set of separators."""
        if separators not in self._pieces:
            self._pieces[separators] = PieceIndex(self.texts, separators)
        return self._pieces[separators]

    def restores(self, value: str, limit: int = 3) -> list[tuple[str, int]]:
        """``(literal with one word put back, texts holding it)`` for a literal that occurs in no text
        (none when it occurs, or is too short to say anything), most frequent first."""
        if value in self._memo:
            return self._memo[value]
        out: list[tuple[str, int]] = []
        if _eligible(value) and value not in self.text:
            found: set[tuple[int, str]] = set()   # (where, restored text): two cut places can give one text
            for pattern in _patterns(value):
                found.update((m.start(), m.group(0)) for m in re.finditer(pattern, self.text))
            if value[:1] not in ("", " "):   # a word cut from the front: find the rest, look before it
                for m in re.finditer(re.escape(" " + value), self.text):
                    word = re.search(_WORD + r"$", self.text[max(0, m.start() - 40):m.start()])
                    start = m.start() - len(word.group(0)) if word else 0
                    if word and not self.text[start - 1:start].isalpha():
                        found.add((start, word.group(0) + " " + value))
            counts = Counter(text for _, text in found)
            out = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if not out:
            out = self._action_restores(value, limit)
        self._memo[value] = out
        return out

    def _action_restores(self, value: str, limit: int) -> list[tuple[str, int]]:
        """``(action, times taken)`` for the actions that are ``value`` with one word put back, when
        ``value`` is no action itself (an action literal is compared whole, so a short one counts)."""
        if (len(value) < 2 or value in self.actions or not re.search(r"[A-Za-z]{2,}", value)
                or any(ch in value for ch in _NOT_PLAIN)):
            return []
        found = []
        for action, count in self.actions.items():
            if value in action:
                words = action.split(" ")
                if any(" ".join(words[:i] + words[i + 1:]) == value for i in range(len(words))):
                    found.append((action, count))
        return sorted(found, key=lambda kv: (-kv[1], kv[0]))[:limit]

    def alternatives(self, pattern: str, at: int) -> list[tuple[str, int]]:
        """``(word, actions taken and texts)`` for a regular expression with an empty alternative at ``at``
        (:func:`empty_alternative`): the words that place holds in the actions and texts the pattern matches
        with the place widened to any word and did not match before (unranked; none when either does not
        compile)."""
        key = f"\x01re:{at}:{pattern}"
        if key not in self._memo:
            items = [[a, n] for a, n in self.actions.items()] + [[x, 1] for x in self.texts if x not in self.actions]
            self._memo[key] = _words_in_place(pattern[:at] + "(?P<_pw_word>" + _WORD + ")" + pattern[at:], pattern,
                                              items, ALTERNATIVES_SECONDS)
        return self._memo[key]


ALTERNATIVES_SECONDS = 2.0
"""Wall-clock limit of one :meth:`LiteralCorpus.alternatives` search. The pattern is the program's (hostile
code's) text: a pattern that backtracks without end (``(a+)+$``) must not stall the trusted process."""

_SEARCH = """\
import json, re, sys
job = json.load(sys.stdin)
try:
    widened, original = re.compile(job["widened"]), re.compile(job["original"])
except Exception:
    print("[]"); sys.exit(0)
words = {}
for text, weight in job["items"]:
    m = widened.search(text)
    if m and m.group("_pw_word") and not original.search(text):
        words[m.group("_pw_word")] = words.get(m.group("_pw_word"), 0) + weight
print(json.dumps(sorted(words.items())))
"""


def _words_in_place(widened: str, original: str, items: list, seconds: float) -> list[tuple[str, int]]:
    """``(word, weight)`` summed over the ``[text, weight]`` items that ``widened`` matches (its group
    ``_pw_word``) and ``original`` does not, found by a separate interpreter that is killed after
    ``seconds`` (then, or when a pattern does not compile: none). Nothing of it is trusted but a list of
    pairs of a word and a number."""
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _SEARCH], capture_output=True, timeout=seconds,
                              input=json.dumps({"widened": widened, "original": original, "items": items}).encode(),
                              check=False, env={})
        found = json.loads(done.stdout or b"[]")
    except (subprocess.TimeoutExpired, OSError, ValueError):
        return []
    return [(w, n) for w, n in found if isinstance(w, str) and re.fullmatch(_WORD, w) and isinstance(n, int)] \
        if isinstance(found, list) and all(isinstance(x, list) and len(x) == 2 for x in found) else []


_EMPTY_ALTERNATIVE = re.compile(r"(?<=[(|])(?=\|)|(?<=\|)(?=\))")
"""The place of an empty alternative in a regular expression: between ``(`` or ``|`` and ``|``, or ``|`` and ``)``."""


def empty_alternative(pattern: str) -> int:
    """The one place in ``pattern`` an alternative is empty (0 when there is none, or more than one)."""
    spots = [m.start() for m in _EMPTY_ALTERNATIVE.finditer(pattern)]
    return spots[0] if len(spots) == 1 else 0


def _eligible(value: str) -> bool:
    """A literal worth restoring: some wording (a word of 2+ letters, 4+ characters) and no control
    characters or quotes (the edit is spliced into the source as plain text)."""
    return (len(value) >= 4 and re.search(r"[A-Za-z]{2,}", value) is not None
            and not any(ch in value for ch in _NOT_PLAIN))


def _patterns(value: str) -> Iterator[str]:
    """One regex per place inside ``value`` a word (and its space, or the whole of what brackets held)
    could have been cut from (each starts with a piece of the literal, so the search skips ahead; the
    front is searched apart)."""
    for p in range(len(value) + 1):
        before, after = value[:p], value[p:]
        if p > 0 and before.endswith(" ") and after[:1] not in ("", " "):
            yield re.escape(before) + _WORD + " " + re.escape(after)      # "... W next"
        if p > 0 and not before.endswith(" ") and after[:1] in ("", " ", ".", ",", ":", ";", "!", "?", ")"):
            yield re.escape(before) + " " + _WORD + re.escape(after)      # "prev W..."
        if p > 0 and before[-1] in _OPENERS and after[:1] == _OPENERS[before[-1]]:
            yield re.escape(before) + _WORD + re.escape(after)            # "[W]": a bracketed token


def restore_mutations(func: ast.AST, idx: SourceIndex, corpus: LiteralCorpus | None,
                      strings: Mapping[str, str] | None = None, separators: tuple[str, ...] = ()) -> Iterator[Mutation]:
    """A restored literal for each plain string literal of ``func`` that occurs in no text of
    ``corpus`` while a one-word insertion of it does, for each one compared whole that is no piece of a
    text cut at ``separators`` while a one-word insertion of it is (:mod:`.mutation_pieces`), and for each
    regular expression literal with one empty alternative (see the module docstring); ``strings``: the
    module's string constants (:func:`module_strings`), so that a pattern built as ``r"^(|close) " + _NAME +
    r"$"`` is matched whole."""
    if corpus is None:
        return
    done: set[tuple[int, str]] = set()
    for node in ast.walk(func):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        yield from _alternative_mutations(node, func, idx, corpus, strings or {})
        text = _plain(node, idx)
        if text is None:
            continue
        for new, count in corpus.restores(node.value):
            done.add((id(node), new))
            yield _restored(node, idx, text, new, count)
    if separators:
        for node, new, count in piece_restores(func, corpus.pieces(separators)):
            text = _plain(node, idx)
            if text is not None and (id(node), new) not in done:
                yield _restored(node, idx, text, new, count)


def _alternative_mutations(node: ast.Constant, func: ast.AST, idx: SourceIndex, corpus: LiteralCorpus,
                           strings: Mapping[str, str], limit: int = 3) -> Iterator[Mutation]:
    """The regular expression literal ``node`` with a word put in its empty alternative
    (:meth:`LiteralCorpus.alternatives`, on the whole pattern the literal is concatenated into when every
    other piece is a literal or a module string constant); words the function's own strings use first."""
    raw, at = _raw_or_plain(node, idx), empty_alternative(node.value)
    if raw is None or not at:
        return
    pattern, offset = _whole_pattern(node, func, strings)
    found = corpus.alternatives(pattern, offset + at)
    named = _words(func)
    for word, count in sorted(found, key=lambda kv: (kv[0] not in named, -kv[1], kv[0]))[:limit]:
        yield _restored(node, idx, raw, node.value[:at] + word + node.value[at:], count)


def _restored(node: ast.Constant, idx: SourceIndex, text: str, new: str, count: int) -> Mutation:
    """The edit giving the literal ``node`` (written as ``text``, see :func:`_raw_or_plain`) the value ``new``."""
    return Mutation("restore_literal", ((*idx.span(node), text[:len(text) - 1 - len(node.value)] + new + text[-1]),),
                    node, f"'{node.value}' -> '{new}' (as in {count} observation(s) or action(s))", 2.5,
                    {"count": count, "restore": (node.value, new)})


def _whole_pattern(node: ast.Constant, func: ast.AST, strings: Mapping[str, str]) -> tuple[str, int]:
    """(the string ``node`` is concatenated into with ``+``, where ``node`` starts in it) when every piece is a
    string literal or a name in ``strings``; else ``(node.value, 0)``."""
    parents = {child: parent for parent in ast.walk(func) for child in ast.iter_child_nodes(parent)}
    top: ast.AST = node
    while isinstance(parents.get(top), ast.BinOp) and isinstance(parents[top].op, ast.Add):
        top = parents[top]
    pieces: list[ast.AST] = []
    stack = [top]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add):
            stack += [n.right, n.left]
        else:
            pieces.append(n)
    text, offset = "", 0
    for piece in pieces:
        if piece is node:
            offset = len(text)
        if isinstance(piece, ast.Constant) and isinstance(piece.value, str):
            text += piece.value
        elif isinstance(piece, ast.Name) and piece.id in strings:
            text += strings[piece.id]
        else:
            return node.value, 0
    return text, offset


def module_strings(tree: ast.AST) -> dict[str, str]:
    """Module-level names bound once to a string literal (``_NAME = r"(\\w+ \\d+)"``)."""
    out: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for stmt in getattr(tree, "body", []):
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    seen[target.id] += 1
                    if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
                        out[target.id] = stmt.value.value
    return {k: v for k, v in out.items() if seen[k] == 1}


def _plain(node: ast.Constant, idx: SourceIndex) -> str | None:
    """The source text of a string literal written as its plain value in quotes, else None
    (prefixed, escaped or implicitly concatenated: not spliced as plain text)."""
    text = _raw_or_plain(node, idx)
    return text if text is not None and text[0] in "'\"" else None


def _words(func: ast.AST) -> frozenset[str]:
    """The words of ``func``'s string literals (``m.group(1) == "open"``: the word a pattern lost is often
    the one the code after it tests for)."""
    return frozenset(w for n in ast.walk(func) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                     for w in re.findall(r"[A-Za-z]+", n.value))


def _raw_or_plain(node: ast.Constant, idx: SourceIndex) -> str | None:
    """The source text of a string literal written as its value in quotes, raw (``r"..."``) or plain
    with no escapes, else None: a word spliced into its value is spliced into this text the same way."""
    text = idx.text(node)
    body = text[1:] if text[:1] in "rR" else text
    return text if len(body) >= 2 and body[0] in "'\"" and body[1:-1] == node.value else None


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_KEY_CALLS = ("get", "pop", "setdefault")


def _key_literals(tree: ast.AST) -> Iterator[ast.Constant]:
    """Identifier-like string literals in a key's place: a subscript (``b["k"]``), the first argument of
    ``get``/``pop``/``setdefault``, a dict display's key."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            places: list = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _KEY_CALLS:
            places = node.args[:1]
        elif isinstance(node, ast.Dict):
            places = [k for k in node.keys if k is not None]
        else:
            continue
        for place in places:
            if isinstance(place, ast.Constant) and isinstance(place.value, str) and _KEY.fullmatch(place.value):
                yield place


def program_keys(tree: ast.AST) -> tuple[Counter[str], Counter[str]]:
    """(how often each key is named in a key's place (:func:`_key_literals`), how often each identifier-like
    string literal occurs anywhere in the program)."""
    named = Counter(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                    and _KEY.fullmatch(n.value))
    return Counter(n.value for n in _key_literals(tree)), named


def rekey_mutations(func: ast.AST, idx: SourceIndex, keys: tuple[Counter[str], Counter[str]]) -> Iterator[Mutation]:
    """A key the program names only once (``belief.get("_guess")``: written nowhere, so it is always
    missing; ``b["_obs"] = text``: read nowhere, so the store is lost) replaced by a key it names elsewhere
    in a key's place that holds it or is held by it, or nearly spells it (``"last_guess"``): a word lost
    from a key name, or one misspelt. ``keys``: :func:`program_keys`. A literal that is no key (a word
    rendered into an observation) is left alone; a store no read can see ranks first."""
    import difflib

    in_place, named = keys
    stores = {id(n.slice) for n in ast.walk(func) if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)}
    for node in _key_literals(func):
        if named.get(node.value) != 1:
            continue
        text = _plain(node, idx)
        if text is None:
            continue
        value = node.value
        near = [k for k in in_place if k != value and len(k) >= 3 and len(value) >= 2
                and (value in k or k in value or difflib.SequenceMatcher(None, value, k).ratio() >= 0.75)]
        prior = 5.0 if id(node) in stores else 2.0
        for key in sorted(near, key=lambda k: (-in_place[k], k))[:3]:
            yield Mutation("rekey", ((*idx.span(node), text[0] + key + text[-1]),), node,
                           f"'{value}' -> '{key}' (a key named {in_place[key]} time(s) elsewhere)", prior,
                           {"count": in_place[key]})
