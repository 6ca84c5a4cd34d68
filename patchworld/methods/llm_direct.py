"""LLM-Direct baseline: the LLM itself is the world model, asked once per transition.

As in the seed's comparison: no program is induced; at every step the LLM gets the recent history
(the last ``history`` observations and actions), the current observation and action, and ``k``
train transitions retrieved as examples (the most similar (observation, action) pairs by token
overlap, with the same action kind first), and writes the next observation. Cost: one LLM call per
transition replayed (RQ1, RQ2) and per candidate action scored (RQ3); every call is cached on disk
like the proposer's, so a rerun costs nothing.

It is trusted workbench code that needs the network, so it runs in this process
(``replay(..., sandbox=False)``), never in the sandbox; :func:`llm_direct_program` wraps it as a
:class:`~patchworld.program.Program` whose source only names the env, the train file and the
settings, so it goes through the same replay, planning and results as any program.

Faithful: a prompted LLM predicting the next observation from history and retrieved examples.
Simplified: retrieval by token overlap (no embedding model can be fetched here); the reply is
taken verbatim after stripping a code fence or an ``Observation:`` prefix.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from patchworld.data import Trajectory, load_trajectories
from patchworld.program import Program

__all__ = ["LLMDirectModel", "llm_direct_program", "retrieve", "SYSTEM_PROMPT", "clean_prediction", "reply_budget"]

SYSTEM_PROMPT = (
    "You are the simulator of a text environment. Given the recent history, the current observation and the "
    "agent's action, write exactly the next observation the environment prints: the same wording and format as "
    "in the examples, and nothing else (no explanation, no quotes)."
)
_WORD = re.compile(r"[A-Za-z]+|\d+")


def _tokens(text: str) -> Counter:
    return Counter(w.lower() for w in _WORD.findall(text))


def _kind(action: str) -> str:
    return " ".join(re.sub(r"\d+", "#", action).split()[:2])


@lru_cache(maxsize=8)
def _train(path: str) -> tuple[Trajectory, ...]:
    return tuple(load_trajectories(path))


@lru_cache(maxsize=8)
def reply_budget(path: str) -> int:
    """Tokens a prediction may use: twice the longest train next observation (~3 characters a token),
    between 32 and 1024; a reply longer than any observation ever seen is no use, and small models ramble."""
    longest = max((len(t.next_observation) for traj in _train(path) for t in traj.transitions), default=300)
    return max(32, min(1024, 2 * longest // 3))


def retrieve(train: Sequence[Trajectory], observation: str, action: str, k: int) -> list[Any]:
    """The ``k`` train transitions most like (observation, action): same action kind first, then token overlap."""
    query = _tokens(observation[-800:]) + _tokens(action) + _tokens(action)
    kind = _kind(action)
    scored = []
    for ti, traj in enumerate(train):
        for si, t in enumerate(traj.transitions):
            overlap = sum((query & (_tokens(t.observation[-800:]) + _tokens(t.action) + _tokens(t.action))).values())
            scored.append((_kind(t.action) == kind, overlap, -ti, -si, t))
    scored.sort(key=lambda row: row[:4], reverse=True)
    return [row[4] for row in scored[:k]]


def clean_prediction(reply: str) -> str:
    """The observation in a reply: a fenced block's body, or the text after an ``Observation:`` label."""
    fence = re.search(r"```[a-zA-Z]*\n(.*?)```", reply, flags=re.DOTALL)
    text = fence.group(1) if fence else reply
    text = re.sub(r"^\s*(next observation|observation)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.strip("\n")


class LLMDirectModel:
    """A world model whose ``predict_belief`` asks the LLM (set the class attributes in a subclass)."""

    ENV = ""
    TRAIN = ""
    K = 4
    HISTORY = 3
    CACHE_DIR: str | None = None
    chat: Any = None  # a CachedChat; built from the environment on first use when None

    def _chat(self) -> Any:
        if type(self).chat is None:
            from patchworld.methods.llm_access import llm_from_env

            type(self).chat = llm_from_env(self.CACHE_DIR)
        return type(self).chat

    def parse_observation(self, obs: str) -> str:
        return obs

    def extract_valid_action_forms(self) -> list[str]:
        return sorted({_kind(t.action) for traj in _train(self.TRAIN) for t in traj.transitions})

    def init_belief(self) -> dict:
        return {"history": [], "obs": "", "pred": ""}

    def correct_belief(self, belief: dict, obs: str) -> dict:
        history = list(belief.get("history", []))
        if belief.get("action"):
            history = (history + [[belief.get("obs", ""), belief["action"]]])[-self.HISTORY:]
        return {"history": history, "obs": obs, "pred": belief.get("pred", "")}

    def predict_belief(self, belief: dict, action: str) -> dict:
        obs = belief.get("obs", "")
        examples = retrieve(_train(self.TRAIN), obs, action, self.K)
        shown = "\n\n".join(f"Observation:\n{t.observation[-700:]}\nAction: {t.action}\nNext observation:\n"
                            f"{t.next_observation[:700]}" for t in examples)
        past = "\n".join(f"Observation: {o[-300:]}\nAction: {a}" for o, a in belief.get("history", []))
        user = (f"Environment: {self.ENV}\n\nExamples from the environment:\n\n{shown}\n\n"
                f"Recent history:\n{past or '(start of the episode)'}\n\nCurrent observation:\n{obs[-1500:]}\n"
                f"Action: {action}\nNext observation:")
        prediction = clean_prediction(self._chat().ask(SYSTEM_PROMPT, user, max_tokens=reply_budget(self.TRAIN)))
        return {**belief, "action": action, "pred": prediction}

    def readout_observation(self, belief: dict, action: str = "") -> str:
        return belief.get("pred", "")


def llm_direct_program(env: str, train_path: str, k: int = 4, history: int = 3,
                       cache_dir: str | None = None) -> Program:
    """LLM-Direct as a trusted in-process program (replay it with ``sandbox=False``)."""
    source = (f'"""LLM-Direct world model for {env}: the LLM predicts every next observation '
              f'(patchworld.methods.llm_direct)."""\n'
              "from patchworld.methods.llm_direct import LLMDirectModel\n\n\n"
              "class LLMDirectWorldModel(LLMDirectModel):\n"
              f"    ENV = {env!r}\n    TRAIN = {str(train_path)!r}\n    K = {int(k)}\n    HISTORY = {int(history)}\n"
              f"    CACHE_DIR = {cache_dir!r}\n")
    return Program.from_source(source, origin=f"baseline:llm-direct:{env}", label="LLM-Direct")
