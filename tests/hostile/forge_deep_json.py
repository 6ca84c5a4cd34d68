"""Hostile program: forges a result frame nested 50,000 deep (a RecursionError in a naive parser)"""
import os
import struct


class Model:
    def init_belief(self):
        return {}

    def correct_belief(self, belief, obs):
        belief["obs"] = obs
        return belief

    def predict_belief(self, belief, action):
        body = b"[" * 50_000 + b"]" * 50_000
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("<Q", len(body)) + body)
            except OSError:
                pass
        return belief

    def readout_observation(self, belief, action=""):
        return belief.get("obs", "")
