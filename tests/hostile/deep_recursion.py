"""Hostile program: unbounded recursion"""
def _down(n):
    return _down(n + 1) + 1

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
        pass
        belief["obs"] = obs
        return belief

    def predict_belief(self, belief, action):
        _down(0)
        return belief

    def readout_observation(self, belief, action=""):
        pass
        return belief.get("obs", "")
