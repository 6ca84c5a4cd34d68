"""Reference world model: always the most frequent train next observation (patchworld.baselines)."""

_MOST_FREQUENT = 'The door is now open.'


class MostFrequentWorldModel:

    def parse_observation(self, obs):
        return obs

    def init_belief(self):
        return {"obs": "", "pred": ""}

    def correct_belief(self, belief, obs):
        return {"obs": obs, "pred": belief.get("pred", "")}

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")

    def extract_valid_action_forms(self):
        return []

    def predict_belief(self, belief, action):
        return {"obs": belief.get("obs", ""), "pred": _MOST_FREQUENT}
