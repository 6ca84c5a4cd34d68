"""Hand-written Simple world model for BabyAI (reasonable but imperfect).

Keeps the goal, the last view description and the last action list. Exact where the
wrapper's answer depends only on that: ``check available actions``, the empty action,
unknown actions. For world-changing actions it cannot see the new view, so it repeats
the last description, updating only what it can infer: after ``pickup X`` the carried
object; an action that achieves the goal's verb on the goal's object (go to / pick up /
open) is predicted to complete the task.
"""

import json
import re

from patchworld.worldmodel_base import BaseWorldModel

_AL = "\nAvailable actions: "
_DONE = "\n The task is completed."


def _parse_goal(goal):
    m = re.search(r"(go to|pick up|open)\s+(?:the|a)\s+(?:(red|green|blue|purple|yellow|grey)\s+)?(\w+)", goal or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None


class BabyAIWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        text, actions = obs_text, None
        if _AL in obs_text:
            text, tail = obs_text.rsplit(_AL, 1)
            try:
                actions = json.loads(tail)
            except ValueError:
                actions = None
        goal = None
        if text.startswith("Your goal: "):
            goal, _, text = text.partition("\n")
            goal = goal[len("Your goal: "):]
        completed = text.endswith(_DONE)
        if completed:
            text = text[: -len(_DONE)]
        is_view = "The room has walls around you." in text
        return {"goal": goal, "description": text if is_view else None, "actions": actions, "completed": completed}

    def extract_valid_action_forms(self):
        return {"basic": ["turn left", "turn right", "move forward", "check available actions"]}

    def init_belief(self):
        return {"goal": "", "description": "", "actions": [], "pred": "", "completed": False}

    def correct_belief(self, belief_prior, obs_text):
        parsed = self.parse_observation(obs_text)
        belief = dict(belief_prior)
        if parsed["goal"] is not None:
            belief["goal"] = parsed["goal"]
        if parsed["description"] is not None:
            belief["description"] = parsed["description"]
        if parsed["actions"] is not None:
            belief["actions"] = parsed["actions"]
        belief["completed"] = parsed["completed"]
        return belief

    def _achieves(self, belief, action):
        target = _parse_goal(belief.get("goal", ""))
        if target is None:
            return False
        verb, colour, kind = target
        words = action.split()
        if colour and colour not in words or kind not in words:
            return False
        if verb == "go to":
            return action.startswith("go to ")
        if verb == "pick up":
            return action.startswith("pickup ")
        return action == "toggle" or action.startswith("toggle and go through")

    def predict_belief(self, belief, action):
        new = dict(belief)
        a = action.lower().strip()
        actions = belief.get("actions", [])
        desc = belief.get("description", "")
        new["completed"] = False
        if "check" in a:
            new["pred"] = "You can take the following actions: " + ", ".join(actions)
        elif not a:
            new["pred"] = "No change in state."
        elif a not in actions:
            new["pred"] = "The action is not recognized. Please check valid actions."
        else:
            m = re.match(r"pickup (\w+) (\w+) (\d+)$", a)
            if m:
                desc = re.sub(r"You are not carrying anything\.$", f"You are carrying a {m.group(1)} {m.group(2)}.", desc)
                desc = desc.replace(f"There is a {m.group(1)} {m.group(2)} {m.group(3)} ", "", 1)
                new["actions"] = [x for x in actions if not x.startswith("pickup ")]
            new["description"] = desc
            new["completed"] = self._achieves(belief, a)
            new["pred"] = desc + (_DONE if new["completed"] else "")
        return new

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return (0.9, True) if nxt["completed"] else (0, False)

    def readout_observation(self, belief, action=""):
        if not belief.get("pred"):
            return ""
        return belief["pred"] + _AL + "[" + ", ".join(json.dumps(x) for x in belief.get("actions", [])) + "]"
