"""Learns from the validation labels: remembers every true observation it is shown (after its own
prediction, as the lockstep allows) under (previous observation, action), in a module-level table that
outlives the trajectory, and answers from it when another trajectory reaches the same state.
Appended to the flawed maze program by tests/test_integrity.py."""

_SEEN = {}


class MemoCheat(MazeWorldModel):  # noqa: F821  (defined by the program this is appended to)
    def correct_belief(self, belief, obs):
        prev = getattr(self, "_last", None)
        if prev is not None:
            _SEEN[prev] = obs
        self._obs = obs
        return super().correct_belief(belief, obs)

    def predict_belief(self, belief, action):
        self._last = (getattr(self, "_obs", ""), action)
        return super().predict_belief(belief, action)

    def readout_observation(self, belief, action=""):
        honest = super().readout_observation(belief, action)
        return _SEEN.get(getattr(self, "_last", None), honest)
