"""WebShop-lite catalogue: products, goals and search documents, built exactly as the original does.

Reads a catalogue folder in the original product-file format (``items_shuffle.json``,
``items_ins.json``) plus the noun table ``title_nouns.json`` that stands in for spaCy, and
derives what WebShop's ``load_products`` (engine.py:230-362), ``get_synthetic_goals``
(goal.py:76-138, then ``random.seed(233); random.shuffle``, text_env.py:306-307) and
``convert_product_file_format.py`` derive from them. Nothing here is random beyond the
original's fixed seed 233, so a catalogue folder fixes every goal and every search result.
The shipped folder is ``data/envs/webshop`` (390 products, 913 goals);
:mod:`patchworld.envs.webshop_gen` writes bigger ones.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DATA_DIR", "Catalogue", "load_catalogue", "load_products", "synthetic_goals", "search_documents"]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "envs" / "webshop"
PRICE_RANGE = [10.0 * i for i in range(1, 100)]  # goal.py: upper price bounds on offer
GOAL_SEED = 233


def _price(raw: Any) -> tuple[list[float], str]:
    """``pricing`` floats and the ``Price`` text, as engine.py:288-303 parse the raw string."""
    if raw is None or not raw:
        return [100.0], "$100.0"
    pricing = [float(Decimal(re.sub(r"[^\d.]", "", piece))) for piece in raw.split("$")[1:]]
    if len(pricing) == 1:
        return pricing, f"${pricing[0]}"
    return pricing[:2], f"${pricing[0]} to ${pricing[1]}"


def load_products(raw_products: list[dict], attributes: dict[str, dict],
                  num_products: int | None = None) -> list[dict[str, Any]]:
    """The loaded product dicts, in catalogue order (engine.py:230-362 with ``human_goals`` off).

    Skips ``asin == 'nan'``, asins longer than 10 characters and repeated asins; ``Reviews``
    are empty and ``Rating`` is ``N.A.`` because the original never reads a review file here.
    """
    products: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_products[:num_products] if num_products is not None else raw_products):
        try:
            product = _load_product(raw, attributes, seen)
        except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError) as exc:
            field_name = exc.args[0] if isinstance(exc, KeyError) else f"a malformed value ({exc})"
            raise ValueError(f"product {index} (asin {raw.get('asin') if isinstance(raw, dict) else '?'!r}): "
                             f"field {field_name}") from exc
        if product is not None:
            products.append(product)
    return products


def _load_product(raw: dict, attributes: dict[str, dict], seen: set[str]) -> dict[str, Any] | None:
    """One product as engine.py loads it; None for a skipped asin."""
    asin = raw["asin"]
    if asin == "nan" or len(asin) > 10 or asin in seen:
        return None
    seen.add(asin)
    pricing, price_text = _price(raw.get("pricing"))
    bullets = raw["small_description"]
    options: dict[str, list[str]] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents is None:
            continue
        options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
    entry = attributes.get(asin, {})
    return {
        "asin": asin, "name": raw["name"], "Title": raw["name"], "Description": raw["full_description"],
        "BulletPoints": bullets if isinstance(bullets, list) else [bullets],
        "pricing": pricing, "Price": price_text, "Reviews": [], "Rating": "N.A.", "options": options,
        "Attributes": entry["attributes"] if "attributes" in entry else ["DUMMY_ATTR"],
        "instruction_text": entry.get("instruction"), "instruction_attributes": entry.get("instruction_attributes"),
        "category": raw["category"], "query": raw["query"].lower().strip(),
        "product_category": raw["product_category"],
    }


def product_prices(products: list[dict[str, Any]]) -> dict[str, float]:
    """``asin -> price`` (engine.py:180-192); a two-price product gets its low price here.

    The original draws an unseeded ``random.uniform`` for two prices; generated catalogues
    have one price per product, so this never matters for them.
    """
    return {p["asin"]: (p["pricing"][0] if p["pricing"] else 100.0) for p in products}


def synthetic_goals(products: list[dict[str, Any]], prices: dict[str, float]) -> list[dict[str, Any]]:
    """All goals in final (shuffled) order: task id N is element N (goal.py:76-138, text_env.py:306)."""
    rng = random.Random(GOAL_SEED)
    goals: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for product in products:
        if product.get("instruction_text") is None:
            continue
        attributes = product["instruction_attributes"]
        price_range = [p for p in PRICE_RANGE if p > prices[product["asin"]]][:4]
        if len(price_range) >= 2:
            _, price_upper = sorted(rng.sample(price_range, 2))
            price_text = f", and price lower than {price_upper:.2f} dollars"
        else:
            price_upper, price_text = 1000000, ""
        names = sorted(product["options"])
        for combination in itertools.product(*(product["options"][n] for n in names)):
            goal_options = dict(zip(names, combination, strict=True))
            option_text = ", and ".join(f"{k}: {v}" for k, v in goal_options.items())
            option_text = " with " + option_text if option_text else ""
            goals.append({
                "asin": product["asin"], "category": product["category"], "query": product["query"],
                "name": product["Title"], "product_category": product["product_category"],
                "instruction_text": f"{product['instruction_text']}{option_text}{price_text}",
                "attributes": attributes, "price_upper": price_upper, "goal_options": goal_options,
            })
            for att in attributes:
                counts[att] = counts.get(att, 0) + 1
    for goal in goals:
        goal["weight"] = sum(1.0 / counts[a] for a in goal["attributes"]) / len(goal["attributes"])
    random.Random(GOAL_SEED).shuffle(goals)
    return goals


def search_documents(products: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The search index documents (``id``, ``contents``) as ``convert_product_file_format.py`` builds them."""
    docs = []
    for p in products:
        option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in p["options"].items())
        contents = " ".join([p["Title"], p["Description"], p["BulletPoints"][0], option_text]).lower()
        docs.append({"id": p["asin"], "contents": contents})
    return docs


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Everything the simulated site knows, loaded once per folder and shared by every env."""

    folder: Path
    products: list[dict[str, Any]]
    by_asin: dict[str, dict[str, Any]]
    prices: dict[str, float]
    goals: list[dict[str, Any]]
    nouns: dict[str, list[str]]
    documents: list[dict[str, str]]
    by_title: dict[str, list[str]] = field(default_factory=dict)

    def title_nouns(self, title: str) -> list[str]:
        """Noun tokens of a title (the shipped stand-in for spaCy's NOUN/PROPN tokens)."""
        return self.nouns.get(title, [])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{path}: WebShop catalogue file missing") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from exc


@lru_cache(maxsize=4)
def load_catalogue(folder: str | Path = DATA_DIR, num_products: int | None = None) -> Catalogue:
    """Load (once per folder) a catalogue folder; ``num_products`` keeps only the first N like AgentGym's cap."""
    root = Path(folder)
    try:
        products = load_products(_read_json(root / "items_shuffle.json"), _read_json(root / "items_ins.json"),
                                 num_products)
    except ValueError as exc:
        raise ValueError(f"{root / 'items_shuffle.json'}: {exc}") from exc
    prices = product_prices(products)
    by_title: dict[str, list[str]] = {}
    for p in products:
        by_title.setdefault(p["Title"], []).append(p["asin"])
    return Catalogue(folder=root, products=products, by_asin={p["asin"]: p for p in products}, prices=prices,
                     goals=synthetic_goals(products, prices), nouns=_read_json(root / "title_nouns.json"),
                     documents=search_documents(products), by_title=by_title)
