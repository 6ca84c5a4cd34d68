"""A benign control program in the reference style: a maze world model that remembers walls."""
import re

from patchworld.worldmodel_base import BaseWorldModel, GraphState

_POS = re.compile(r"goal is at position (\d+), (\d+)\. Your current position is at position (\d+), (\d+)\.")
_MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
_WALL_TEXT = {"to your left": "left", "to your right": "right", "above you": "up", "below you": "down"}


class MazeWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        m = _POS.search(obs_text)
        if not m:
            return {"raw_text": obs_text}
        walls = [d for text, d in _WALL_TEXT.items() if text in obs_text]
        order = [t for t in re.findall(r"to your left|to your right|above you|below you", obs_text)]
        return {"goal": (int(m[1]), int(m[2])), "pos": (int(m[3]), int(m[4])), "walls": walls, "order": order}

    def extract_valid_action_forms(self):
        return {"move <direction>": ["move up", "move down", "move left", "move right"]}

    def init_belief(self):
        return GraphState(metadata={"goal": None, "pos": None, "walls": {}, "order": {}})

    def correct_belief(self, belief, obs_text):
        parsed = self.parse_observation(obs_text)
        if "pos" in parsed:
            belief.metadata["goal"], belief.metadata["pos"] = parsed["goal"], parsed["pos"]
            belief.metadata["walls"][parsed["pos"]] = parsed["walls"]
            belief.metadata["order"][parsed["pos"]] = parsed["order"]
        return belief

    def predict_belief(self, belief, action):
        meta = belief.metadata
        direction = action.split()[-1] if action.split() else ""
        if meta["pos"] is None or direction not in _MOVES:
            return belief
        if direction in meta["walls"].get(meta["pos"], []):
            return belief
        dr, dc = _MOVES[direction]
        meta["pos"] = (meta["pos"][0] + dr, meta["pos"][1] + dc)
        return belief

    def readout_observation(self, belief, action=""):
        meta = belief.metadata
        if meta["pos"] is None:
            return ""
        if meta["pos"] == meta["goal"]:
            return "Success"
        text = (f"The goal is at position {meta['goal'][0]}, {meta['goal'][1]}. "
                f"Your current position is at position {meta['pos'][0]}, {meta['pos'][1]}.")
        order = meta["order"].get(meta["pos"], [])
        if len(order) == 1:
            text += f" There is a wall {order[0]}."
        elif order:
            text += " There are walls " + ", ".join(order) + "."
        return text
