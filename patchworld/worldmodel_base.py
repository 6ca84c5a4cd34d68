"""The world-model interface, compatible with programs written for the PatchWorld reference.

A world-model program is a Python module defining one class with the methods below.
Programs may subclass :class:`BaseWorldModel` (``from patchworld.worldmodel_base import
BaseWorldModel``) or just define the methods. The belief is any Python value the program
chooses; spatial models often use :class:`GraphState`, others a plain dict.

The canonical predict/correct loop (what replay runs)::

    b = correct_belief(init_belief(), first_observation)
    b_prior = predict_belief(b, action)
    o_hat = readout_observation(b_prior, action)
    b = correct_belief(b_prior, next_observation)      # teacher-forced; rollout uses o_hat

This module is written for this workbench; it stays tiny and dependency-free because it
is imported inside sandbox workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from patchworld.canonical_states import (  # noqa: F401  (re-exported for programs written for the reference)
    MAZE_DIRECTIONS,
    MazeState,
    TextcraftState,
    WebshopState,
    WordleState,
    belief_diagnostics,
    belief_supports_latent_inference,
    canonicalize_maze_walls,
    coerce_maze_state,
    coerce_textcraft_state,
    coerce_webshop_state,
    coerce_wordle_state,
    render_maze_observation,
)

__all__ = ["BaseWorldModel", "GraphState", "BeliefHypothesis", "INTERFACE_METHODS", "MAZE_DIRECTIONS", "MazeState",
           "WordleState", "TextcraftState", "WebshopState", "canonicalize_maze_walls", "coerce_maze_state",
           "render_maze_observation", "coerce_wordle_state", "coerce_textcraft_state", "coerce_webshop_state",
           "belief_diagnostics", "belief_supports_latent_inference"]

INTERFACE_METHODS: tuple[str, ...] = (
    "parse_observation",
    "extract_valid_action_forms",
    "init_belief",
    "correct_belief",
    "predict_belief",
    "readout_observation",
)
"""The methods a world-model class provides (``predict_reward_done`` is optional)."""


@dataclass
class GraphState:
    """A graph belief for spatial worlds.

    ``nodes`` maps an entity id to its attributes, ``edges`` holds ``(source, relation,
    target)`` triples, ``metadata`` keeps task-level facts (goal, inventory, position...).
    """

    nodes: dict[str, dict] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BeliefHypothesis:
    """One weighted guess about the hidden world, for partially observed environments."""

    hypothesis_id: str
    description: str = ""
    weight: float = 1.0
    payload: dict[str, Any] = field(default_factory=dict)


class BaseWorldModel:
    """Base class for world-model programs.

    Subclasses implement ``parse_observation``, ``extract_valid_action_forms``,
    ``predict_belief``, ``correct_belief`` and ``readout_observation``; ``init_belief``
    defaults to an empty dict. The observation is usually partial evidence, so a good
    model keeps a belief over hidden variables rather than copying the text.
    """

    def parse_observation(self, obs_text: str) -> dict:
        """Structured evidence read from one observation text."""
        raise NotImplementedError("parse_observation is not implemented")

    def extract_valid_action_forms(self) -> dict[str, list[str]] | list[str]:
        """Known action templates: a dict of form -> example actions, or a list."""
        raise NotImplementedError("extract_valid_action_forms is not implemented")

    def init_belief(self) -> Any:
        """The empty belief before any observation."""
        return {}

    def init_belief_from_observation(self, obs_text: str) -> Any:
        """The belief after the first observation: ``correct_belief(init_belief(), obs)``."""
        belief = self.init_belief()
        corrected = self.correct_belief(belief, obs_text)
        return belief if corrected is None else corrected

    def predict_belief(self, belief: Any, action: str) -> Any:
        """The prior belief after taking ``action`` (before seeing its observation)."""
        raise NotImplementedError("predict_belief is not implemented")

    def correct_belief(self, belief_prior: Any, obs_text: str) -> Any:
        """The belief after reconciling the prior with an observation."""
        raise NotImplementedError("correct_belief is not implemented")

    def readout_observation(self, belief: Any, action: str = "") -> str:
        """The observation text the belief implies (what the environment would print)."""
        raise NotImplementedError("readout_observation is not implemented")

    # Convenience wrappers kept for programs and callers written against older interfaces.
    def transition(self, belief: Any, action: str) -> Any:
        """Alias of :meth:`predict_belief`."""
        return self.predict_belief(belief, action)

    def predict_next(self, state: Any, action: str) -> Any:
        """Alias of :meth:`predict_belief`."""
        return self.predict_belief(state, action)

    def predict_observation(self, belief: Any, action: str) -> str:
        """Predict then read out: the observation expected after ``action``."""
        return self.readout_observation(self.predict_belief(belief, action), action)
