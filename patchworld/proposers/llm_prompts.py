"""Prompt rendering and reply parsing for :mod:`patchworld.proposers.llm`.

Prompts are Markdown files in ``patchworld/prompts/`` with ``{{name}}`` placeholders (double
braces, so code in a prompt needs no escaping). Replies are parsed into SEARCH/REPLACE edits;
a fenced Python module is accepted as a fallback ("whole module").
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from patchworld.patches import Edit

__all__ = ["PROMPT_DIR", "load_prompt", "render", "contrastive_examples", "format_counterexamples",
           "parse_search_replace", "extract_module", "Parsed", "parse_reply", "env_description"]

PROMPT_DIR = Path(__file__).resolve().parents[1] / "prompts"
_ERRORISH = re.compile(r"\b(invalid|error|cannot|can't|could not|not |nothing|unknown|fail)", re.IGNORECASE)
_TIER = {"load_error": 0, "exception": 1, "step_timeout": 1, "timeout": 1, "empty": 2, "mismatch": 3}


def load_prompt(name: str, prompt_dir: str | Path | None = None) -> str:
    """The text of ``<prompt_dir>/<name>.md`` (the package's prompts by default)."""
    path = Path(prompt_dir or PROMPT_DIR) / f"{name}.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"prompt file missing: {path}") from exc


def render(template: str, **values: Any) -> str:
    """Fill ``{{name}}`` placeholders; an unknown placeholder left in the template is an error."""
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", str(value))
    left = re.findall(r"\{\{(\w+)\}\}", out)
    if left:
        raise KeyError(f"prompt placeholders not filled: {', '.join(sorted(set(left)))}")
    return out


def env_description(env: str) -> str:
    """The registered env's description for an LLM (a short note when the env is unknown)."""
    try:
        from patchworld.envs import spec

        return spec(env).description or f"(no description registered for {env!r})"
    except Exception as exc:  # unknown env, or an env module failing to import
        return f"(no description available for {env!r}: {exc})"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def contrastive_examples(train: Sequence[Any], k: int = 24, seed: int = 0, clip: int = 1200) -> str:
    """``k`` train transitions, round-robin over (action word, episode outcome, error-like reply, no change).

    This shows the same action type with different inputs and outputs, successes and failures,
    and the environment's error texts, rather than k copies of the most common step.
    """
    groups: dict[tuple, list[tuple[Any, int, Any]]] = {}
    for traj in train:
        for step, t in enumerate(traj.transitions):
            word = (t.action.split() or [""])[0].lower()
            key = (word, bool(traj.success), bool(_ERRORISH.search(t.next_observation)),
                   t.next_observation == t.observation, bool(t.done))
            groups.setdefault(key, []).append((traj, step, t))
    rng = random.Random(seed)
    keys = sorted(groups, key=repr)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    picked: list[tuple[Any, int, Any]] = []
    depth = 0
    while len(picked) < k and any(depth < len(groups[key]) for key in keys):
        for key in keys:
            if depth < len(groups[key]) and len(picked) < k:
                picked.append(groups[key][depth])
        depth += 1
    blocks = []
    for n, (traj, step, t) in enumerate(picked, 1):
        outcome = "succeeded" if traj.success else "failed"
        blocks.append(
            f"### Example {n} ({traj.id}#{step}, episode {outcome})\n"
            f"OBSERVATION:\n{_clip(t.observation, clip)!s}\n"
            f"ACTION: {t.action!r}\n"
            f"NEXT OBSERVATION (exact text, as a Python string): {_clip(t.next_observation, clip)!r}\n"
            f"REWARD: {t.reward}  DONE: {t.done}"
        )
    return "\n\n".join(blocks) if blocks else "(no training transitions available)"


def format_counterexamples(counterexamples: Sequence[Any], clip: int = 1500) -> str:
    """Counterexamples, most severe first (load errors, exceptions, empty, mismatches)."""
    ordered = sorted(counterexamples, key=lambda c: _TIER.get(getattr(c, "error_kind", ""), 4))
    blocks = []
    for n, cx in enumerate(ordered, 1):
        lines = [f"### Counterexample {n} ({getattr(cx, 'id', '?')}, {cx.error_kind})",
                 f"OBSERVATION BEFORE:\n{_clip(cx.observation, clip)}",
                 f"BELIEF BEFORE (summary): {_clip(cx.belief, clip // 2)}",
                 f"ACTION: {cx.action!r}",
                 f"PREDICTED: {_clip(cx.predicted, clip)!r}",
                 f"TRUE:      {_clip(cx.true, clip)!r}"]
        if cx.error:
            lines.append(f"ERROR:\n{_clip(cx.error, clip)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(none)"


_OPEN = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_MID = re.compile(r"^\s*={5,}\s*$")
_CLOSE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_search_replace(text: str) -> list[Edit]:
    """All complete SEARCH/REPLACE blocks in a reply, in order (inside code fences or not)."""
    edits: list[Edit] = []
    state, search, replace = "out", [], []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if state == "out" and _OPEN.match(bare):
            state, search, replace = "search", [], []
        elif state == "search" and _MID.match(bare):
            state = "replace"
        elif state == "search" and _OPEN.match(bare):
            search = []  # a stray second opener: restart the block
        elif state == "replace" and _CLOSE.match(bare):
            edits.append(Edit("".join(search), "".join(replace)))
            state = "out"
        elif state == "search":
            search.append(line)
        elif state == "replace":
            replace.append(line)
    return edits


def extract_module(text: str) -> str | None:
    """The largest fenced Python block that defines a class (a whole-module reply), else None."""
    blocks = [b for b in _FENCE.findall(text) if re.search(r"^class\s+\w+", b, re.MULTILINE)]
    if not blocks:
        return None
    return max(blocks, key=len).rstrip() + "\n"


@dataclass
class Parsed:
    """What a reply held: edits, or a whole module, or neither (``error`` says why)."""

    edits: list[Edit]
    module: str | None
    note: str
    error: str = ""


def parse_reply(text: str) -> Parsed:
    """Parse one reply: SEARCH/REPLACE blocks first, a whole module as the fallback."""
    note = next((ln.strip()[:160] for ln in text.splitlines()
                 if ln.strip() and not ln.lstrip().startswith(("<<<<<", "```", "=====", ">>>>>"))), "")
    edits = parse_search_replace(text)
    if edits:
        empty = [i + 1 for i, e in enumerate(edits) if not e.search.strip()]
        if empty:
            return Parsed([], None, note, f"SEARCH block {empty[0]} is empty")
        return Parsed(edits, None, note)
    module = extract_module(text)
    if module is not None:
        return Parsed([], module, note)
    if not text.strip():
        return Parsed([], None, note, "empty reply")
    return Parsed([], None, note, "no SEARCH/REPLACE block and no fenced Python module with a class")
