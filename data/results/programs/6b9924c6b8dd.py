"""Hand-written Simple world model for WebShop-lite (reasonable but imperfect).

Knows the site's page grammar: the search page, results pages (10 per page, '< Prev' from
page 2, 'Next >' always), item pages, Description/Features/Reviews sub-pages, the done page,
which clicks each page offers, that invalid actions leave the page unchanged, that option
clicks do not change the text, that '< Prev' returns to the page it came from and that
'Back to Search' shows the search page again. It remembers every page seen in the episode
(results by query and page, items by asin, sub-pages) and replays them exactly.

What it cannot know, and guesses: the ranking of a new search (the catalogue and the BM25
scores are hidden; it lists the products already seen whose titles share most words with
the query and guesses 50 results), the option groups, description and features of an item
not yet opened (it shows the title and price the results listed, the option lines of the most
similar item seen or else the instruction's option groups, a description template without
the key features, and only the brand bullet), and the reward's attribute matching (it assumes every
instruction attribute is met by a product whose title shares a word with the request).
"""

import json
import re

from patchworld.worldmodel_base import BaseWorldModel

SEP = " [SEP] "
GROUPS = ("color", "size", "scent", "style", "flavor name")
_ACTION = re.compile(r"(.+)\[(.+)\]")
_ASIN = re.compile(r"^B0[A-Z0-9]{8}$")
_TOTAL = re.compile(r"^Page (\d+) \(Total results: (\d+)\)$")


def _words(text):
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _kind(obs):
    seg = obs.split(SEP)
    if obs.startswith("WebShop [SEP] Instruction:"):
        return "index"
    if obs.startswith("Thank you for shopping"):
        return "done"
    if len(seg) > 3 and _TOTAL.match(seg[3]):
        return "results"
    if seg[-1:] == ["Buy Now"]:
        return "item"
    return "sub"


class WebShopWorldModel(BaseWorldModel):
    def parse_observation(self, obs_text):
        seg = obs_text.split(SEP)
        kind = _kind(obs_text)
        out = {"kind": kind, "segments": seg}
        if kind == "results":
            body = seg[6:] if seg[4] == "< Prev" else seg[5:]
            out["listing"] = [(body[i], body[i + 1], body[i + 2]) for i in range(0, len(body) - 2, 3)
                              if _ASIN.match(body[i])]
        if kind == "item":
            title_at = len(seg) - 7
            out["title"], out["price"] = seg[title_at], seg[title_at + 1][len("Price: "):]
            out["values"] = [s for s in seg[4:title_at] if s not in GROUPS]
        return out

    def extract_valid_action_forms(self):
        return {"search[<keywords>]": ["search[red lipstick]"], "click[<clickable>]": ["click[next >]", "click[buy now]"]}

    def init_belief(self):
        return {"instruction": "", "obs": "", "kind": "", "keywords": None, "page": 0, "total": 0, "asin": None,
                "options": {}, "results": {}, "items": {}, "subs": {}, "known": {}, "results_obs": "", "item_obs": "",
                "key": None, "pred": "", "reward": 0.0, "done": False}

    def clickables(self, belief):
        parsed = self.parse_observation(belief["obs"])
        kind, seg = parsed["kind"], parsed["segments"]
        if kind == "index":
            return ["search"]
        if kind == "results":
            base = ["back to search"] + (["< prev"] if seg[4] == "< Prev" else []) + ["next >"]
            return base + [a.lower() for a, _, _ in parsed["listing"]]
        if kind == "item":
            return ["back to search", "< prev", "description", "features", "reviews", "buy now"] + parsed["values"]
        return [] if kind == "done" else ["back to search", "< prev"]

    def correct_belief(self, belief_prior, obs_text):
        b = dict(belief_prior)
        parsed = self.parse_observation(obs_text)
        b["obs"], b["kind"] = obs_text, parsed["kind"]
        if parsed["kind"] == "index":
            b["instruction"] = parsed["segments"][2] if len(parsed["segments"]) > 2 else ""
        elif parsed["kind"] == "results":
            m = _TOTAL.match(parsed["segments"][3])
            b["page"], b["total"] = int(m.group(1)), int(m.group(2))
            b["results"] = {**b["results"], b["key"]: obs_text}
            b["known"] = {**b["known"], **{a: (t, p) for a, t, p in parsed["listing"]}}
            b["results_obs"] = obs_text
        elif parsed["kind"] == "item":
            if b["asin"]:
                b["items"] = {**b["items"], b["asin"]: obs_text}
            b["item_obs"] = obs_text
        elif parsed["kind"] == "sub" and b["key"]:
            b["subs"] = {**b["subs"], b["key"]: obs_text}
        return b

    def _results(self, b, keywords, page):
        key = ("results", keywords, page)
        if key in b["results"]:
            return key, b["results"][key]
        head = ["Instruction:", b["instruction"], "Back to Search"]
        query = _words(keywords)
        total = 50 if page == 1 else b["total"]
        ranked = sorted(b["known"].items(), key=lambda kv: -len(query & _words(kv[1][0])))
        shown = [kv for kv in ranked if query & _words(kv[1][0])][(page - 1) * 10:page * 10] if total else []
        nav = ["< Prev", "Next >"] if page > 1 else ["Next >"]
        listing = [x for asin, (title, price) in shown for x in (asin, title, price)]
        return key, SEP.join(head + [f"Page {page} (Total results: {total})"] + nav + listing)

    def _options_guess(self, b, title):
        """Option lines of the most similar item seen (same product type), else the instruction's groups."""
        best, overlap = None, 1
        for text in b["items"].values():
            seg = text.split(SEP)
            shared = len(_words(seg[-7]) & _words(title))
            if shared > overlap:
                best, overlap = seg[4:-7], shared
        if best is not None:
            return best
        request = b["instruction"].split(", and price lower than")[0]
        pairs = re.findall(r"([a-z ]+): ([^,]+)", request.split(" with ")[-1]) if ": " in request else []
        return [x for k, v in pairs for x in (k.replace("and ", "").strip(), v.strip())]

    def _item(self, b, asin):
        if asin in b["items"]:
            return b["items"][asin]
        title, price = b["known"].get(asin, ("", ""))
        return SEP.join(["Instruction:", b["instruction"], "Back to Search", "< Prev", *self._options_guess(b, title),
                         title, f"Price: {price}", "Rating: N.A.", "Description", "Features", "Reviews", "Buy Now"])

    def _sub(self, b, which):
        key = ("sub", b["asin"], which)
        if key in b["subs"]:
            return key, b["subs"][key]
        title = b["known"].get(b["asin"], ("", ""))[0]
        brand, rest = (title.split(" ", 1) + [""])[:2]
        extra = {"features": [f"Brand: {brand}. Ships in a recyclable box."], "reviews": [],
                 "description": [f"The {brand} {rest.lower()} is designed for everyday use. Key features: . "
                                 "Satisfaction guaranteed."]}
        return key, SEP.join(["Instruction:", b["instruction"], "Back to Search", "< Prev"] + extra.get(which, []))

    def _reward(self, b):
        instruction = b["instruction"]
        bound = re.search(r"price lower than ([0-9.]+) dollars", instruction)
        title, price = b["known"].get(b["asin"], ("", "$0"))
        price_ok = bool(bound) and float(price.strip("$") or 0) <= float(bound.group(1))
        request = instruction.split(", and price lower than")[0]
        wanted = dict(re.findall(r"([a-z ]+): ([^,]+)", request.split(" with ")[-1])) if ": " in request else {}
        wanted = {k.replace("and ", "").strip(): v.strip() for k, v in wanted.items()}
        n_opt = sum(1 for k, v in wanted.items() if b["options"].get(k) == v)
        attrs_text = re.sub(r" with [a-z ]+: .*$", "", request)[len("Find me "):]
        n_attr = len([p for p in re.split(r", | with ", attrs_text) if p.strip()])
        if not _words(title) & _words(attrs_text):
            return 0.0
        return (n_attr + n_opt + price_ok) / (n_attr + len(wanted) + 1)

    def predict_belief(self, belief, action):
        b = dict(belief)
        b["reward"], b["done"], b["pred"] = 0.0, False, belief["obs"]
        m = _ACTION.match(action)
        name, arg = (m.group(1), m.group(2).lower()) if m else (action, None)
        if name == "search" and arg:
            b["keywords"], b["page"], b["asin"], b["options"] = arg, 1, None, {}
            b["key"], b["pred"] = self._results(b, arg, 1)
        elif name == "click" and arg in self.clickables(belief) and arg != "search":
            if arg == "buy now":
                b["done"], b["reward"] = True, self._reward(b)
                b["pred"] = SEP.join(["Thank you for shopping with us!", "Your code:", "None",
                                      "(Paste it in your MTurk interface.)", "Purchased", "asin", str(b["asin"]),
                                      "options", json.dumps(b["options"], sort_keys=True), "attrs", "None", "category",
                                      "None", "query", "None", "product category", "None", "Target", "asin", "options",
                                      "attrs", "price upper", "instuction text", "category", "product category",
                                      "query", "Goal", "None", "Reward", "Your score (min 0.0, max 1.0)",
                                      str(b["reward"]), "Reward Details", "None"])
            elif arg == "back to search":
                b["pred"] = SEP.join(["WebShop", "Instruction:", b["instruction"], "Search"])
                b["keywords"], b["asin"], b["options"] = None, None, {}
            elif arg in ("next >", "< prev") and belief["kind"] == "results":
                b["page"] = belief["page"] + (1 if arg == "next >" else -1)
                b["key"], b["pred"] = self._results(b, belief["keywords"] or "", b["page"])
            elif arg == "< prev" and belief["kind"] == "item":
                b["asin"], b["options"], b["pred"] = None, {}, belief["results_obs"]
                b["key"] = ("results", belief["keywords"], belief["page"])
            elif arg == "< prev":
                b["pred"] = belief["item_obs"]
            elif arg in ("description", "features", "reviews"):
                b["key"], b["pred"] = self._sub(b, arg)
            elif belief["kind"] == "results":
                b["asin"], b["options"] = arg.upper(), {}
                b["pred"] = self._item(b, arg.upper())
            else:
                groups = [s for s in belief["obs"].split(SEP) if s in GROUPS]
                parsed = belief["obs"].split(SEP)
                group = next((g for g in reversed(groups) if parsed.index(g) < parsed.index(arg)), "option")
                b["options"] = {**belief["options"], group: arg}
        return b

    def predict_reward_done(self, belief, action):
        nxt = self.predict_belief(belief, action)
        return nxt["reward"], nxt["done"]

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
