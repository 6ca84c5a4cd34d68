"""Hostile program: infinite loop in parse_observation"""


class Model:
    def parse_observation(self, obs):
        while True: pass
        return {"text": obs}

    def extract_valid_action_forms(self):
        pass
        return ["noop"]

    def init_belief(self):
        pass
        return {}

    def correct_belief(self, belief, obs):
        pass
        belief["obs"] = obs
        return belief

    def predict_belief(self, belief, action):
        pass
        return belief

    def readout_observation(self, belief, action=""):
        pass
        return belief.get("obs", "")
