"""WebShop's pages as the text env sees them: visible text segments and clickables, no HTML.

The original renders a Jinja template, parses it with BeautifulSoup and joins the visible
text nodes (each stripped; nodes that are exactly a newline dropped) with ``" [SEP] "``
(text_env.py:208-214). Its clickables are the lower-cased texts of ``.btn`` elements and
``a.product-link`` in document order, then the ``value`` of every radio input, collected
into a dict (a repeated key keeps its first position and maps to the last element).
Each builder below lists, in template order, exactly the text nodes and clickables of one
template (``shared/envspecs/webshop.md`` §4-5), so ``Page.text`` is the observation byte
for byte and ``Page.clickables`` the server's ``available_actions``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Clickable", "Page", "search_page", "results_page", "item_page", "sub_page", "done_page", "tojson",
           "SUB_PAGES"]

SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
"""engine.py's ACTION_TO_TEMPLATE keys, in its order."""


@dataclass(frozen=True)
class Clickable:
    """What a clickable text points at: a button, a product link or an option radio (with its group)."""

    kind: str  # "btn" | "product-link" | "radio"
    name: str | None = None  # the radio's group name


@dataclass(frozen=True)
class Page:
    """One rendered page: its kind, visible text segments and clickables (text -> element)."""

    kind: str  # "index" | "search_results" | "item_page" | "item_sub_page" | "done"
    segments: tuple[str, ...]
    clickables: dict[str, Clickable] = field(default_factory=dict)
    has_search_bar: bool = False

    @property
    def text(self) -> str:
        """The observation: segments joined with ``" [SEP] "``."""
        return " [SEP] ".join(self.segments)


def _node(value: Any) -> list[str]:
    """A template value rendered alone in an element: no node when empty, dropped when exactly a newline."""
    text = str(value)
    return [] if text in ("", "\n") else [text.strip()]


def _padded(value: Any) -> list[str]:
    """A value rendered after one space (``<p> {{x}}</p>``): always a node, possibly empty after strip."""
    return [f" {value}".strip()]


def _clickables(buttons: list[str], links: list[str] = (), radios: list[tuple[str, str]] = ()) -> dict[str, Clickable]:
    table: dict[str, Clickable] = {}
    for text in buttons:
        table[text.lower()] = Clickable("btn")
    for text in links:
        table[text.lower()] = Clickable("product-link")
    for value, group in radios:
        table[value] = Clickable("radio", group)
    return table


def _header(instruction: str) -> list[str]:
    return ["Instruction:", *_node(instruction), "Back to Search"]


def search_page(instruction: str) -> Page:
    """The index page (reset, Back to Search): the only page with a search bar."""
    return Page("index", ("WebShop", "Instruction:", *_node(instruction), "Search"), _clickables(["Search"]), True)


def results_page(instruction: str, page: int, total: int, products: list[dict[str, Any]]) -> Page:
    """Results page ``page`` of ``total`` hits showing ``products`` (asin, title, price each)."""
    segments = [*_header(instruction), f"Page {page} (Total results: {total})"]
    buttons = ["Back to Search"]
    if page > 1:
        segments.append("< Prev")
        buttons.append("< Prev")
    segments.append("Next >")
    buttons.append("Next >")
    for item in products:
        segments += [*_node(item["asin"]), *_node(item["Title"]), *_node(item["Price"])]
    return Page("search_results", tuple(segments), _clickables(buttons, [p["asin"] for p in products]))


def item_page(instruction: str, product: dict[str, Any], show_attrs: bool = False) -> Page:
    """A product page: option groups with their values, title, price, rating, sub-page buttons, Buy Now."""
    segments = [*_header(instruction), "< Prev"]
    radios: list[tuple[str, str]] = []
    for name, values in product["options"].items():
        segments += _node(name)
        for value in values:
            segments += _node(value)
            radios.append((value, name))
    segments += [*_node(product["Title"]), f"Price: {product['Price']}".strip(), f"Rating: {product['Rating']}".strip()]
    buttons = ["Description", "Features", "Reviews"] + (["Attributes"] if show_attrs else [])
    segments += [*buttons, "Buy Now"]
    return Page("item_page", tuple(segments), _clickables(["Back to Search", "< Prev", *buttons, "Buy Now"], [], radios))


def sub_page(instruction: str, product: dict[str, Any], which: str) -> Page:
    """The Description, Features, Reviews or Attributes page of a product."""
    segments = [*_header(instruction), "< Prev"]
    if which == "Description":
        segments += _node(product["Description"])
    elif which == "Features":
        for bullet in product["BulletPoints"]:
            segments += _padded(bullet)
    elif which == "Reviews":
        for review in product["Reviews"]:  # always empty here: the text env never reads a review file
            segments += [f'"{review.get("title", "")}"', *_node(review.get("score", "")), *_node(review.get("body", ""))]
    elif which == "Attributes":
        for attribute in product["Attributes"]:
            segments += _padded(attribute)
        segments += [*_node(product["category"]), *_node(product["query"]), *_node(product["product_category"])]
    else:
        raise ValueError(f"unknown sub-page {which!r}")
    return Page("item_sub_page", tuple(segments), _clickables(["Back to Search", "< Prev"]))


def tojson(value: Any) -> str:
    """Flask's ``tojson`` filter: sorted keys, ASCII, and ``< > & '`` as ``\\u`` escapes."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")


def done_page(asin: str | None, options: dict[str, str], reward: float) -> Page:
    """The page after Buy Now; the hidden Target fields render empty because the text env passes no goal."""
    segments = ["Thank you for shopping with us!", "Your code:", "None", "(Paste it in your MTurk interface.)",
                "Purchased", "asin", *_node(asin), "options", *_node(tojson(options)), "attrs", "None", "category",
                "None", "query", "None", "product category", "None", "Target", "asin", "options", "attrs",
                "price upper", "instuction text", "category", "product category", "query", "Goal", "None", "Reward",
                "Your score (min 0.0, max 1.0)", str(reward), "Reward Details", "None"]
    return Page("done", tuple(segments), {})
