"""WebShop's Buy Now reward (goal.py:141-279, normalize.py:4-62), fuzzy matching by ``thefuzz``.

``reward = (n_attr + n_opt + r_price) / (len(goal attributes) + len(goal options) + 1) * r_type``:

* attributes: a goal attribute counts if some product attribute has ``token_set_ratio > 85``,
  else if it is a substring of the lower-cased title, features or description;
* options: purchased values are colour-normalised (first ``COLOR_SET`` word contained in the
  string); goal options are ``(name, value)`` tuples (the upstream quirk), compared through
  ``str(tuple)``; each goal option counts once if some purchased value scores ``> 85``;
* price: ``price <= price_upper``;
* type: 1.0, 0.5 when neither query, category (>= 2 shared levels) nor title nouns (> 0.2)
  match, 0.1 below 0.1 title-noun overlap, 0.0 with none. The noun lists come from the
  shipped ``title_nouns.json`` (spaCy's NOUN/PROPN tokens upstream); the overlap is the size
  of the set intersection over the length of the goal's noun list, as upstream divides.

``thefuzz`` 0.19.0 without python-Levenshtein (difflib's SequenceMatcher) is what the
recordings used; with python-Levenshtein installed thefuzz switches matcher and a few
borderline scores can differ.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

with warnings.catch_warnings():  # thefuzz warns that it uses difflib, which is what the recordings used
    warnings.simplefilter("ignore")
    from thefuzz import fuzz

__all__ = ["COLOR_SET", "normalize_color", "type_reward", "attribute_matches", "option_matches", "get_reward",
           "token_set_ratio"]

COLOR_SET = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush", "bordeaux",
    "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah", "chestnut",
    "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal", "dark", "denim",
    "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite", "grass", "gray", "green",
    "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light", "lilac", "lime",
    "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor", "mushroom", "mustard",
    "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink", "plum", "purple", "rainbow", "red",
    "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull", "slate", "steel", "stone",
    "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise", "violet", "walnut", "wheat", "white",
    "wine", "yellow",
)
"""normalize.py's colour list, in its order (the first contained colour wins)."""

token_set_ratio: Callable[[Any, Any], int] = fuzz.token_set_ratio


def normalize_color(value: Any) -> Any:
    """The first colour ``in`` the value (substring for a string, membership for a tuple), else the value."""
    for color in COLOR_SET:
        if color in value:
            return color
    return value


def type_reward(product: dict[str, Any], goal: dict[str, Any], nouns: Callable[[str], list[str]]) -> float:
    """``r_type`` of goal.py:141-186 with ``nouns(title)`` in place of spaCy."""
    query_match = product["query"] == goal["query"]
    bought = {x.strip() for x in product["product_category"].split("›")}
    wanted = {x.strip() for x in goal["product_category"].split("›")}
    category_match = len(bought & wanted) >= 2
    bought_nouns, wanted_nouns = nouns(product["name"]), nouns(goal["name"])
    shared = len(set(bought_nouns) & set(wanted_nouns))
    title_score = 0.2 if not wanted_nouns else shared / len(wanted_nouns)
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type


def attribute_matches(product: dict[str, Any], goal_attributes: Iterable[str]) -> int:
    """How many goal attributes the product has (fuzzy over ``Attributes``, else a text substring)."""
    title = product["Title"].lower()
    features = " ".join(product["BulletPoints"]).lower()
    description = product["Description"].lower()
    count = 0
    for wanted in goal_attributes:
        if any(token_set_ratio(have, wanted) > 85 for have in product["Attributes"]):
            count += 1
        elif wanted in title or wanted in features or wanted in description:
            count += 1
    return count


def option_matches(purchased: Iterable[str], goal_options: dict[str, str]) -> int:
    """How many goal options some purchased value matches (goal options as ``(name, value)`` tuples)."""
    bought = [normalize_color(o) for o in purchased]
    wanted = [normalize_color(o) for o in goal_options.items()]
    return sum(1 for g in wanted if any(token_set_ratio(p, g) > 85 for p in bought))


def get_reward(product: dict[str, Any], goal: dict[str, Any], price: float, options: dict[str, str],
               nouns: Callable[[str], list[str]]) -> float:
    """The Buy Now reward in [0, 1] for buying ``product`` with the session ``options``."""
    r_price = price <= goal["price_upper"]
    n_attr = attribute_matches(product, goal["attributes"])
    n_opt = option_matches(list(options.values()), goal["goal_options"])
    total = (n_attr + n_opt + r_price) / (len(goal["attributes"]) + len(goal["goal_options"]) + 1)
    return total * type_reward(product, goal, nouns)
