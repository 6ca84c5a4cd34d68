"""Hand-written Simple world model for Wordle (reasonable but imperfect).

Knows the 40-word vocabulary (read from the instruction prompt, with a built-in copy as
fallback), the feedback rule (no duplicate-letter accounting) and "invalid word". It
cannot know the hidden word, so it predicts feedback against the first vocabulary word
still consistent with the feedback so far (the env samples one at random). It ignores
the 6-attempt limit.
"""

import re

from patchworld.worldmodel_base import BaseWorldModel

_VOCAB = ("panic solar shire proxy point robot prick wince crimp knoll sugar whack mount perky could wrung light "
          "those moist shard pleat aloft skill elder frame humor pause ulcer ultra robin cynic aroma caulk shake "
          "dodge swill tacit other thorn trove").split()
_FEEDBACK = re.compile(r"^[bgy]( [bgy]){4}$")


def _feedback(guess, target):
    return "".join("g" if g == t else ("y" if g in target else "b") for g, t in zip(guess, target, strict=False))


class WordleWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        text = obs_text.strip()
        if _FEEDBACK.match(text):
            return {"kind": "feedback", "feedback": text.replace(" ", "")}
        if text == "invalid word":
            return {"kind": "invalid"}
        words = [w for w in re.findall(r"^([a-z]{5})$", obs_text, re.M)]
        return {"kind": "prompt", "vocab": words or list(_VOCAB)}

    def extract_valid_action_forms(self):
        return {"guess": [" ".join(w) for w in _VOCAB[:8]]}

    def init_belief(self):
        return {"vocab": list(_VOCAB), "history": [], "last_guess": None, "pred": ""}

    def _candidates(self, belief):
        return [v for v in belief["vocab"] if all(_feedback(w, v) == fb for w, fb in belief["history"])]

    def correct_belief(self, belief_prior, obs_text):
        parsed = self.parse_observation(obs_text)
        belief = dict(belief_prior)
        belief["history"] = list(belief_prior.get("history", []))
        if parsed["kind"] == "prompt":
            belief["vocab"] = parsed["vocab"]
        elif parsed["kind"] == "feedback" and belief.get("last_guess"):
            belief["history"].append((belief["last_guess"], parsed["feedback"]))
        belief["last_guess"] = None
        return belief

    def predict_belief(self, belief, action):
        new = dict(belief)
        word = action.strip().replace(" ", "")
        if len(word) != 5 or word not in belief["vocab"]:
            new["last_guess"], new["pred"] = None, "invalid word"
            return new
        candidates = self._candidates(belief) or belief["vocab"]
        new["last_guess"] = word
        new["pred"] = " ".join(_feedback(word, candidates[0])) + "\n"
        return new

    def predict_reward_done(self, belief, action):
        pred = self.predict_belief(belief, action)["pred"]
        return (1, True) if pred == "g g g g g\n" else (0, False)

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
