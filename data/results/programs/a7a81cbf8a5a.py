"""Hand-written Simple world model for SciWorld (reasonable but imperfect).

Splits the first observation into the task sentence and the room description, and keeps the
current room, the last description seen of every room, the doors seen open or closed, and the
inventory (the agent starts with an orange). It knows the fixed answer texts: ``task``,
``inventory``, ``wait``/``wait1``, ``look around`` (the remembered description of the room),
``open door to R``, ``go to R`` (blocked by a closed door), ``pick up X``, ``open``/``close``/
``activate``/``deactivate X``, ``focus on X`` and ``No known action matches that input.`` for
text no template parses. It does not simulate the world: time passing (heating, growth),
containers' contents, electrical circuits, ``look at``/``look in`` texts, ambiguity prompts and
the score are beyond it; it predicts reward 0 except a ``focus on`` an object the task does not
name (reward -100, done), and a room it has not seen is described as empty.
"""

import re

from patchworld.worldmodel_base import BaseWorldModel

_ROOM = re.compile(r"^This (?:room|outside location) is called the (.+?)\. ", re.M)
_DOOR = re.compile(r"A door to the (.+?) \(that is (open|closed)\)")
_MOVED = re.compile(r"^You move to the (.+?)\.$")
_TEMPLATES = ("open ", "close ", "activate ", "deactivate ", "connect ", "disconnect ", "use ", "look at ", "look in ",
              "read ", "move ", "pick up ", "put down ", "pour ", "dunk ", "mix ", "go to ", "eat ", "flush ",
              "focus on ", "examine ")
_NO_MATCH = "No known action matches that input."


def _article(name):
    return ("an " if name[:1] in "aeiou" else "a ") + name


class SciWorldWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        room = _ROOM.search(obs_text)
        task = ""
        if obs_text.startswith("Your task is"):
            task = obs_text.split("\n", 1)[0]
        look = obs_text[room.start():] if room else None
        return {"task": task, "room": room.group(1) if room else None, "look": look,
                "doors": dict(_DOOR.findall(obs_text)), "moved": _MOVED.findall(obs_text)}

    def extract_valid_action_forms(self):
        return {"fixed": ["look around", "inventory", "task", "wait", "wait1"],
                "templates": [t + "OBJ" for t in _TEMPLATES]}

    def init_belief(self):
        return {"task": "", "room": None, "looks": {}, "doors": {}, "inventory": ["an orange"], "pred": "",
                "reward": 0, "done": False}

    def correct_belief(self, belief_prior, obs_text):
        belief = dict(belief_prior)
        parsed = self.parse_observation(obs_text)
        if parsed["task"]:
            belief.update(task=parsed["task"], looks={}, doors={}, inventory=["an orange"])
        belief["looks"], belief["doors"] = dict(belief["looks"]), dict(belief["doors"])
        if parsed["room"]:
            belief["room"] = parsed["room"]
            belief["looks"][parsed["room"]] = parsed["look"]
        belief["doors"].update(parsed["doors"])
        if parsed["moved"]:
            belief["room"] = parsed["moved"][-1]
        return belief

    def predict_belief(self, belief, action):
        new = dict(belief)
        new["reward"], new["done"] = 0, False
        new["doors"], new["inventory"] = dict(belief["doors"]), list(belief["inventory"])
        raw = " ".join(action.split())
        act = raw.lower()
        text = _NO_MATCH
        if act == "look around":
            text = belief["looks"].get(belief["room"]) or f"This room is called the {belief['room']}. In it, you see: \n"
        elif act == "inventory":
            text = "In your inventory, you see:\n\t" + "\n\t".join(new["inventory"]) if new["inventory"] else (
                "In your inventory, you see:\n\tnothing")
        elif act == "task":
            text = "Task description:\n" + belief["task"]
        elif act in ("wait", "wait1"):
            text = f"You decide to wait for {10 if act == 'wait' else 1} iterations."
        elif act.startswith("open door to "):
            room = act[len("open door to "):]
            text = "The door is already open." if new["doors"].get(room) == "open" else "The door is now open."
            new["doors"][room] = "open"
        elif act.startswith("go to "):
            room = act[len("go to "):]
            if room == belief["room"]:
                text = "You are already here."
            elif new["doors"].get(room) == "open":
                text, new["room"] = f"You move to the {room}.", room
            else:
                text = "The door is not open."
        elif act.startswith("pick up "):
            name = raw[len("pick up "):].removesuffix(" in inventory")
            text = f"You move the {name} to the inventory."
            new["inventory"].append(_article(name))
        elif act.startswith("focus on "):
            name = raw[len("focus on "):].removesuffix(" in inventory")
            text = f"You focus on the {name}."
            if not any(word in belief["task"].lower() for word in name.lower().split()):
                new["reward"], new["done"] = -100, True
        else:
            for verb, state in (("open ", "open"), ("close ", "closed"), ("activate ", "activated"),
                                ("deactivate ", "deactivated")):
                if act.startswith(verb):
                    text = f"The {raw[len(verb):]} is now {state}."
                    break
            else:
                if any(act.startswith(t) for t in _TEMPLATES):
                    text = ""
        new["pred"] = text
        return new

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return nxt["reward"], nxt["done"]

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
