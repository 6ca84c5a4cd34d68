"""Hand-written Simple world model for the maze (reasonable but imperfect).

Tracks the position read from the last observation and moves it with the action, unless
the current observation says a wall is in that direction. The wall sentence of a cell is
remembered once seen; for a cell never seen it guesses from the map it has learnt so far
(unknown neighbours count as walls). It knows the goal cell and the Success text, but not
the 50-step Failure rule.
"""

import re

from patchworld.worldmodel_base import BaseWorldModel

_POS = re.compile(r"Your current position is at position (-?\d+), (-?\d+)\.")
_GOAL = re.compile(r"The goal is at position (-?\d+), (-?\d+)\.")
_MOVES = {"move up": (-1, 0), "move down": (1, 0), "move left": (0, -1), "move right": (0, 1)}
_PHRASES = (("to your right", (0, 1)), ("to your left", (0, -1)), ("above you", (-1, 0)), ("below you", (1, 0)))


class MazeWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        found = _POS.findall(obs_text)
        goal = _GOAL.findall(obs_text)
        walls_text = obs_text.rsplit(". ", 1)[-1] if found else ""
        return {
            "position": (int(found[-1][0]), int(found[-1][1])) if found else None,
            "goal": (int(goal[-1][0]), int(goal[-1][1])) if goal else (8, 6),
            "walls": tuple(p for p, _ in _PHRASES if p in walls_text),
            "success": obs_text.strip() == "Success",
        }

    def extract_valid_action_forms(self):
        return {"move": list(_MOVES)}

    def init_belief(self):
        return {"position": None, "goal": (8, 6), "seen": {}, "done": False}

    def correct_belief(self, belief_prior, obs_text):
        parsed = self.parse_observation(obs_text)
        belief = dict(belief_prior)
        belief["seen"] = dict(belief_prior.get("seen", {}))
        if parsed["success"]:
            belief["position"], belief["done"] = belief.get("goal", (8, 6)), True
            return belief
        if parsed["position"] is not None:
            belief["position"] = parsed["position"]
            belief["goal"] = parsed["goal"]
            belief["seen"][parsed["position"]] = parsed["walls"]
        return belief

    def predict_belief(self, belief, action):
        new = dict(belief)
        pos = belief.get("position")
        if pos is None or action not in _MOVES:
            return new
        walls = belief.get("seen", {}).get(pos, ())
        delta = _MOVES[action]
        blocked = any(delta == d and p in walls for p, d in _PHRASES)
        if not blocked:
            new["position"] = (pos[0] + delta[0], pos[1] + delta[1])
        new["done"] = new["position"] == belief.get("goal", (8, 6))
        return new

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return (1.0, True) if nxt.get("done") else (0, False)

    def readout_observation(self, belief, action=""):
        pos = belief.get("position")
        if pos is None:
            return ""
        if belief.get("done"):
            return "Success\n"
        goal = belief.get("goal", (8, 6))
        seen = belief.get("seen", {})
        walls = seen.get(pos)
        if walls is None:  # unseen cell: a neighbour is open only if we have seen it
            walls = tuple(p for p, d in _PHRASES if (pos[0] + d[0], pos[1] + d[1]) not in seen)
        if not walls:
            wall_text = "There are no walls near you."
        elif len(walls) == 1:
            wall_text = f"There is a wall {walls[0]}."
        else:
            wall_text = "There are walls " + ", ".join(walls) + "."
        return (f"The goal is at position {goal[0]}, {goal[1]}. "
                f"Your current position is at position {pos[0]}, {pos[1]}. {wall_text}")
