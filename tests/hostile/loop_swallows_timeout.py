"""Hostile program: an infinite loop that swallows every exception (the test also disables the per-call timer), so only the wall clock stops it"""
import re


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
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
        return belief

    def readout_observation(self, belief, action=""):
        pass
        return belief.get("obs", "")
