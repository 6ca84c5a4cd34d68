"""The simulated WebShop site: sessions, page routing and the browser, ported from the text env.

A line-by-line port of ``SimServer.receive`` / ``SimBrowser`` and ``WebAgentTextEnv.step``
(text_env.py:84-146, 238-258, 353-611) over :mod:`.webshop_pages` instead of HTML. The
browser keeps the current page and URL; which page ``< Prev`` returns to is decided, as
upstream, by a substring test on that URL (which also contains the keywords). A request
that fails upstream (an unknown task, ``search[<a> ...]``, a click that needs a product
after such a failed search) raises the same Python exception here, after the same session
changes, and leaves the browser on its previous page, as the server's HTTP 500 does.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from patchworld.envs.webshop_catalogue import Catalogue
from patchworld.envs.webshop_pages import (
    SUB_PAGES,
    Page,
    done_page,
    item_page,
    results_page,
    search_page,
    sub_page,
)
from patchworld.envs.webshop_reward import get_reward
from patchworld.envs.webshop_search import SearchEngine, page_slice, top_n_products

__all__ = ["BASE_URL", "Site", "parse_action", "search_engine"]

BASE_URL = "http://127.0.0.1:3000"
END_BUTTON, NEXT_PAGE, PREV_PAGE, BACK_TO_SEARCH = "Buy Now", "Next >", "< Prev", "Back to Search"
_ACTION = re.compile(r"(.+)\[(.+)\]")


@lru_cache(maxsize=4)
def search_engine(catalogue: Catalogue) -> SearchEngine:
    """One BM25 index per loaded catalogue."""
    return SearchEngine(catalogue.documents)


def parse_action(action: str) -> tuple[str, str | None]:
    """engine.py's ``parse_action``: greedy ``(.+)\\[(.+)\\]`` anchored at the start only."""
    m = _ACTION.match(action)
    return (action, None) if m is None else (m.group(1), m.group(2))


def page_name(url: str | None) -> str | None:
    """The page a URL points at, by substring in this order (text_env.py:598-611)."""
    if url is None:
        return None
    for name in ("search_results", "item_page", "item_sub_page", "done"):
        if name in url:
            return name
    return ""


@dataclass
class Site:
    """Server and browser of one env: all sessions, the current page and URL."""

    catalogue: Catalogue
    show_attrs: bool = False
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    page: Page | None = None
    url: str | None = None
    session_id: str | None = None

    def copy(self) -> Site:
        """An independent copy (sessions deep-copied; the catalogue is shared, it never changes)."""
        return Site(self.catalogue, self.show_attrs, copy.deepcopy(self.sessions), self.page, self.url, self.session_id)

    # -- browser -----------------------------------------------------------------------------------------
    def reset(self, session: int) -> Page:
        """``reset(session=N)``: open ``BASE_URL/N`` (goal ``goals[N]`` the first time the key is seen)."""
        session_id = str(session)
        page, _, _ = self.receive(session_id, self.url, session_int=session)
        self.session_id, self.page, self.url = session_id, page, f"{BASE_URL}/{session_id}"
        return page

    def step(self, action: str) -> tuple[Page, float, bool]:
        """``WebAgentTextEnv.step``: search from any page, click what the current page offers, else nothing."""
        assert self.page is not None and self.session_id is not None
        clickables = self.page.clickables
        name, arg = parse_action(action)
        if arg is not None:
            arg = arg.lower()
        status = {"reward": 0.0, "done": False}
        if name == "search" and arg is not None and arg != "":
            self.page, self.url, status = self.receive(self.session_id, self.url, keywords=arg.split(" "))
        elif name == "click" and arg in clickables and arg != "search":
            self.page, self.url, status = self.receive(self.session_id, self.url, clickable_name=arg)
        return self.page, float(status["reward"]), bool(status["done"])

    # -- server ------------------------------------------------------------------------------------------
    def receive(self, session_id: str, current_url: str | None, session_int: int | None = None,
                **kwargs: Any) -> tuple[Page, str, dict[str, Any]]:
        """``SimServer.receive``: route a request to a page; returns (page, url, status)."""
        status: dict[str, Any] = {"reward": 0.0, "done": False}
        if session_id not in self.sessions:
            goal = self.catalogue.goals[session_int]  # type: ignore[index]  # IndexError/TypeError like upstream
            self.sessions[session_id] = {"goal": goal, "done": False}
        session = self.sessions[session_id]
        if not kwargs:
            page, url = search_page(session["goal"]["instruction_text"]), f"{BASE_URL}/{session_id}"
            session.update({"keywords": None, "page": None, "asin": None, "asins": set(), "options": {},
                            "searches": session.get("searches", 0)})
        elif "keywords" in kwargs:
            page, url = self.search_results(session_id, **kwargs)
        else:
            clicked = kwargs["clickable_name"].lower()
            where = page_name(current_url)
            if clicked == END_BUTTON.lower():
                page, url, reward = self.done(session_id)
                status = {"reward": reward, "done": True}
            elif clicked == BACK_TO_SEARCH.lower():
                page, url, status = self.receive(session_id, current_url)
            elif clicked == NEXT_PAGE.lower() and where == "search_results":
                page, url, status = self.receive(session_id, current_url, keywords=session["keywords"],
                                                 page=session["page"] + 1)
            elif clicked == PREV_PAGE.lower() and where == "search_results":
                page, url, status = self.receive(session_id, current_url, keywords=session["keywords"],
                                                 page=session["page"] - 1)
            elif clicked == PREV_PAGE.lower() and where == "item_sub_page":
                page, url = self.item_page(session_id, clicked)
            elif clicked == PREV_PAGE.lower() and where == "item_page":
                page, url = self.search_results(session_id, keywords=session["keywords"], page=session["page"])
            elif clicked in [k.lower() for k in SUB_PAGES]:
                page, url = self.sub_page(session_id, clicked)
            else:
                page, url = self.item_page(session_id, clicked)
        return page, url, status

    def search_results(self, session_id: str, keywords: list[str], page: int = 1) -> tuple[Page, str]:
        session = self.sessions[session_id]
        session.update({"page": page, "keywords": keywords, "asin": None, "options": {}})
        session["searches"] = session.get("searches", 0) + 1
        rng = random.Random(f"webshop-random-search-{session_id}-{session['searches']}")  # '<r>' (unseeded upstream)
        results = top_n_products(keywords, search_engine(self.catalogue), self.catalogue.products,
                                 self.catalogue.by_asin, rng)
        url = f"{BASE_URL}/search_results/{session_id}/{'+'.join(keywords)}/{page}"
        html = results_page(session["goal"]["instruction_text"], page, len(results), page_slice(results, page))
        return html, url

    def item_page(self, session_id: str, clicked: str) -> tuple[Page, str]:
        session = self.sessions[session_id]
        assert self.page is not None
        element = self.page.clickables[clicked]
        if element.kind == "product-link":
            session["asin"] = clicked.upper()
            session["asins"].add(session["asin"])
        elif element.name is not None:
            session["options"][element.name.lower()] = clicked
        product = self.catalogue.by_asin[session["asin"]]
        url = (f"{BASE_URL}/item_page/{session_id}/{session['asin']}/{'+'.join(session['keywords'])}/"
               f"{session['page']}/{json.dumps(session['options'])}")
        return item_page(session["goal"]["instruction_text"], product, self.show_attrs), url

    def sub_page(self, session_id: str, clicked: str) -> tuple[Page, str]:
        session = self.sessions[session_id]
        which = next(k for k in SUB_PAGES if k.lower() == clicked.lower())
        product = self.catalogue.by_asin[session["asin"]]
        url = (f"{BASE_URL}/item_sub_page/{session_id}/{session['asin']}/{'+'.join(session['keywords'])}/"
               f"{session['page']}/{which}/{session['options']}")
        return sub_page(session["goal"]["instruction_text"], product, which), url

    def done(self, session_id: str) -> tuple[Page, str, float]:
        session = self.sessions[session_id]
        product = self.catalogue.by_asin[session["asin"]]
        price = self.catalogue.prices.get(session["asin"])
        reward = get_reward(product, session["goal"], price, session["options"], self.catalogue.title_nouns)
        session.update({"done": True, "reward": reward})
        url = f"{BASE_URL}/done/{session_id}/{session['asin']}/{session['options']}"
        return done_page(session["asin"], session["options"], reward), url, reward
