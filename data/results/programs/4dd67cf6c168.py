"""Maze world model: the starting program of the maze demo (labels: data/programs/README.md)."""

import re

from patchworld.worldmodel_base import BaseWorldModel

GRID = [
    "1111111111111",
    "1000001000001",
    "1110111110111",
    "1110111110111",
    "1110111110111",
    "1110000000111",
    "1111110111111",
    "1111110111111",
    "1111110111111",
    "1111111111111",
]
GOAL = (8, 6)
MAX_STEPS = 50
MOVES = {"move up": (-1, 0), "move down": (1, 0), "move left": (0, -1), "move right": (0, 1)}
WALL_CHECKS = [("to your right", 0, 1), ("to your left", 0, -1), ("above you", -1, 0), ("below you", 1, 0)]
POSITION = re.compile(r"Your current position is at position (\d+), (\d+)\.")


class MazeWorldModel(BaseWorldModel):
    def parse_observation(self, obs):
        found = POSITION.findall(obs)
        if not found:
            return None
        row, col = found[-1]
        return {"position": (int(row), int(col))}

    def init_belief(self):
        return {"position": None, "steps": 0, "status": ""}

    def correct_belief(self, belief, obs):
        new = dict(belief)
        parsed = self.parse_observation(obs)
        if parsed is not None:
            new["position"] = parsed["position"]
            new["status"] = ""
        elif obs.strip() in ("Success", "Failure"):
            new["status"] = obs.strip()
        return new

    def predict_belief(self, belief, action):
        new = dict(belief)
        if new["steps"] >= MAX_STEPS:
            new["status"] = "Failure"
            return new
        row, col = new["position"]
        next_row, next_col = row, col
        if action in MOVES:
            next_row, next_col = row + MOVES[action][0], col + MOVES[action][1]
        if GRID[next_row][next_col] == "0":
            row, col = next_row, next_col
        new["position"] = (row, col)
        if (row, col) == GOAL:
            new["status"] = "Success"
        else:
            new["status"] = ""
            new["steps"] = new["steps"] + 1
        return new

    def readout_observation(self, belief, action=""):
        if belief["status"]:
            return belief["status"] + "\n"
        if belief["position"] is None:
            return ""
        row, col = belief["position"]
        walls = [phrase for phrase, d_row, d_col in WALL_CHECKS if GRID[row + d_row][col + d_col] == "1"]
        if not walls:
            wall_text = "There are no walls near you."
        elif len(walls) == 1:
            wall_text = "There is a wall " + walls[0] + "."
        else:
            wall_text = "There are walls " + ", ".join(walls) + "."
        return f"The goal is at position {GOAL[0]}, {GOAL[1]}. Your current position is at position {row}, {col}. {wall_text}"

    def predict_reward_done(self, belief, action):
        if belief["status"] == "Success":
            return 1.0, True
        if belief["status"] == "Failure":
            return -1.0, True
        return 0, False

    def extract_valid_action_forms(self):
        return {"move <direction>": list(MOVES)}
