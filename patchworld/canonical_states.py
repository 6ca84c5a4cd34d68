"""Canonical per-env state records and their best-effort coercions, as the reference names them.

Programs written for the PatchWorld reference may import ``MazeState``, ``WordleState``,
``TextcraftState``, ``WebshopState``, the ``coerce_*`` functions, ``canonicalize_maze_walls``,
``render_maze_observation``, ``belief_diagnostics`` and ``belief_supports_latent_inference``
from ``patchworld.worldmodel_base``; this module provides them (written for this workbench,
behaving as the reference's helpers do) so such programs load unchanged. It is imported inside
sandbox workers: standard library only, no I/O.

Every ``coerce_*`` takes whatever a program parsed or predicted (usually a dict) and returns the
canonical record, or ``None`` when the value carries nothing the record could hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAZE_DIRECTIONS", "MazeState", "WordleState", "TextcraftState", "WebshopState",
    "canonicalize_maze_walls", "coerce_maze_state", "render_maze_observation", "coerce_wordle_state",
    "coerce_textcraft_state", "coerce_webshop_state", "belief_diagnostics", "belief_supports_latent_inference",
]

MAZE_DIRECTIONS: tuple[str, ...] = ("up", "down", "left", "right")
_WALL_WORDS = {"up": "up", "above": "up", "above you": "up", "down": "down", "below": "down", "below you": "down",
               "left": "left", "to your left": "left", "right": "right", "to your right": "right"}
_WALL_TEXT = {"up": "above you", "down": "below you", "left": "to your left", "right": "to your right"}
_ASIN_RE = re.compile(r"B0[A-Z0-9]{8}")


@dataclass(frozen=True)
class MazeState:
    """Maze position, goal, the walls around the agent (canonical order), status and raw text."""

    agent_x: int | None = None
    agent_y: int | None = None
    goal_x: int | None = None
    goal_y: int | None = None
    local_walls: tuple[str, ...] = ()
    status: str = ""
    obs_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; ``status`` and ``obs_text`` only when set."""
        out: dict[str, Any] = {"agent_x": self.agent_x, "agent_y": self.agent_y, "goal_x": self.goal_x,
                               "goal_y": self.goal_y, "local_walls": self.local_walls}
        out.update({k: v for k, v in (("status", self.status), ("obs_text", self.obs_text)) if v})
        return out


@dataclass(frozen=True)
class WordleState:
    """Guesses and feedback so far, the latest feedback, how many candidate words remain, status."""

    guess_history: tuple[str, ...] = ()
    feedback_history: tuple[str, ...] = ()
    current_feedback: tuple[str, ...] = ()
    candidate_count: int | None = None
    status: str = ""


@dataclass(frozen=True)
class TextcraftState:
    """Inventory as sorted (item, count) pairs, the goal item, the last outcome, recipe count."""

    inventory: tuple[tuple[str, int], ...] = ()
    goal_item: str | None = None
    last_action_outcome: str = ""
    recipe_count: int | None = None


@dataclass(frozen=True)
class WebshopState:
    """Page type, results page number, chosen options, product ASIN, whether the purchase is done."""

    page_type: str = ""
    current_page_number: int | None = None
    selected_filters: tuple[tuple[str, str], ...] = ()
    asin: str = ""
    goal_completed: bool = False


def _wall(value: Any) -> str | None:
    if isinstance(value, str):
        return _WALL_WORDS.get(value.strip().lower())
    if isinstance(value, tuple) and value and isinstance(value[-1], str):
        return _wall(value[-1])
    return None


def canonicalize_maze_walls(value: Any) -> tuple[str, ...]:
    """Wall directions named in ``value`` (dict keys, a collection, or one item), in up/down/left/right order."""
    if value is None:
        items: Iterable[Any] = ()
    elif isinstance(value, dict):
        items = value.keys()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        items = (value,)
    found = {_wall(item) for item in items}
    return tuple(d for d in MAZE_DIRECTIONS if d in found)


def _int_or_none(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def coerce_maze_state(value: Any) -> MazeState | None:
    """A :class:`MazeState` from a parsed dict (``agent_x``/``agent_y``... or a success status)."""
    if isinstance(value, MazeState):
        return value
    if not isinstance(value, dict):
        return None
    status = str(value.get("status", "") or "").strip().lower()
    if status == "success":
        return MazeState(status="success", obs_text=str(value.get("obs_text", "") or ""))
    if str(value.get("raw_text", "") or "").strip() == "Success":
        return MazeState(status="success", obs_text="Success")
    if "agent_x" not in value and "agent_y" not in value:
        return None
    return MazeState(
        agent_x=_int_or_none(value.get("agent_x")), agent_y=_int_or_none(value.get("agent_y")),
        goal_x=_int_or_none(value.get("goal_x")), goal_y=_int_or_none(value.get("goal_y")),
        local_walls=canonicalize_maze_walls(value.get("local_walls", value.get("walls"))),
        status=status, obs_text=str(value.get("obs_text", "") or value.get("raw_text", "") or ""),
    )


def render_maze_observation(state: MazeState) -> str:
    """The maze observation text a :class:`MazeState` implies (raw text when positions are unknown)."""
    if state.status == "success":
        return "Success"
    if None in (state.agent_x, state.agent_y, state.goal_x, state.goal_y):
        return state.obs_text or ""
    text = (f"The goal is at position {state.goal_x}, {state.goal_y}. "
            f"Your current position is at position {state.agent_x}, {state.agent_y}.")
    walls = [_WALL_TEXT[d] for d in state.local_walls]
    if not walls:
        return text
    if len(walls) == 1:
        return f"{text} There is a wall {walls[0]}."
    return f"{text} There are walls {', '.join(walls)}."


def _wordle_guess(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    spaced = " ".join(value.strip().lower().split())
    if re.fullmatch(r"[a-z](?: [a-z]){4}", spaced):
        return spaced
    letters = "".join(ch for ch in spaced if ch.isalpha())
    return " ".join(letters) if len(letters) == 5 else None


def _wordle_feedback(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple)):
        marks = tuple(str(item).strip().lower() for item in value)
        if len(marks) == 5 and set(marks) <= {"b", "y", "g"}:
            return marks
    if isinstance(value, str):
        spaced = " ".join(value.strip().lower().split())
        if re.fullmatch(r"[byg](?: [byg]){4}", spaced):
            return tuple(spaced.split(" "))
    return None


def _sequence(raw: Any) -> Iterable[Any]:
    if isinstance(raw, set):
        return sorted(raw)
    return raw if isinstance(raw, (list, tuple)) else ()


def coerce_wordle_state(value: Any) -> WordleState | None:
    """A :class:`WordleState` from a parsed dict (guess/feedback histories, candidates, flags)."""
    if not isinstance(value, dict):
        return None
    guesses = tuple(g for g in map(_wordle_guess, _sequence(value.get("guess_history", ()))) if g is not None)
    feedback = tuple(" ".join(f) for f in map(_wordle_feedback, _sequence(value.get("feedback_history", ())))
                     if f is not None)
    current = _wordle_feedback(value.get("feedback_letters") or value.get("current_feedback")
                               or value.get("raw_text")) or ()
    candidates = value.get("possible_words", value.get("candidate_words"))
    count = len(candidates) if isinstance(candidates, (set, list, tuple, dict)) else None
    if value.get("is_solved") is True or current == ("g",) * 5:
        status = "solved"
    elif value.get("is_invalid") is True or str(value.get("raw_text", "")).strip().lower() == "invalid word":
        status = "invalid"
    elif value.get("is_welcome") is True:
        status = "welcome"
    else:
        status = "feedback" if current else ""
    if not (guesses or feedback or current or count is not None or status):
        return None
    return WordleState(guesses, feedback, current, count, status)


def coerce_textcraft_state(value: Any) -> TextcraftState | None:
    """A :class:`TextcraftState` from a parsed dict (inventory, goal item, last outcome, recipes)."""
    if not isinstance(value, dict):
        return None
    inventory: list[tuple[str, int]] = []
    raw_inventory = value.get("inventory", {})
    if isinstance(raw_inventory, dict):
        for key, raw_count in sorted(raw_inventory.items(), key=lambda kv: str(kv[0]).strip().lower()):
            count = _int_or_none(raw_count)
            if count is not None:
                inventory.append((str(key).strip().lower(), count))
    goal = value.get("goal_item")
    goal = (str(goal).strip().lower() or None) if goal is not None else None
    outcome = str(value.get("last_action_outcome", "") or "").strip().lower()
    recipes = value.get("crafting_recipes")
    recipe_count = len(recipes) if isinstance(recipes, (list, tuple, set)) else None
    if not (inventory or goal or outcome or recipe_count is not None):
        return None
    return TextcraftState(tuple(inventory), goal, outcome, recipe_count)


def _webshop_sections(value: dict) -> tuple[str, ...]:
    raw = value.get("sections")
    if isinstance(raw, (list, tuple)):
        return tuple(str(s).strip() for s in raw if str(s).strip())
    text = str(value.get("raw_observation", "") or value.get("obs_text", "") or value.get("raw_text", "") or "")
    return tuple(s.strip() for s in text.split("[SEP]") if s.strip())


_PAGE_ALIASES = {"search_page": "search", "search": "search", "results_page": "results", "search_results": "results",
                 "results": "results", "product_page": "product", "product_detail": "product", "product": "product",
                 "filter_options": "filter_options", "purchase_complete": "purchase_complete",
                 "thank_you": "purchase_complete"}


def _webshop_page_type(value: dict, sections: tuple[str, ...]) -> str:
    raw = str(value.get("page_type", "") or value.get("type", "") or value.get("page", "") or "").strip().lower()
    if raw in _PAGE_ALIASES:
        return _PAGE_ALIASES[raw]
    lowered = {s.lower() for s in sections}
    if any("thank you for shopping with us" in s for s in lowered):
        return "purchase_complete"
    if {"webshop", "search"} <= lowered and "back to search" not in lowered:
        return "search"
    if lowered & {"description", "features", "reviews", "buy now"}:
        return "product"
    if "back to search" in lowered or any(s.startswith("page ") for s in lowered):
        return "results"
    return raw


def _webshop_page_number(value: dict, sections: tuple[str, ...]) -> int | None:
    number = _int_or_none(value.get("current_page_number", value.get("page_number")))
    if number is not None:
        return number
    for section in sections:
        match = re.search(r"\bPage\s+(\d+)\b", section, flags=re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def _asin(raw: Any) -> str:
    token = str(raw or "").strip().upper()
    return token if _ASIN_RE.fullmatch(token) else ""


def _webshop_asin(value: dict, sections: tuple[str, ...], page_type: str) -> str:
    direct = [value.get(k) for k in ("asin", "active_asin", "purchased_item", "purchased_asin")]
    for holder in ("product_details", "cart"):
        if isinstance(value.get(holder), dict):
            direct.append(value[holder].get("asin", ""))
    for raw in direct:
        if _asin(raw):
            return _asin(raw)
    if page_type not in {"product", "purchase_complete"}:
        return ""
    content = value.get("page_content", ())
    for raw in list(content if isinstance(content, (list, tuple)) else ()) + list(sections):
        if _asin(raw):
            return _asin(raw)
    return ""


def coerce_webshop_state(value: Any) -> WebshopState | None:
    """A :class:`WebshopState` from a parsed dict (page type, page number, options, ASIN, done)."""
    if not isinstance(value, dict):
        return None
    sections = _webshop_sections(value)
    page_type = _webshop_page_type(value, sections)
    number = _webshop_page_number(value, sections)
    raw_filters = value.get("selected_filters")
    filters = tuple((str(k).strip().lower(), str(v).strip().lower())
                    for k, v in sorted(raw_filters.items(), key=lambda kv: str(kv[0]).strip().lower())
                    ) if isinstance(raw_filters, dict) else ()
    asin = _webshop_asin(value, sections, page_type)
    done = bool(value.get("goal_completed", False) or page_type == "purchase_complete")
    if not (page_type or number is not None or filters or asin or done):
        return None
    return WebshopState(page_type, number, filters, asin, done)


_LATENT_KEYS = frozenset({
    "possible_words", "candidate_words", "candidate_set", "candidate_probs", "candidate_probabilities",
    "hypotheses", "weighted_hypotheses", "belief_state", "belief_distribution", "unknown_objects",
    "unseen_locations", "unopened_containers", "unexamined_entities", "hidden_state", "selected_filters",
    "latents", "latent_variables", "frontier", "facts", "epistemic_facts", "epistemic_status", "posterior",
    "probabilities", "weights", "object_location_beliefs", "location_beliefs", "container_content_beliefs",
    "content_priors",
})


def _mappings(belief: Any, seen: set[int], depth: int = 0) -> Iterator[dict]:
    if depth > 50 or id(belief) in seen:
        return
    if isinstance(belief, dict):
        seen.add(id(belief))
        yield belief
        for value in belief.values():
            yield from _mappings(value, seen, depth + 1)
    elif isinstance(belief, (list, tuple, set, frozenset)):
        for item in belief:
            yield from _mappings(item, seen, depth + 1)
    else:
        for attr in ("metadata", "__dict__"):
            inner = getattr(belief, attr, None)
            if isinstance(inner, dict):
                yield from _mappings(inner, seen, depth + 1)


def belief_diagnostics(belief: Any) -> dict[str, Any]:
    """Whether a belief tracks hidden state: latent-looking keys found, candidates and hypotheses counted."""
    out: dict[str, Any] = {"candidate_count": 0, "hypothesis_count": 0, "latent_signal_count": 0,
                           "resolved_status_count": 0, "tracks_latent_state": False, "signals": []}
    for mapping in _mappings(belief, set()):
        for key in _LATENT_KEYS & {k for k in mapping if isinstance(k, str)}:
            value = mapping[key]
            out["signals"].append(key)
            out["latent_signal_count"] += 1
            out["tracks_latent_state"] = True
            if isinstance(value, (set, list, tuple, dict)):
                out["candidate_count"] += len(value)
            elif hasattr(value, "__dict__"):
                out["candidate_count"] += 1
            if key == "epistemic_status" and isinstance(value, dict):
                for status in value.values():
                    raw = getattr(status, "value", status)
                    if isinstance(raw, str) and raw.strip().lower() not in {"", "unknown", "unobserved", "default",
                                                                            "none"}:
                        out["resolved_status_count"] += 1
        hypotheses = mapping.get("hypotheses")
        if isinstance(hypotheses, (list, tuple, set, dict)):
            out["hypothesis_count"] += len(hypotheses)
            out["tracks_latent_state"] = out["tracks_latent_state"] or bool(hypotheses)
    out["signals"] = sorted(set(out["signals"]))
    return out


def belief_supports_latent_inference(belief: Any, env_name: str = "") -> bool:
    """True when the belief tracks hidden state (or for maze, whose state is fully observed)."""
    return belief_diagnostics(belief)["tracks_latent_state"] or (env_name or "").strip().lower() == "maze"
