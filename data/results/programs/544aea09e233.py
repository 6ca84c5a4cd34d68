"""Reference world model: always the most frequent train next observation (patchworld.baselines)."""

_MOST_FREQUENT = 'Instruction: [SEP] Find me shock absorption phone cases with wireless charging with color: black, and style: iphone 13, and price lower than 60.00 dollars [SEP] Back to Search [SEP] < Prev [SEP] color [SEP] black [SEP] clear [SEP] blue [SEP] pink [SEP] style [SEP] iphone 13 [SEP] iphone 14 [SEP] galaxy s22 [SEP] Pavona Protective Phone Case with Kickstand [SEP] Price: $29.49 [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now'


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
