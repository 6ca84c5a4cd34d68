"""Hand-written Simple world model for TextCraft (reasonable but imperfect).

Reads the crafting commands and the goal from the first observation and keeps an
inventory. ``get`` succeeds for any item that no listed recipe produces (the real game
knows the full item list, so fetching a non-existent item is mispredicted); ``craft``
checks the inventory, then matches the listed recipes, treating a generic ingredient
(``planks``) as any held item whose name ends with it; ``inventory`` lists the holdings.
It does not reproduce the ``ItemTagWithCount`` error texts for tags exactly.
"""

import re

from patchworld.worldmodel_base import BaseWorldModel

_RECIPE = re.compile(r"^craft (\d+) (.+?) using (.+)$")
_COUNTED = re.compile(r"^(\d+) (.+)$")


def _item_id(name):
    return "minecraft:" + name.strip().replace(" ", "_")


class TextCraftWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        recipes = []
        for line in obs_text.splitlines():
            m = _RECIPE.match(line.strip())
            if m and "Crafting commands" in obs_text:
                ingredients = []
                for part in m.group(3).split(","):
                    c = _COUNTED.match(part.strip())
                    if c:
                        ingredients.append((c.group(2), int(c.group(1))))
                recipes.append({"out": m.group(2), "count": int(m.group(1)), "ingredients": ingredients})
        goal = re.search(r"Goal: craft (.+?)\.\s*$", obs_text)
        return {"recipes": recipes, "goal": goal.group(1) if goal else None}

    def extract_valid_action_forms(self):
        return {"inventory": ["inventory"]}

    def init_belief(self):
        return {"recipes": [], "goal": None, "inventory": {}, "pred": "", "reward": 0, "done": False}

    def correct_belief(self, belief_prior, obs_text):
        belief = dict(belief_prior)
        parsed = self.parse_observation(obs_text)
        if parsed["recipes"]:
            belief["recipes"], belief["goal"], belief["inventory"] = parsed["recipes"], parsed["goal"], {}
        return belief

    def _craft(self, belief, out_text, in_text):
        inv = dict(belief["inventory"])
        m = _COUNTED.match(out_text)
        out_name = m.group(2) if m else out_text
        listed = []
        for part in in_text.split(","):
            c = _COUNTED.match(part.strip())
            if not c:
                return inv, f"Wrong item format: {part.strip()}", False
            listed.append((c.group(2), int(c.group(1))))
        for name, n in listed:
            if inv.get(name, 0) < n:
                return inv, f"Could not find enough items to craft {_item_id(out_name)}", False
        for recipe in belief["recipes"]:
            if recipe["out"] != out_name or len(recipe["ingredients"]) != len(listed):
                continue
            pool = list(listed)
            ok = True
            for ing, n in recipe["ingredients"]:
                match = next((x for x in pool if x[1] == n and (x[0] == ing or x[0].endswith(" " + ing))), None)
                if match is None:
                    ok = False
                    break
                pool.remove(match)
            if ok and not pool:
                for name, n in listed:
                    inv[name] -= n
                    if inv[name] == 0:
                        del inv[name]
                inv[out_name] = inv.get(out_name, 0) + recipe["count"]
                return inv, f"Crafted {recipe['count']} {_item_id(out_name)}", out_name == belief.get("goal")
        count = m.group(1) if m else "1"
        return inv, (f"Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag(tag=None, "
                     f"item_id='{_item_id(out_name)}'), count={count})"), False

    def predict_belief(self, belief, action):
        new = dict(belief)
        new["reward"], new["done"] = 0, False
        inv = dict(belief["inventory"])
        craft = re.match(r"^craft (.*) using (.*)$", action)
        get = re.match(r"^get (\d+) (.*)$", action)
        if craft:
            inv, text, solved = self._craft(belief, craft.group(1), craft.group(2))
            new["reward"], new["done"] = (1, True) if solved else (0, False)
        elif get:
            name, n = get.group(2), int(get.group(1))
            if any(r["out"] == name for r in belief["recipes"]):
                text = f"Could not find {name}"
            else:
                inv[name] = inv.get(name, 0) + n
                text = f"Got {n} {name}"
        elif action.startswith("inventory"):
            if inv:
                text = "Inventory: " + "".join(f"[{k}] ({v}) " for k, v in inv.items())
            else:
                text = "Inventory: You are not carrying anything."
        else:
            text = f"Could not execute {action}"
        new["inventory"], new["pred"] = inv, text
        return new

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return nxt["reward"], nxt["done"]

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
