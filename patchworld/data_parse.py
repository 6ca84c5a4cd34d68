"""Reading one line of a trajectory file: strict where the data is unreadable, lenient where the
reference's loader is.

The PatchWorld reference loads files that differ from the canonical format in small ways:
``done`` as ``0``/``1``, numbers written as strings, integral floats as indices, ``null`` where a
default is obvious, a record without ``metadata`` (older files with an ``environment`` key). Such
values are coerced the way the reference coerces them, and every coercion is recorded (kind,
line, field) so the loader can warn once per file. Two deliberate differences, both stricter
than ``bool(value)``: the strings ``"false"``/``"0"``/``"no"`` mean false (the reference's
``bool("false")`` is true), and a string that is not a number or a boolean is an error.

What cannot be read is a :class:`~patchworld.data.TrajectoryFormatError` naming file, line and
field: undecodable bytes, invalid JSON (including nesting too deep and integers too long), a
record that is not an object, a lone UTF-16 surrogate (with its character position).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Coercions", "parse_record", "decode_line", "FormatProblem"]

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_TRUE = frozenset({"true", "1", "yes", "1.0"})
_FALSE = frozenset({"false", "0", "no", "0.0", ""})


class FormatProblem(ValueError):
    """A value that cannot be read: ``field`` names it, the message says why."""

    def __init__(self, field_name: str, problem: str):
        super().__init__(problem)
        self.field = field_name
        self.problem = problem


@dataclass
class Coercions:
    """What was coerced in one file: kind -> (count, first line, first field)."""

    seen: dict[str, list] = field(default_factory=dict)

    def add(self, kind: str, line: int, field_name: str) -> None:
        entry = self.seen.setdefault(kind, [0, line, field_name])
        entry[0] += 1

    def __bool__(self) -> bool:
        return bool(self.seen)

    def describe(self) -> str:
        """One phrase per kind: ``done given as 0/1 -> bool (12 values, first at line 1, transitions[0].done)``."""
        return "; ".join(f"{kind} ({n} value{'s' * (n != 1)}, first at line {line}, {where})"
                         for kind, (n, line, where) in self.seen.items())


def decode_line(raw: bytes) -> str:
    """The line as text; undecodable bytes are a :class:`FormatProblem` naming the byte offset."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatProblem("<encoding>", f"invalid UTF-8 at byte {exc.start} ({raw[exc.start:exc.start + 4]!r})") \
            from None


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg   # "Invalid control character at"
        raise FormatProblem("<json>", f"invalid JSON: {msg} at column {exc.colno}") from None
    except RecursionError:
        raise FormatProblem("<json>", "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise FormatProblem("<json>", f"invalid JSON: {str(exc).splitlines()[0][:120]}") from None


def _check_surrogates(value: Any, where: str) -> None:
    if isinstance(value, str):
        for i, ch in enumerate(value):
            if "\ud800" <= ch <= "\udfff":
                raise FormatProblem(where, f"lone UTF-16 surrogate {ascii(ch)} at character {i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_surrogates(key, where)
            _check_surrogates(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_surrogates(item, f"{where}[{i}]")


def _as_text(value: Any, where: str, note: Callable[[str, str], None]) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        note("null text -> \"\"", where)
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        note("number given for text -> str", where)
        return str(value)
    raise FormatProblem(where, f"expected str, got {type(value).__name__} {value!r:.60}")


def _as_bool(value: Any, where: str, note: Callable[[str, str], None], default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        note(f"null flag -> {default}", where)
        return default
    if isinstance(value, (int, float)):
        note("flag given as a number -> bool", where)
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        note("flag given as a string -> bool", where)
        return value.strip().lower() in _TRUE
    raise FormatProblem(where, f"expected bool, got {type(value).__name__} {value!r:.60}")


def _as_number(value: Any, where: str, note: Callable[[str, str], None]) -> int | float:
    if isinstance(value, bool):
        note("bool given for a number -> float", where)
        return float(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise FormatProblem(where, f"expected a finite number, got {value!r}")
        return value
    if value is None:
        note("null number -> 0.0", where)
        return 0.0
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise FormatProblem(where, f"expected a number, got str {value!r:.60}") from None
        if math.isfinite(number):
            note("number given as a string -> float", where)
            return number
    raise FormatProblem(where, f"expected a number, got {type(value).__name__} {value!r:.60}")


def _as_index(value: Any, where: str, note: Callable[[str, str], None], default: int) -> int:
    if isinstance(value, bool):
        raise FormatProblem(where, f"expected int, got bool {value!r}")
    if isinstance(value, int):
        return value
    if value is None:
        note(f"null index -> {default}", where)
        return default
    number = _as_number(value, where, lambda kind, w: None) if isinstance(value, (str, float)) else None
    if number is None:
        raise FormatProblem(where, f"expected int, got {type(value).__name__} {value!r:.60}")
    note("index given as a float or string -> int (truncated, as int() does)", where)
    return int(number)


def parse_record(text: str, line: int, env_hint: str, split_hint: str, coercions: Coercions) -> dict[str, Any]:
    """One trajectory record as plain canonical values: ``{"metadata": {...}, "transitions": [...], "extra": {...}}``.

    ``env_hint``/``split_hint`` (from the file name ``<env>_traj_<split>.jsonl``, may be empty)
    fill a missing ``metadata``. Raises :class:`FormatProblem` for what cannot be read.
    """
    record = _load_json(text)
    if _SURROGATE_ESCAPE.search(text):
        _check_surrogates(record, "")
    if not isinstance(record, dict):
        raise FormatProblem("<record>", f"expected an object, got {type(record).__name__}")

    def note(kind: str, where: str) -> None:
        coercions.add(kind, line, where)

    raw_transitions = record.get("transitions")
    if raw_transitions is None:
        note("missing transitions -> []", "transitions")
        raw_transitions = []
    if not isinstance(raw_transitions, list):
        raise FormatProblem("transitions", f"expected a list, got {type(raw_transitions).__name__}")
    transitions = []
    for i, raw in enumerate(raw_transitions):
        where = f"transitions[{i}]"
        if not isinstance(raw, dict):
            raise FormatProblem(where, f"expected an object, got {type(raw).__name__}")
        for name in ("observation", "action", "next_observation", "reward", "done"):
            if name not in raw:
                note(f"missing {name} -> default", f"{where}.{name}")
        transitions.append({
            "observation": _as_text(raw.get("observation", ""), f"{where}.observation", note),
            "action": _as_text(raw.get("action", ""), f"{where}.action", note),
            "next_observation": _as_text(raw.get("next_observation", ""), f"{where}.next_observation", note),
            "reward": _as_number(raw.get("reward", 0.0), f"{where}.reward", note),
            "done": _as_bool(raw.get("done", False), f"{where}.done", note),
        })

    meta = record.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise FormatProblem("metadata", f"expected an object, got {type(meta).__name__}")
    if not meta:
        env = record.get("environment") or env_hint
        note("no metadata -> env from 'environment' or the file name, task_idx -1, split from the file name",
             "metadata")
        meta = {"env": env if isinstance(env, str) else str(env), "item_id": "", "task_idx": -1, "rollout_index": 0,
                "split": split_hint or "train", "success": False,
                "total_reward": sum(float(t["reward"]) for t in transitions)}
    defaults = {"env": env_hint, "item_id": "", "task_idx": -1, "rollout_index": 0, "split": split_hint or "train",
                "success": False, "total_reward": 0.0}
    for name in defaults:
        if name not in meta:
            note(f"missing metadata.{name} -> default", f"metadata.{name}")
    item_id = meta.get("item_id", "")
    if item_id is None:
        note("null item_id -> \"\"", "metadata.item_id")
        item_id = ""
    elif not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        note("item_id of another type -> str", "metadata.item_id")
        item_id = str(item_id)
    canonical = {
        "env": _as_text(meta.get("env", defaults["env"]), "metadata.env", note),
        "item_id": item_id,
        "task_idx": _as_index(meta.get("task_idx", -1), "metadata.task_idx", note, -1),
        "rollout_index": _as_index(meta.get("rollout_index", 0), "metadata.rollout_index", note, 0),
        "split": _as_text(meta.get("split", defaults["split"]), "metadata.split", note) or defaults["split"],
        "success": _as_bool(meta.get("success", False), "metadata.success", note),
        "total_reward": _as_number(meta.get("total_reward", 0.0), "metadata.total_reward", note),
    }
    extra = {k: v for k, v in meta.items() if k not in defaults}
    return {"metadata": canonical, "transitions": transitions, "extra": extra}
