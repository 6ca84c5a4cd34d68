"""WebShop-lite world model: a restyled rewrite of the hand-written program."""

import json
import re

from patchworld.worldmodel_base import BaseWorldModel

DIVIDER = " [SEP] "
OPTION_GROUPS = ("color", "size", "scent", "style", "flavor name")
COMMAND = re.compile(r"(.+)\[(.+)\]")
PRODUCT_ID = re.compile(r"^B0[A-Z0-9]{8}$")
PAGE_LINE = re.compile(r"^Page (\d+) \(Total results: (\d+)\)$")
PRICE_LIMIT = re.compile(r"price lower than ([0-9.]+) dollars")
OPTION_PAIR = re.compile(r"([a-z ]+): ([^,]+)")


def tokens(text):
    return set(re.findall(r"[a-z0-9]+", text.lower()))


class Page:
    """One observation split on the divider, with what each page kind shows."""

    def __init__(self, text):
        self.text = text
        self.parts = text.split(DIVIDER)
        self.listing = []
        self.title = self.price = None
        self.values = []
        if text.startswith("Thank you for shopping"):
            self.kind = "done"
        elif text.startswith("WebShop [SEP] Instruction:"):
            self.kind = "index"
        elif len(self.parts) > 3 and PAGE_LINE.match(self.parts[3]):
            self.kind = "results"
            self._read_listing()
        elif self.parts[-1:] == ["Buy Now"]:
            self.kind = "item"
            self._read_item()
        else:
            self.kind = "sub"

    def has_prev(self):
        return self.parts[4] == "< Prev"

    def _read_listing(self):
        if self.has_prev():
            body = self.parts[6:]
        else:
            body = self.parts[5:]
        i = 0
        while i + 2 < len(body):
            if PRODUCT_ID.match(body[i]):
                self.listing.append((body[i], body[i + 1], body[i + 2]))
            i += 3

    def _read_item(self):
        at = len(self.parts) - 7
        self.title = self.parts[at]
        self.price = self.parts[at + 1][len("Price: "):]
        for part in self.parts[4:at]:
            if part not in OPTION_GROUPS:
                self.values.append(part)

    def links(self):
        if self.kind == "index":
            return ["search"]
        if self.kind == "done":
            return []
        if self.kind == "item":
            return ["back to search", "< prev", "description", "features", "reviews", "buy now"] + self.values
        if self.kind == "results":
            found = ["back to search"]
            if self.has_prev():
                found.append("< prev")
            found.append("next >")
            for product, _, _ in self.listing:
                found.append(product.lower())
            return found
        return ["back to search", "< prev"]


def requested_pairs(request):
    """The raw (group, value) pairs after ' with ' in the request, if it names any."""
    if ": " not in request:
        return []
    return OPTION_PAIR.findall(request.split(" with ")[-1])


def clean_group(name):
    return name.replace("and ", "").strip()


def receipt(product, chosen, score):
    template = ("Thank you for shopping with us!|Your code:|None|(Paste it in your MTurk interface.)|Purchased|asin|"
                "{product}|options|{chosen}|attrs|None|category|None|query|None|product category|None|Target|asin|"
                "options|attrs|price upper|instuction text|category|product category|query|Goal|None|Reward|"
                "Your score (min 0.0, max 1.0)|{score}|Reward Details|None")
    layout = DIVIDER.join(template.split("|"))
    return layout.format(product=str(product), chosen=json.dumps(chosen, sort_keys=True), score=str(score))


class ShopSite(BaseWorldModel):
    def init_belief(self):
        return {"task": "", "last": "", "where": "", "query": None, "page_no": 0, "n_total": 0, "product": None,
                "chosen": {}, "result_pages": {}, "item_pages": {}, "sub_pages": {}, "catalog": {},
                "last_results": "", "last_item": "", "cache_key": None, "text": "", "score": 0.0, "finished": False}

    def parse_observation(self, obs_text):
        return Page(obs_text)

    def extract_valid_action_forms(self):
        forms = {}
        forms["search[<keywords>]"] = ["search[red lipstick]"]
        forms["click[<clickable>]"] = ["click[next >]", "click[buy now]"]
        return forms

    def correct_belief(self, belief_prior, obs_text):
        state = dict(belief_prior)
        page = self.parse_observation(obs_text)
        state["last"] = obs_text
        state["where"] = page.kind
        if page.kind == "results":
            numbers = PAGE_LINE.match(page.parts[3])
            state["page_no"] = int(numbers.group(1))
            state["n_total"] = int(numbers.group(2))
            pages = dict(state["result_pages"])
            pages[state["cache_key"]] = obs_text
            state["result_pages"] = pages
            catalog = dict(state["catalog"])
            for product, title, price in page.listing:
                catalog[product] = (title, price)
            state["catalog"] = catalog
            state["last_results"] = obs_text
        elif page.kind == "item":
            if state["product"]:
                pages = dict(state["item_pages"])
                pages[state["product"]] = obs_text
                state["item_pages"] = pages
            state["last_item"] = obs_text
        elif page.kind == "index":
            if len(page.parts) > 2:
                state["task"] = page.parts[2]
            else:
                state["task"] = ""
        elif page.kind == "sub" and state["cache_key"]:
            pages = dict(state["sub_pages"])
            pages[state["cache_key"]] = obs_text
            state["sub_pages"] = pages
        return state

    def results_page(self, state, query, number):
        key = ("results", query, number)
        if key in state["result_pages"]:
            return key, state["result_pages"][key]
        if number == 1:
            total = 50
        else:
            total = state["n_total"]
        shown = []
        if total:
            wanted = tokens(query)
            scored = []
            for product in state["catalog"]:
                title, price = state["catalog"][product]
                overlap = len(wanted & tokens(title))
                if overlap > 0:
                    scored.append((overlap, product, title, price))
            scored.sort(key=lambda row: -row[0])
            start = (number - 1) * 10
            shown = scored[start:start + 10]
        parts = ["Instruction:", state["task"], "Back to Search", "Page %s (Total results: %s)" % (number, total)]
        if number > 1:
            parts.append("< Prev")
        parts.append("Next >")
        for _, product, title, price in shown:
            parts.extend((product, title, price))
        return key, DIVIDER.join(parts)

    def guess_options(self, state, title):
        """Option lines of the closest item page seen, else the groups the instruction asks for."""
        closest, best = None, 1
        for text in state["item_pages"].values():
            parts = text.split(DIVIDER)
            common = len(tokens(parts[-7]) & tokens(title))
            if common > best:
                closest, best = parts[4:-7], common
        if closest is not None:
            return closest
        lines = []
        for group, value in requested_pairs(state["task"].split(", and price lower than")[0]):
            lines.append(clean_group(group))
            lines.append(value.strip())
        return lines

    def item_page(self, state, product):
        if product in state["item_pages"]:
            return state["item_pages"][product]
        title, price = state["catalog"].get(product, ("", ""))
        parts = ["Instruction:", state["task"], "Back to Search", "< Prev"]
        parts += self.guess_options(state, title)
        parts += [title, "Price: " + price, "Rating: N.A.", "Description", "Features", "Reviews", "Buy Now"]
        return DIVIDER.join(parts)

    def detail_page(self, state, section):
        key = ("sub", state["product"], section)
        if key in state["sub_pages"]:
            return key, state["sub_pages"][key]
        title = state["catalog"].get(state["product"], ("", ""))[0]
        brand, _, rest = title.partition(" ")
        parts = ["Instruction:", state["task"], "Back to Search", "< Prev"]
        if section == "features":
            parts.append("Brand: %s. Ships in a recyclable box." % brand)
        elif section == "description":
            parts.append("The %s %s is designed for everyday use. Key features: . Satisfaction guaranteed."
                         % (brand, rest.lower()))
        return key, DIVIDER.join(parts)

    def purchase_score(self, state):
        task = state["task"]
        title, price = state["catalog"].get(state["product"], ("", "$0"))
        limit = PRICE_LIMIT.search(task)
        cheap_enough = False
        if limit:
            amount = price.strip("$")
            cheap_enough = (float(amount) if amount else 0) <= float(limit.group(1))
        request = task.split(", and price lower than")[0]
        raw = {}
        for group, value in requested_pairs(request):
            raw[group] = value
        asked = {}
        for group in raw:
            asked[clean_group(group)] = raw[group].strip()
        met = 0
        for group in asked:
            if state["chosen"].get(group) == asked[group]:
                met += 1
        attributes = re.sub(r" with [a-z ]+: .*$", "", request)[8:]
        count = 0
        for piece in re.split(r", | with ", attributes):
            if piece.strip():
                count += 1
        if len(tokens(title) & tokens(attributes)) == 0:
            return 0.0
        return (count + met + cheap_enough) / (count + len(asked) + 1)

    def click(self, state, belief, target):
        where = belief["where"]
        if target in ("description", "features", "reviews"):
            state["cache_key"], state["text"] = self.detail_page(state, target)
        elif target == "buy now":
            state["finished"] = True
            state["score"] = self.purchase_score(state)
            state["text"] = receipt(state["product"], state["chosen"], state["score"])
        elif target == "back to search":
            state["text"] = DIVIDER.join(["WebShop", "Instruction:", state["task"], "Search"])
            state["query"] = None
            state["product"] = None
            state["chosen"] = {}
        elif target == "< prev":
            if where == "results":
                state["page_no"] = belief["page_no"] - 1
                state["cache_key"], state["text"] = self.results_page(state, belief["query"] or "", state["page_no"])
            elif where == "item":
                state["product"] = None
                state["chosen"] = {}
                state["text"] = belief["last_results"]
                state["cache_key"] = ("results", belief["query"], belief["page_no"])
            else:
                state["text"] = belief["last_item"]
        elif where == "results":
            if target == "next >":
                state["page_no"] = belief["page_no"] + 1
                state["cache_key"], state["text"] = self.results_page(state, belief["query"] or "", state["page_no"])
            else:
                state["product"] = target.upper()
                state["chosen"] = {}
                state["text"] = self.item_page(state, state["product"])
        else:
            parts = belief["last"].split(DIVIDER)
            groups = []
            for part in parts:
                if part in OPTION_GROUPS:
                    groups.append(part)
            label = "option"
            for group in reversed(groups):
                if parts.index(group) < parts.index(target):
                    label = group
                    break
            chosen = dict(belief["chosen"])
            chosen[label] = target
            state["chosen"] = chosen

    def predict_belief(self, belief, action):
        state = dict(belief)
        state["score"] = 0.0
        state["finished"] = False
        state["text"] = belief["last"]
        parsed = COMMAND.match(action)
        if parsed is None:
            verb, target = action, None
        else:
            verb, target = parsed.group(1), parsed.group(2).lower()
        if verb == "search":
            if target:
                state["query"] = target
                state["page_no"] = 1
                state["product"] = None
                state["chosen"] = {}
                state["cache_key"], state["text"] = self.results_page(state, target, 1)
        elif verb == "click" and target != "search" and target in Page(belief["last"]).links():
            self.click(state, belief, target)
        return state

    def readout_observation(self, belief, action=""):
        return belief.get("text", "")

    def predict_reward_done(self, belief, action):
        after = self.predict_belief(belief, action)
        return after["score"], after["finished"]
