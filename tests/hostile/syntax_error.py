"""Hostile program: a syntax error on line 4."""

class Model:
    def predict_belief(self, belief, action)
        return belief
