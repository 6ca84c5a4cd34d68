"""Hostile program: two world-model classes"""


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
        pass
        return belief

    def readout_observation(self, belief, action=""):
        pass
        return belief.get("obs", "")


class OtherModel(Model.__mro__[0].__base__):
    def predict_belief(self, b, a):
        return b

    def correct_belief(self, b, o):
        return b

    def readout_observation(self, b, a=''):
        return ''
