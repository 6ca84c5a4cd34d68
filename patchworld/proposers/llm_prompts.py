"""Prompt rendering for :mod:`patchworld.proposers.llm` (reply parsing lives in :mod:`.llm_edits`).

Prompts are Markdown files in ``patchworld/prompts/`` with ``{{name}}`` placeholders (double
braces, so code in a prompt needs no escaping): ``patch.md``, ``initial_program.md``,
``reask.md``, ``initial_retry.md``, ``system.md``, one answer format per edit format
(``format_<name>.md``, with a worked example) and per-environment rules for a programmer in
``envs/<env>.md`` (what is latent, the observation format, what not to invent). Patch prompts
also carry a frequency table of the failures (error kind x action type) beside the chosen
counterexamples.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patchworld.proposers.llm_edits import Parsed, extract_module, parse_reply, parse_search_replace
from patchworld.redact import redact

__all__ = ["PROMPT_DIR", "load_prompt", "render", "contrastive_examples", "format_counterexamples",
           "parse_search_replace", "extract_module", "Parsed", "parse_reply", "env_description", "env_guidance",
           "failure_table", "answer_format", "text_difference", "EDIT_FORMATS", "ENVS_WITH_GUIDANCE",
           "patch_prompt", "initial_prompt", "chat_messages"]

EDIT_FORMATS = ("search_replace", "udiff", "whole")
"""Answer formats a prompt can ask for (``format_<name>.md``); any reply format is parsed whatever was asked."""
ENVS_WITH_GUIDANCE = ("maze", "wordle", "textcraft", "babyai", "sciworld", "alfworld", "webshop")

PROMPT_DIR = Path(__file__).resolve().parents[1] / "prompts"
_ERRORISH = re.compile(r"\b(invalid|error|cannot|can't|could not|not |nothing|unknown|fail)", re.IGNORECASE)
_TIER = {"load_error": 0, "exception": 1, "step_timeout": 1, "timeout": 1, "empty": 2, "mismatch": 3}


def load_prompt(name: str, prompt_dir: str | Path | None = None) -> str:
    """The text of ``<prompt_dir>/<name>.md`` (or ``<name>`` when it has a suffix; the package's prompts by default)."""
    path = Path(prompt_dir or PROMPT_DIR) / (name if "." in name else f"{name}.md")
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


def text_difference(predicted: str, true: str, limit: int = 3) -> str:
    """Where a prediction differs from the true text, word by word: ``'6, 8.' should be '8, 6.'; ...``."""
    import difflib

    a, b = predicted.split(" "), true.split(" ")
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        got, want = _clip(" ".join(a[i1:i2]), 120), _clip(" ".join(b[j1:j2]), 120)
        if op == "insert":
            parts.append(f"missing {want!r}" if want else "a missing space")
        elif op == "delete":
            parts.append(f"extra {got!r}" if got else "an extra space")
        else:
            parts.append(f"{got!r} should be {want!r}")
    if not parts:
        return "whitespace only" if predicted != true else ""
    more = f"; ... ({len(parts) - limit} more)" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


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
        if cx.error_kind == "mismatch" and cx.predicted:
            lines.append(f"DIFFERENCE: {text_difference(cx.predicted, cx.true)}")
        if cx.error:
            lines.append(f"ERROR:\n{_clip(cx.error, clip)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(none)"


def env_guidance(env: str, prompt_dir: str | Path | None = None) -> str:
    """The env's rules for a programmer (``envs/<env>.md``); a generic note for an env without one."""
    path = Path(prompt_dir or PROMPT_DIR) / "envs" / f"{env}.md"
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ("- No rules are written for this environment: infer the observation templates from the examples, "
                "keep hidden state in the belief, and do not invent text the examples never show.")


def answer_format(name: str, prompt_dir: str | Path | None = None) -> str:
    """The answer-format section for edit format ``name`` (one of :data:`EDIT_FORMATS`)."""
    if name not in EDIT_FORMATS:
        raise ValueError(f"unknown edit format {name!r}: expected one of {', '.join(EDIT_FORMATS)}")
    return load_prompt(f"format_{name}", prompt_dir).strip()


def failure_table(source: Any, limit: int = 12) -> str:
    """Failures counted by (error kind, action type) as a Markdown table, most frequent first.

    ``source`` is a replay (anything with ``counterexamples()``) or a sequence of counterexamples.
    """
    items = source.counterexamples() if hasattr(source, "counterexamples") else list(source or ())
    counts: dict[tuple[str, str], int] = {}
    for cx in items:
        words = str(getattr(cx, "action", "")).split()
        key = (str(getattr(cx, "error_kind", "") or "?"), words[0].lower() if words else "(empty)")
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "(no failures)"
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = ["| error kind | action type | count |", "| --- | --- | --- |"]
    lines += [f"| {kind} | {action} | {n} |" for (kind, action), n in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"| (other) | ({len(rows) - limit} more groups) | {sum(n for _, n in rows[limit:])} |")
    return "\n".join(lines)


def chat_messages(prompt: str, prompt_dir: Path | None = None) -> list[dict[str, str]]:
    """The system prompt and ``prompt`` as chat messages, the user text redacted of anything key-shaped."""
    return [{"role": "system", "content": load_prompt("system", prompt_dir).strip()},
            {"role": "user", "content": redact(prompt)}]


def patch_prompt(request: Any, edit_format: str, prompt_dir: Path | None = None) -> str:
    """The rendered patch prompt for a :class:`~patchworld.proposers.base.ProposalRequest`: the failure
    table over the parent's whole val replay when the request carries it, else over its counterexamples."""
    replay = getattr(request, "replay", None)
    table = failure_table(replay if replay is not None else request.counterexamples)
    if replay is None:
        table += f"\n\n(counted over the {len(request.counterexamples)} counterexamples below)"
    return render(load_prompt("patch", prompt_dir), env=request.env,
                  description=env_description(request.env), guidance=env_guidance(request.env, prompt_dir),
                  program=request.program.source.rstrip("\n"), program_hash=request.program.hash,
                  failure_table=table, format=answer_format(edit_format, prompt_dir),
                  counterexamples=format_counterexamples(request.counterexamples))


def initial_prompt(env: str, train: Sequence[Any], n_examples: int, seed: int = 0,
                   prompt_dir: Path | None = None) -> str:
    """The rendered initial-program prompt with ``n_examples`` contrastive train examples."""
    return render(load_prompt("initial_program", prompt_dir), env=env, description=env_description(env),
                  guidance=env_guidance(env, prompt_dir), examples=contrastive_examples(train, k=n_examples, seed=seed))
