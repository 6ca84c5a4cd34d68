"""Wordle world model: a starting program for repair demos (labels: data/programs/README.md)."""

from collections import Counter

from patchworld.worldmodel_base import BaseWorldModel

VOCAB = (
    "panic solar shire proxy point robot prick wince crimp knoll sugar whack mount perky could "
    "wrung light those moist shard pleat aloft skill elder frame humor pause ulcer ultra robin "
    "cynic aroma caulk shake dodge swill tacit other thorn trove"
).split()


def feedback(guess, target):
    """The feedback letters (g, y or b) of ``guess`` against ``target``."""
    letters = []
    for i in range(5):
        if guess[i] == target[i]:
            letters.append("g")
        elif guess[i] in target:
            letters.append("y")
        else:
            letters.append("b")
    return " ".join(letters)


def candidates(history):
    return [word for word in VOCAB if all(feedback(guess, word) == fb for guess, fb in history)]


class WordleWorldModel(BaseWorldModel):
    def parse_observation(self, obs):
        text = obs.strip()
        if text == "invalid word":
            return {"kind": "invalid"}
        parts = text.split(" ")
        if len(parts) == 5 and all(p in ("b", "y", "g") for p in parts):
            return {"kind": "feedback", "feedback": text}
        return {"kind": "other"}

    def init_belief(self):
        return {"history": [], "pending": None, "prediction": ""}

    def correct_belief(self, belief, obs):
        new = dict(belief)
        parsed = self.parse_observation(obs)
        if parsed["kind"] == "feedback" and new.get("pending"):
            new["history"] = list(new["history"]) + [(new["pending"], parsed["feedback"])]
        new["pending"] = None
        return new

    def predict_belief(self, belief, action):
        new = dict(belief)
        word = action.strip().replace(" ", "")
        if word not in VOCAB:
            new["pending"] = None
            new["prediction"] = "invalid word"
            return new
        pool = candidates(new["history"]) or list(VOCAB)
        counts = Counter(feedback(word, target) for target in pool)
        best = max(counts.values())
        pattern = next(feedback(word, t) for t in pool if counts[feedback(word, t)] == best)
        new["pending"] = word
        new["prediction"] = pattern + "\n"
        return new

    def readout_observation(self, belief, action=""):
        return belief.get("prediction", "")

    def predict_reward_done(self, belief, action):
        solved = belief.get("prediction", "").strip() == "g g g g g"
        return (1 if solved else 0), solved

    def extract_valid_action_forms(self):
        return {"<l> <l> <l> <l> <l>": [" ".join(word) for word in VOCAB]}
