"""WebShop-lite search: ``rank_bm25`` BM25Okapi in place of pyserini, plus the original's special keywords.

Rules (``shared/envspecs/webshop.md`` §6, ``search_engine.json``): ``tokenize(s) =
re.findall('[a-z0-9]+', s.lower())``; ``BM25Okapi`` with its defaults (k1 1.5, b 0.75,
epsilon 0.25) over the documents in catalogue order; hits ordered by ``(-score, index)``,
the first 50 kept, then those scoring ``<= 0`` dropped.

Before the index is asked, ``get_top_n_product_from_keywords`` (engine.py:148-170) looks at
the first keyword: ``<r>`` returns 50 random products (unseeded upstream; here drawn from a
``random.Random`` the caller seeds so episodes stay reproducible), ``<a> attr`` indexes an
attribute table AgentGym never builds (``TypeError``, a server error upstream), ``<c> cat``
all products of a category, ``<q> query`` all products of a query. The BM25 scores are the
hidden relevance state of the site: nothing an agent sees contains them, only the order.
"""

from __future__ import annotations

import random
import re
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from rank_bm25 import BM25Okapi

__all__ = ["SEARCH_RETURN_N", "PRODUCT_WINDOW", "tokenize", "SearchEngine", "top_n_products", "page_slice"]

SEARCH_RETURN_N = 50
PRODUCT_WINDOW = 10
_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased ``[a-z0-9]+`` runs: no stemming, no stop words (the recordings' analyser)."""
    return _TOKEN.findall(text.lower())


class SearchEngine:
    """BM25Okapi over the catalogue's search documents; ``search`` returns asins best first."""

    def __init__(self, documents: list[dict[str, str]]) -> None:
        self.ids = [d["id"] for d in documents]
        self._bm25 = BM25Okapi([tokenize(d["contents"]) for d in documents])
        self._search = lru_cache(maxsize=512)(self._search_uncached)

    def scores(self, query: str) -> np.ndarray:
        """Relevance of every document for ``query`` (hidden from agents; for tests and tools)."""
        return self._bm25.get_scores(tokenize(query))

    def search(self, query: str, k: int = SEARCH_RETURN_N) -> list[str]:
        """Asins of the top ``k`` documents with a positive score, ties broken by catalogue order."""
        return list(self._search(query, k))

    def _search_uncached(self, query: str, k: int) -> tuple[str, ...]:
        scores = self.scores(query)
        order = np.argsort(-scores, kind="stable")[:k]  # stable: equal scores keep catalogue order
        return tuple(self.ids[i] for i in order if scores[i] > 0)


def top_n_products(keywords: list[str], engine: SearchEngine, products: list[dict[str, Any]],
                   by_asin: dict[str, dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The result list for a keyword list, special keywords included (engine.py:148-170).

    Raises what the original raises: ``TypeError`` for ``<a>`` (no attribute table),
    ``IndexError`` for ``<c>`` with nothing after it, ``ValueError`` for ``<r>`` on a
    catalogue smaller than 50.
    """
    first = keywords[0]
    if first == "<r>":
        return rng.sample(products, k=SEARCH_RETURN_N)
    if first == "<a>":
        attribute_to_asins = None  # AgentGym's text env never passes the attribute table
        attribute = " ".join(keywords[1:]).strip()
        asins = attribute_to_asins[attribute]  # type: ignore[index]  # raises TypeError like upstream
        return [p for p in products if p["asin"] in asins]
    if first == "<c>":
        category = keywords[1].strip()
        return [p for p in products if p["category"] == category]
    if first == "<q>":
        query = " ".join(keywords[1:]).strip()
        return [p for p in products if p["query"] == query]
    return [by_asin[a] for a in engine.search(" ".join(keywords)) if a in by_asin]


def page_slice(results: list[dict[str, Any]], page: int) -> list[dict[str, Any]]:
    """The products shown on results page ``page`` (10 per page; Python slicing, as upstream)."""
    return results[(page - 1) * PRODUCT_WINDOW:page * PRODUCT_WINDOW]
