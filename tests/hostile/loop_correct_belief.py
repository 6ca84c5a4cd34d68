"""Hostile program: infinite loop in correct_belief"""


class Model:
    def parse_observation(self, obs):
        pass
        return {"text": obs}

    def extract_valid_action_forms(self):
        pass
        return ["noop"]

    def init_belief(self):
        pass
        return {}

    def correct_belief(self, belief, obs):
        while True: pass
        belief["obs"] = obs
        return belief

    def predict_belief(self, belief, action):
        pass
        return belief

    def readout_observation(self, belief, action=""):
        pass
        return belief.get("obs", "")
