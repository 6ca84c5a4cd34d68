"""Hostile program: writes a frame header announcing 1 TB on every descriptor it can reach"""
import os
import struct


class Model:
    def init_belief(self):
        return {}

    def correct_belief(self, belief, obs):
        belief["obs"] = obs
        return belief

    def predict_belief(self, belief, action):
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("<Q", 1 << 40) + b"[" * 65536)
            except OSError:
                pass
        return belief

    def readout_observation(self, belief, action=""):
        return belief.get("obs", "")
