"""Hostile program: defines functions but no world-model class."""

def predict_belief(belief, action):
    return belief
