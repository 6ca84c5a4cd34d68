"""Wordle world model in another style: explicit loops, a filter over the word list, a status field."""

import re

from patchworld.worldmodel_base import BaseWorldModel

WORDS = ("panic solar shire proxy point robot prick wince crimp knoll sugar whack mount perky could wrung light "
         "those moist shard pleat aloft skill elder frame humor pause ulcer ultra robin cynic aroma caulk shake "
         "dodge swill tacit other thorn trove").split()
LINE = re.compile(r"^[bgy]( [bgy]){4}$")


def score(guess, hidden):
    out = []
    for i in range(5):
        if guess[i] == hidden[i]:
            out.append("g")
        elif guess[i] in hidden:
            out.append("y")
        else:
            out.append("b")
    return "".join(out)


def consistent(words, history):
    keep = []
    for w in words:
        ok = True
        for guess, fb in history:
            if score(guess, w) != fb:
                ok = False
                break
        if ok:
            keep.append(w)
    return keep


class WordleAlt(BaseWorldModel):
    def init_belief(self):
        return {"words": list(WORDS), "seen": [], "guess": "", "out": ""}

    def parse_observation(self, obs):
        t = obs.strip()
        if LINE.match(t):
            return ("feedback", t.replace(" ", ""))
        if t == "invalid word":
            return ("invalid", None)
        listed = re.findall(r"^([a-z]{5})$", obs, re.M)
        return ("prompt", listed if listed else list(WORDS))

    def correct_belief(self, belief, obs):
        kind, value = self.parse_observation(obs)
        b = dict(belief)
        b["seen"] = list(belief["seen"])
        if kind == "prompt":
            b["words"] = value
        if kind == "feedback" and belief["guess"]:
            b["seen"].append((belief["guess"], value))
        b["guess"] = ""
        return b

    def predict_belief(self, belief, action):
        b = dict(belief)
        word = "".join(action.split())
        if len(word) != 5 or word not in belief["words"]:
            b["guess"] = ""
            b["out"] = "invalid word"
            return b
        left = consistent(belief["words"], belief["seen"])
        if not left:
            left = belief["words"]
        b["guess"] = word
        b["out"] = " ".join(score(word, left[0])) + "\n"
        return b

    def readout_observation(self, belief, action=""):
        return belief["out"]

    def predict_reward_done(self, belief, action):
        if self.predict_belief(belief, action)["out"] == "g g g g g\n":
            return 1, True
        return 0, False

    def extract_valid_action_forms(self):
        return {"guess": [" ".join(w) for w in WORDS[:8]]}
