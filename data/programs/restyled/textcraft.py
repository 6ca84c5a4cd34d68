"""TextCraft world model: a restyled rewrite of the hand-written program."""

import re

from patchworld.worldmodel_base import BaseWorldModel

COMMAND_LINE = re.compile(r"^craft (\d+) (.+?) using (.+)$")
AMOUNT = re.compile(r"^(\d+) (.+)$")
GOAL_LINE = re.compile(r"Goal: craft (.+?)\.\s*$")
CRAFT_ACTION = re.compile(r"^craft (.*) using (.*)$")
GET_ACTION = re.compile(r"^get (\d+) (.*)$")


def minecraft_name(item):
    return "minecraft:%s" % "_".join(item.strip().split(" "))


def read_amounts(text):
    """(name, count) pairs of a comma list; the first part that is not '<n> <name>' is returned as the error."""
    pairs = []
    for piece in text.split(","):
        piece = piece.strip()
        found = AMOUNT.match(piece)
        if found is None:
            return pairs, piece
        pairs.append((found.group(2), int(found.group(1))))
    return pairs, None


def ingredient_fits(held_name, wanted):
    if held_name == wanted:
        return True
    return held_name.endswith(" " + wanted)


def recipe_accepts(ingredients, offered):
    """Whether every ingredient of a recipe takes one distinct offered pair of the same count."""
    if len(ingredients) != len(offered):
        return False
    left = list(offered)
    for wanted, count in ingredients:
        hit = -1
        j = 0
        while j < len(left):
            if left[j][1] == count and ingredient_fits(left[j][0], wanted):
                hit = j
                break
            j += 1
        if hit < 0:
            return False
        del left[hit]
    return len(left) == 0


class CraftTable(BaseWorldModel):
    def init_belief(self):
        return {"book": [], "target": None, "bag": {}, "message": "", "score": 0, "over": False}

    def parse_observation(self, obs_text):
        book = []
        if "Crafting commands" in obs_text:
            for row in obs_text.splitlines():
                hit = COMMAND_LINE.match(row.strip())
                if hit is None:
                    continue
                needs = []
                for piece in hit.group(3).split(","):
                    counted = AMOUNT.match(piece.strip())
                    if counted is not None:
                        needs.append((counted.group(2), int(counted.group(1))))
                book.append((hit.group(2), int(hit.group(1)), needs))
        target = GOAL_LINE.search(obs_text)
        if target is not None:
            return book, target.group(1)
        return book, None

    def correct_belief(self, belief_prior, obs_text):
        book, target = self.parse_observation(obs_text)
        updated = dict(belief_prior)
        if len(book) > 0:
            updated["book"] = book
            updated["target"] = target
            updated["bag"] = {}
        return updated

    def craft(self, state, product, materials):
        bag = dict(state["bag"])
        counted = AMOUNT.match(product)
        if counted:
            made = counted.group(2)
        else:
            made = product
        offered, broken = read_amounts(materials)
        if broken is not None:
            return bag, "Wrong item format: " + broken, False
        for name, count in offered:
            if bag.get(name, 0) < count:
                return bag, "Could not find enough items to craft " + minecraft_name(made), False
        for out, amount, needs in state["book"]:
            if out == made and recipe_accepts(needs, offered):
                for name, count in offered:
                    bag[name] = bag[name] - count
                    if bag[name] == 0:
                        del bag[name]
                bag[made] = bag.get(made, 0) + amount
                text = "Crafted %s %s" % (amount, minecraft_name(made))
                return bag, text, made == state.get("target")
        wanted = counted.group(1) if counted else "1"
        text = ("Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag(tag=None, item_id='%s'), "
                "count=%s)") % (minecraft_name(made), wanted)
        return bag, text, False

    def predict_belief(self, belief, action):
        state = dict(belief)
        state["score"] = 0
        state["over"] = False
        bag = dict(belief["bag"])
        if action.startswith("inventory"):
            if len(bag) == 0:
                text = "Inventory: You are not carrying anything."
            else:
                text = "Inventory: "
                for name in bag:
                    text += "[%s] (%s) " % (name, bag[name])
            state["bag"] = bag
            state["message"] = text
            return state
        fetch = GET_ACTION.match(action)
        build = CRAFT_ACTION.match(action)
        if build is not None:
            bag, text, solved = self.craft(belief, build.group(1), build.group(2))
            if solved:
                state["score"], state["over"] = 1, True
        elif fetch is not None:
            count = int(fetch.group(1))
            item = fetch.group(2)
            craftable = False
            for out, _, _ in belief["book"]:
                if out == item:
                    craftable = True
                    break
            if craftable:
                text = "Could not find " + item
            else:
                bag[item] = bag.get(item, 0) + count
                text = "Got %d %s" % (count, item)
        else:
            text = "Could not execute " + action
        state["bag"] = bag
        state["message"] = text
        return state

    def readout_observation(self, belief, action=""):
        return belief.get("message", "")

    def predict_reward_done(self, belief, action):
        after = self.predict_belief(belief, action)
        return after["score"], after["over"]

    def extract_valid_action_forms(self):
        return {"inventory": ["inventory"]}
