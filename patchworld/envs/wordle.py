"""LMRL-Gym's Wordle as served by AgentGym (``/wordle/``), re-implemented exactly.

Spec: ``shared/envspecs/wordle.md``. A 40-word vocabulary, 6 attempts, guesses written as
space-separated letters (``"s h i r e"``).

Seeding: the task id is the reset seed. ``reset(seed)`` creates ``random.Random(seed)``; the
hidden word is not drawn at reset but re-sampled at every *valid* guess with exactly one
``rng.choice(candidates)`` over the vocabulary words consistent with all earlier feedback
(in vocabulary order). Invalid guesses draw nothing. So ``reset(seed)`` plus the same
actions always reproduce the same episode, and match the original server for that seed.

Return values (Gymnasium style):

* ``reset(task) -> str``: the first observation as the AgentGym client shows it: the
  instruction prompt with the vocabulary filled in (``instruction_prompt_rendered.txt``).
  The client never shows the server's ``"Let's start Wordle!"``; ``client_prompt=False``
  returns that bare server string instead. Any integer seed is valid; ``tasks`` is 0-999.
* ``step(action) -> Step``: the action is normalised like the server does (strip, delete
  every ``' '``); a valid guess (one of the 40 lower-case words) gives the feedback
  ``"x x x x x\\n"`` (x in b/y/g, no duplicate-letter accounting) with int reward ``1`` if
  solved else ``0``; anything else gives ``"invalid word"`` with float reward ``0.0`` and
  still uses an attempt. ``done`` when solved or after the 6th attempt. Stepping a finished
  episode raises ``EnvError("The task with environment {env_id} has finished.")``.
* ``progress(task, observation) -> float``: share of ``g`` letters in a feedback line
  (``1.0`` for ``"g g g g g\\n"``, i.e. solved); ``0.0`` for any other text.
* ``goal_score(goal, observation) -> float`` (static, text only, what planners use): a feedback
  line scores ``(greens + yellows / 2) / 5`` (``1.0`` when solved); any other text ``0.0``.
  The goal text (the instruction prompt) carries nothing per task, so it is not read.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from pathlib import Path

from patchworld.envs.base import EnvError, Step, register

__all__ = ["WordleEnv", "DATA_DIR", "MAX_ATTEMPTS", "N_TASKS", "expert", "feedback", "conversation_start", "vocabulary"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "wordle"
MAX_ATTEMPTS = 6
N_TASKS = 1000
RESET_OBSERVATION = "Let's start Wordle!"
_FEEDBACK_RE = re.compile(r"[bgy]( [bgy]){4}")
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """The 40 words in file order (each line stripped, kept if exactly 5 characters)."""
    lines = (DATA_DIR / "words.txt").read_text(encoding="utf-8").split("\n")
    return tuple(w for w in (line.strip() for line in lines) if len(w) == 5)


@lru_cache(maxsize=1)
def instruction_prompt() -> str:
    """The client's first observation: the template with ``{{vocab}}`` = the words joined by newlines."""
    template = (DATA_DIR / "instruction_prompt_template.txt").read_text(encoding="utf-8")
    return template.replace("{{vocab}}", "\n".join(vocabulary()))


def conversation_start() -> list[dict[str, str]]:
    """The two fixed chat turns AgentGym puts before the first observation."""
    return json.loads((DATA_DIR / "conversation_start.json").read_text(encoding="utf-8"))


def feedback(guess: str, target: str) -> str:
    """Per position ``g`` (same letter), ``y`` (letter anywhere in target) or ``b``; no duplicate accounting."""
    return "".join("g" if g == t else ("y" if g in target else "b") for g, t in zip(guess, target, strict=True))


def normalise(action: str) -> str:
    """The server's action-to-word rule: strip surrounding whitespace, delete every ASCII space."""
    return action.strip().replace(" ", "")


def spaced(word: str) -> str:
    """``"panic"`` -> ``"p a n i c"`` (the action format the prompt asks for)."""
    return " ".join(word)


class WordleEnv:
    """Wordle (AgentGym ``wordle``); task id = reset seed, ``tasks`` = 0..999.

    First observation: with ``client_prompt=True`` (default) ``reset`` returns the rendered
    instruction prompt (what the AgentGym client shows); ``server_observation`` holds the
    last raw server string (``"Let's start Wordle!"`` after reset). ``env_id`` is the
    server-side id quoted in the "has finished" error (0 like the recordings).
    """

    name = "wordle"

    def __init__(self, client_prompt: bool = True, env_id: int = 0) -> None:
        self.client_prompt = client_prompt
        self.env_id = env_id
        self.task: int | None = None
        self.rng: random.Random | None = None
        self.attempts = 0
        self.history: list[tuple[str, str]] = []
        self.done = False
        self.solved = False
        self.server_observation = ""

    @property
    def tasks(self) -> list[int]:
        """Seeds 0..999 (any integer is accepted by ``reset``)."""
        return list(range(N_TASKS))

    def reset(self, task: int) -> str:
        """Start the game seeded with ``task``; returns the first observation."""
        if not isinstance(task, int) or isinstance(task, bool):
            raise EnvError(f"wordle task must be an integer seed, got {task!r}")
        self.task, self.rng = task, random.Random(task)
        self.attempts, self.history, self.done, self.solved = 0, [], False, False
        self.server_observation = RESET_OBSERVATION
        return instruction_prompt() if self.client_prompt else RESET_OBSERVATION

    def candidates(self) -> list[str]:
        """Vocabulary words consistent with all feedback so far (the server's ``filtered_vocab``)."""
        return [v for v in vocabulary() if all(feedback(w, v) == fb for w, fb in self.history)]

    def step(self, action: str) -> Step:
        """Apply one guess; see the module docstring for observations, rewards and errors."""
        if self.rng is None:
            raise EnvError("call reset(task) before step()")
        if self.done:
            raise EnvError(f"The task with environment {self.env_id} has finished.")
        self.attempts += 1
        word = normalise(action)
        reward: float
        if len(word) == 5 and set(word) <= _LOWER and word in vocabulary():
            target = self.rng.choice(self.candidates())
            fb = feedback(word, target)
            self.history.append((word, fb))
            self.solved = word == target
            observation, reward = " ".join(fb) + "\n", (1 if self.solved else 0)
        else:
            observation, reward = "invalid word", 0.0
        self.done = self.solved or self.attempts == MAX_ATTEMPTS
        self.server_observation = observation
        return Step(observation, reward, self.done, {"attempt": self.attempts})

    def available_actions(self) -> list[str]:
        """Every vocabulary word in the space-separated form (all are accepted guesses): the words the first
        observation lists, so the agent has seen them (the server exposes no action list, and the
        candidates consistent with the feedback, its ``filtered_vocab``, are not offered)."""
        return [spaced(w) for w in vocabulary()]

    def is_success(self) -> bool:
        """Whether the hidden word has been guessed."""
        return self.solved

    def progress(self, task: int, observation: str) -> float:
        """Share of green letters in a feedback line (1.0 = solved); 0.0 for other text."""
        text = observation.strip()
        if not _FEEDBACK_RE.fullmatch(text):
            return 0.0
        return text.count("g") / 5

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only value of a (predicted) feedback line: ``(g + y/2) / 5``; 0.0 for other text."""
        text = observation.strip()
        if not _FEEDBACK_RE.fullmatch(text):
            return 0.0
        return (text.count("g") + text.count("y") / 2) / 5

    def clone(self) -> WordleEnv:
        """An independent copy in the same state (its own generator and history)."""
        other = WordleEnv(self.client_prompt, self.env_id)
        other.__dict__.update(self.__dict__)
        other.history = list(self.history)
        if self.rng is not None:
            other.rng = random.Random()
            other.rng.setstate(self.rng.getstate())
        return other


def expert(env: WordleEnv) -> str:
    """Guess the first vocabulary word consistent with all feedback so far (space-separated).

    The hidden word is always drawn from those candidates, so the list is never empty
    and a lone candidate always wins.
    """
    remaining = env.candidates()
    return spaced(remaining[0] if remaining else vocabulary()[0])


DESCRIPTION = (
    "Wordle (LMRL-Gym via AgentGym): guess a hidden 5-letter word from a fixed 40-word vocabulary in at most 6 "
    "attempts. Vocabulary (in order): " + " ".join(vocabulary()) + ". An action is a guess written as five "
    "lower-case letters separated by single spaces, e.g. 's h i r e' (the server strips the ends and deletes all "
    "spaces, so 'shire' also works). A valid guess is answered with five space-separated feedback letters and a "
    "newline, e.g. 'b y g g b\\n': 'g' = right letter in the right place, 'y' = the letter occurs somewhere in the "
    "hidden word (every copy of a present letter is y or g; no duplicate-letter accounting), 'b' = the letter is "
    "absent. Any input that is not one of the 40 words (upper case, unknown or misspelled words) is answered with "
    "'invalid word' (no newline, reward 0.0) and still uses up an attempt. The hidden word is re-sampled at every "
    "valid guess from the words consistent with all earlier feedback, so feedback is always consistent. Guessing "
    "the word returns 'g g g g g\\n' with reward 1 and ends the episode; other steps give reward 0; the episode "
    "also ends after the 6th attempt. The first observation is the game's instruction prompt listing the vocabulary."
)


register("wordle", WordleEnv, expert=expert, description=DESCRIPTION)
