"""Hand-written Simple world model for ALFWorld (reasonable but imperfect).

Reads the receptacles and the task from the first observation and keeps a belief of where
the agent stands, what it holds (and whether that was cleaned, heated or cooled), which
receptacles are open and what each receptacle was last seen to contain. Predicts the
engine's texts for every command form (go to, open, close, take, put, clean/heat/cool,
use, examine, inventory, look, ``Nothing happens.``) with its list rendering and order
(type, then number descending). Knowingly wrong: the contents of a receptacle never seen
open are guessed empty (they are hidden until looked at); ``put`` is assumed to fit any
receptacle (the real ``can_contain`` table is not known), and slicing and the 50-step
limit are not modelled. Reward/done: 1.0 when the step meets the task as parsed from the
goal sentence (type words matched against names).
"""

import re

from patchworld.worldmodel_base import BaseWorldModel

OPENABLE = ("fridge", "cabinet", "microwave", "drawer", "safe", "box")
NOTHING = "Nothing happens."
_NAME = r"([a-z]+ \d+)"
_RECEP_VIEW = re.compile(r"^(?:You open the [a-z]+ \d+\. )?(?:On the " + _NAME + r", you see (.*)\.|The "
                         + _NAME + r" is open\. In it, you see (.*)\.)$")
_CLOSED = re.compile(r"^The " + _NAME + r" is closed\.$")


def _order(name):
    kind, number = name.rsplit(" ", 1)
    return (kind.replace("basin", "_basin") + "_", -int(number))


def _render(names):
    items = ["a " + n for n in sorted(names, key=_order)]
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _parse_list(text):
    if text == "nothing":
        return []
    return [part[2:] for part in re.split(r", and |, ", text) if part.startswith("a ")]


_GOALS = (
    (r"put a clean (\w+) in (\w+)|clean some (\w+) and put it in (\w+)", "clean"),
    (r"put a hot (\w+) in (\w+)|heat some (\w+) and put it in (\w+)", "hot"),
    (r"put a cool (\w+) in (\w+)|cool some (\w+) and put it in (\w+)", "cool"),
    (r"put two (\w+) in (\w+)|find two (\w+) and put them in (\w+)", "two"),
    (r"look at (\w+) under the (\w+)|examine the (\w+) with the (\w+)", "light"),
    (r"put a (\w+) in (\w+)|put some (\w+) on (\w+)", "simple"),
)


def _parse_goal(goal):
    """(kind, object word, receptacle or lamp word) from the task sentence, or None."""
    for pattern, kind in _GOALS:
        m = re.fullmatch(pattern, goal or "")
        if m:
            words = [g for g in m.groups() if g]
            return kind, words[0], words[1]
    return None


def _kind(name):
    return name.rsplit(" ", 1)[0] if name else ""


class AlfworldWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        text = obs_text.split("\nAVAILABLE ACTIONS: ")[0]
        out = {"receptacles": None, "goal": None, "view": None}
        m = re.match(r"You are in the middle of a room\. Looking quickly around you, you see (.*)\.\nYour task is to: "
                     r"(.*)\.$", text, re.S)
        if m:
            out["receptacles"], out["goal"] = _parse_list(m.group(1)), m.group(2)
        v = _RECEP_VIEW.match(text)
        if v:
            out["view"] = (v.group(1) or v.group(3), _parse_list(v.group(2) if v.group(1) else v.group(4)), bool(v.group(3)))
        c = _CLOSED.match(text)
        if c:
            out["view"] = (c.group(1), None, False)
        return out

    def extract_valid_action_forms(self):
        return {"forms": ["go to R", "open R", "close R", "take O from R", "put O in/on R", "clean O with R",
                          "heat O with R", "cool O with R", "use O", "examine X", "inventory", "look"]}

    def init_belief(self):
        return {"receptacles": [], "goal": "", "at": None, "holding": None, "flags": [], "opened": [], "contents": {},
                "toggled": [], "placed": {}, "pred": "", "reward": 0.0, "done": False}

    def correct_belief(self, belief_prior, obs_text):
        b = dict(belief_prior)
        parsed = self.parse_observation(obs_text)
        if parsed["receptacles"] is not None:
            b = self.init_belief()
            b["receptacles"], b["goal"] = parsed["receptacles"], parsed["goal"]
            b["opened"] = []
            return b
        b["contents"], b["placed"] = dict(b["contents"]), dict(b["placed"])
        if parsed["view"] is not None:
            name, contents, is_open = parsed["view"]
            b["at"] = name
            if contents is not None:
                b["contents"][name] = contents
            if is_open and name not in b["opened"]:
                b["opened"] = b["opened"] + [name]
        text = obs_text.strip()
        m = re.match(r"^You pick up the " + _NAME + " from the " + _NAME + r"\.$", text)
        if m:
            b["holding"], b["at"] = m.group(1), m.group(2)
            b["flags"] = list(b["placed"].get(m.group(1), b["flags"] if belief_prior.get("holding") == m.group(1) else []))
            b["contents"][m.group(2)] = [o for o in b["contents"].get(m.group(2), []) if o != m.group(1)]
        m = re.match(r"^You put the " + _NAME + " in/on the " + _NAME + r"\.$", text)
        if m:
            if m.group(1) not in b["contents"].get(m.group(2), []):
                b["contents"][m.group(2)] = b["contents"].get(m.group(2), []) + [m.group(1)]
            if belief_prior.get("holding") == m.group(1):
                b["placed"][m.group(1)] = belief_prior.get("flags", [])
            b["holding"], b["flags"], b["at"] = None, [], m.group(2)
        m = re.match(r"^You close the " + _NAME + r"\.$", text)
        if m:
            b["opened"] = [r for r in b["opened"] if r != m.group(1)]
        m = re.match(r"^You (clean|heat|cool) the " + _NAME + " using the " + _NAME + r"\.$", text)
        if m:
            flag = {"clean": "clean", "heat": "hot", "cool": "cool"}[m.group(1)]
            drop = {"hot": "cool", "cool": "hot"}.get(flag)
            b["holding"], b["at"] = m.group(2), m.group(3)
            b["flags"] = [f for f in b["flags"] if f not in (flag, drop)] + [flag]
        m = re.match(r"^You turn on the " + _NAME + r"\.$", text)
        if m and m.group(1) not in b["toggled"]:
            b["toggled"] = b["toggled"] + [m.group(1)]
        return b

    def _view(self, b, rec):
        if _kind(rec) in OPENABLE and rec not in b["opened"]:
            return "The " + rec + " is closed."
        seen = _render(b["contents"].get(rec, []))
        if _kind(rec) in OPENABLE:
            return "The " + rec + " is open. In it, you see " + seen + "."
        return "On the " + rec + ", you see " + seen + "."

    def _examine(self, b, obj):
        kind = _kind(obj)
        if kind in ("bowl", "box", "cup", "mug", "pan", "plate", "pot"):
            return "This is a normal " + obj + ". In it, you see nothing."
        flags = b["flags"]
        if "clean" in flags and "hot" in flags:
            return "This is a hot and clean " + obj + "."
        if "clean" in flags and "cool" in flags:
            return "This is a cool and clean " + obj + "."
        for flag, word in (("hot", "hot"), ("clean", "clean"), ("cool", "cold")):
            if flag in flags:
                return "This is a " + word + " " + obj + "."
        return "There's nothing special about " + obj + "."

    def _act(self, b, action):
        a = action.strip()
        here, held = b["at"], b["holding"]
        m = re.match(r"^go to " + _NAME + r"$", a)
        if m and m.group(1) in b["receptacles"] and m.group(1) != here:
            b["at"] = m.group(1)
            return self._view(b, m.group(1))
        m = re.match(r"^(open|close) " + _NAME + r"$", a)
        if m and m.group(2) == here and _kind(here) in OPENABLE:
            if m.group(1) == "open" and here not in b["opened"]:
                b["opened"] = b["opened"] + [here]
                return "You open the " + here + ". " + self._view(b, here)
            if m.group(1) == "close" and here in b["opened"]:
                b["opened"] = [r for r in b["opened"] if r != here]
                return "You close the " + here + "."
            return NOTHING
        m = re.match(r"^take " + _NAME + " from " + _NAME + r"$", a)
        if m and m.group(2) == here and held is None and m.group(1) in b["contents"].get(here, []) \
                and (_kind(here) not in OPENABLE or here in b["opened"]) and "lamp" not in m.group(1):
            b["contents"] = dict(b["contents"])
            b["contents"][here] = [o for o in b["contents"][here] if o != m.group(1)]
            b["holding"], b["flags"] = m.group(1), list(b["placed"].get(m.group(1), []))
            return "You pick up the " + m.group(1) + " from the " + here + "."
        m = re.match(r"^put " + _NAME + " in/on " + _NAME + r"$", a)
        if m and m.group(1) == held and m.group(2) == here and (_kind(here) not in OPENABLE or here in b["opened"]):
            b["contents"] = dict(b["contents"])
            b["contents"][here] = b["contents"].get(here, []) + [held]
            b["placed"] = dict(b["placed"])
            b["placed"][held] = b["flags"]
            b["holding"], b["flags"] = None, []
            return "You put the " + held + " in/on the " + here + "."
        m = re.match(r"^(clean|heat|cool) " + _NAME + " with " + _NAME + r"$", a)
        station = {"clean": "sinkbasin", "heat": "microwave", "cool": "fridge"}
        if m and m.group(2) == held and m.group(3) == here and _kind(here) == station[m.group(1)]:
            flag = {"clean": "clean", "heat": "hot", "cool": "cool"}[m.group(1)]
            drop = {"hot": "cool", "cool": "hot"}.get(flag)
            b["flags"] = [f for f in b["flags"] if f not in (flag, drop)] + [flag]
            return "You " + m.group(1) + " the " + held + " using the " + here + "."
        m = re.match(r"^use " + _NAME + r"$", a)
        if m and "lamp" in m.group(1) and m.group(1) in b["contents"].get(here or "", []):
            b["toggled"] = b["toggled"] + [m.group(1)]
            return "You turn on the " + m.group(1) + "."
        if a == "examine " + str(here):
            return self._view(b, here)
        if held is not None and a == "examine " + held:
            return self._examine(b, held)
        if a == "inventory":
            return "You are carrying: a " + held + "." if held else "You are not carrying anything."
        if a == "look":
            if here is None:
                return "You are in the middle of a room. Looking quickly around you, you see nothing."
            return "You are facing the " + here + ". Next to it, you see nothing."
        return NOTHING

    def _won(self, b):
        task = _parse_goal(b["goal"])
        if task is None:
            return False
        kind, obj, where = task
        if kind == "light":
            lit = any(_kind(t) == where and t in b["contents"].get(b["at"] or "", []) for t in b["toggled"])
            return lit and _kind(b["holding"]) == obj
        for rec, items in b["contents"].items():
            if _kind(rec) != where:
                continue
            good = [o for o in items if _kind(o) == obj and (kind in ("simple", "two") or kind in b["placed"].get(o, []))]
            if len(good) >= (2 if kind == "two" else 1):
                return True
        return False

    def predict_belief(self, belief, action):
        b = dict(belief)
        b["pred"] = self._act(b, action)
        won = b["pred"] != NOTHING and self._won(b)
        b["reward"], b["done"] = (1.0, True) if won else (0.0, False)
        return b

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return nxt["reward"], nxt["done"]

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
