"""BabyAI world model: a restyled rewrite of the hand-written program."""

import json
import re

from patchworld.worldmodel_base import BaseWorldModel

ACTIONS_HEADER = "\nAvailable actions: "
COMPLETED = "\n The task is completed."
GOAL_HEADER = "Your goal: "
GOAL_PATTERN = re.compile(r"(go to|pick up|open)\s+(?:the|a)\s+(?:(red|green|blue|purple|yellow|grey)\s+)?(\w+)")
PICKUP = re.compile(r"pickup (\w+) (\w+) (\d+)$")
EMPTY_HANDS = re.compile(r"You are not carrying anything\.$")
VERB_PREFIX = {"go to": "go to ", "pick up": "pickup "}


class Goal:
    """The first go-to / pick-up / open clause of a mission: verb, optional colour, object kind."""

    def __init__(self, text):
        self.verb = self.colour = self.kind = None
        found = GOAL_PATTERN.search(text or "")
        if found is not None:
            self.verb, self.colour, self.kind = found.groups()

    def reached_by(self, command):
        if self.verb is None:
            return False
        tokens = command.split()
        if self.kind not in tokens:
            return False
        if self.colour and self.colour not in tokens:
            return False
        prefix = VERB_PREFIX.get(self.verb)
        if prefix is not None:
            return command.startswith(prefix)
        if command == "toggle":
            return True
        return command.startswith("toggle and go through")


def take_object(view, commands, colour, kind, number):
    """The view after picking up an object, and the commands left (no more pickups)."""
    view = EMPTY_HANDS.sub("You are carrying a %s %s." % (colour, kind), view)
    view = view.replace("There is a %s %s %s " % (colour, kind, number), "", 1)
    remaining = []
    for command in commands:
        if not command.startswith("pickup "):
            remaining.append(command)
    return view, remaining


class BabyAIAlt(BaseWorldModel):
    def init_belief(self):
        return {"mission": "", "view": "", "menu": [], "text": "", "finished": False}

    def parse_observation(self, obs_text):
        body = obs_text
        menu = None
        if ACTIONS_HEADER in body:
            cut = body.rindex(ACTIONS_HEADER)
            try:
                menu = json.loads(body[cut + len(ACTIONS_HEADER):])
            except ValueError:
                menu = None
            body = body[:cut]
        mission = None
        if body.startswith(GOAL_HEADER):
            first, newline, rest = body.partition("\n")
            mission = first[len(GOAL_HEADER):]
            body = rest
        finished = body.endswith(COMPLETED)
        if finished:
            body = body[:len(body) - len(COMPLETED)]
        view = None
        if "The room has walls around you." in body:
            view = body
        return mission, view, menu, finished

    def correct_belief(self, belief_prior, obs_text):
        mission, view, menu, finished = self.parse_observation(obs_text)
        state = dict(belief_prior)
        for key, value in (("mission", mission), ("view", view), ("menu", menu)):
            if value is not None:
                state[key] = value
        state["finished"] = finished
        return state

    def predict_belief(self, belief, action):
        state = dict(belief)
        state["finished"] = False
        command = action.lower().strip()
        menu = belief.get("menu", [])
        if "check" in command:
            state["text"] = "You can take the following actions: %s" % ", ".join(menu)
            return state
        if command == "":
            state["text"] = "No change in state."
            return state
        if command not in menu:
            state["text"] = "The action is not recognized. Please check valid actions."
            return state
        view = belief.get("view", "")
        picked = PICKUP.match(command)
        if picked is not None:
            view, state["menu"] = take_object(view, menu, picked.group(1), picked.group(2), picked.group(3))
        state["view"] = view
        if Goal(belief.get("mission", "")).reached_by(command):
            state["finished"] = True
            state["text"] = view + COMPLETED
        else:
            state["text"] = view
        return state

    def readout_observation(self, belief, action=""):
        text = belief.get("text")
        if not text:
            return ""
        quoted = []
        for command in belief.get("menu", []):
            quoted.append(json.dumps(command))
        return "%s%s[%s]" % (text, ACTIONS_HEADER, ", ".join(quoted))

    def predict_reward_done(self, belief, action):
        if self.predict_belief(belief, action)["finished"]:
            return 0.9, True
        return 0, False

    def extract_valid_action_forms(self):
        return {"basic": ["turn left", "turn right", "move forward", "check available actions"]}
