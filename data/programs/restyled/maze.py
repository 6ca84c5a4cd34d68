"""Maze world model written in another style: a wall table built once, explicit direction branches."""

import re

from patchworld.worldmodel_base import BaseWorldModel

ROWS = """
1111111111111
1000001000001
1110111110111
1110111110111
1110111110111
1110000000111
1111110111111
1111110111111
1111110111111
1111111111111
""".split()

GOAL_ROW, GOAL_COL = 8, 6
LIMIT = 50
NEIGHBOURS = (("to your right", 0, 1), ("to your left", 0, -1), ("above you", -1, 0), ("below you", 1, 0))
POS_RE = re.compile(r"position is at position (\d+), (\d+)")


def is_open(r, c):
    if r < 0 or r >= len(ROWS) or c < 0 or c >= len(ROWS[0]):
        return False
    return ROWS[r][c] == "0"


def step(r, c, action):
    dr = dc = 0
    if action == "move up":
        dr = -1
    elif action == "move down":
        dr = 1
    elif action == "move left":
        dc = -1
    elif action == "move right":
        dc = 1
    if is_open(r + dr, c + dc):
        return r + dr, c + dc
    return r, c


def describe_walls(r, c):
    near = []
    for text, dr, dc in NEIGHBOURS:
        if not is_open(r + dr, c + dc):
            near.append(text)
    if len(near) == 0:
        return "There are no walls near you."
    if len(near) == 1:
        return "There is a wall %s." % near[0]
    return "There are walls %s." % ", ".join(near)


class AltMaze(BaseWorldModel):
    def init_belief(self):
        return {"r": None, "c": None, "t": 0, "end": None}

    def parse_observation(self, obs):
        m = None
        for m in POS_RE.finditer(obs):
            pass
        if m is None:
            return None
        return int(m.group(1)), int(m.group(2))

    def correct_belief(self, belief, obs):
        b = dict(belief)
        pos = self.parse_observation(obs)
        if pos:
            b["r"], b["c"] = pos
            b["end"] = None
        else:
            word = obs.strip()
            if word == "Success" or word == "Failure":
                b["end"] = word
        return b

    def predict_belief(self, belief, action):
        b = dict(belief)
        if b["t"] >= LIMIT:
            b["end"] = "Failure"
            return b
        b["r"], b["c"] = step(b["r"], b["c"], action)
        if b["r"] == GOAL_ROW and b["c"] == GOAL_COL:
            b["end"] = "Success"
        else:
            b["end"] = None
            b["t"] += 1
        return b

    def readout_observation(self, belief, action=""):
        if belief["end"]:
            return belief["end"] + "\n"
        if belief["r"] is None:
            return ""
        r, c = belief["r"], belief["c"]
        head = "The goal is at position %d, %d. " % (GOAL_ROW, GOAL_COL)
        return head + "Your current position is at position %d, %d. " % (r, c) + describe_walls(r, c)

    def predict_reward_done(self, belief, action):
        if belief["end"] == "Success":
            return 1.0, True
        if belief["end"] == "Failure":
            return -1.0, True
        return 0, False

    def extract_valid_action_forms(self):
        return {"move <direction>": ["move up", "move down", "move left", "move right"]}
