"""WebShop-lite (WebShop's text env as AgentGym serves it) as a live :class:`~patchworld.envs.base.TextEnv`.

Faithful to ``shared/envspecs/webshop.md``: the original site logic (pages, clickables,
sessions, reward with fuzzy attribute and option matching) on a generated catalogue
(:mod:`.webshop_catalogue`, shipped in ``data/envs/webshop``: 390 products, 913 goals),
``rank_bm25`` BM25 search in place of pyserini (:mod:`.webshop_search`), the spaCy noun
tagger replaced by a shipped noun table. Pages are built in :mod:`.webshop_pages`, the
server/browser logic lives in :mod:`.webshop_site`, the reward in :mod:`.webshop_reward`.
The hidden state is the backend: the catalogue, the BM25 relevance scores (never shown,
only their order) and the goal product; agents see the page text and the clickables.

Tasks: ``tasks`` is ``range(len(goals))`` (913); task N is AgentGym's ``session_id`` N and
plays goal N (negative ints index from the end, as the original's list does).

Return values:

* ``reset(task) -> str``: the search page, ``WebShop [SEP] Instruction: [SEP] <instruction>
  [SEP] Search`` (what the AgentGym client shows after its two-turn preamble, see
  :func:`conversation_start`). ``task >= len(goals)`` raises ``EnvError("list index out of
  range")`` (the original's IndexError; AgentGym's server answers HTTP 500) and leaves the
  previous episode as it was; a non-int task raises ``EnvError`` (the server's request model
  wants an int; without one the original draws a random goal).
* ``step(action) -> Step``: the new page's text byte for byte; ``reward`` a float, 0.0 except
  at ``click[buy now]`` where it is the purchase reward in [0, 1]; ``done`` only then. Invalid
  actions (unknown verb, ``search[]``, a click on something the page does not offer,
  ``click[search]``, an unclosed bracket, an empty string) change nothing and return the
  current page with 0.0, as the original does. A request the original fails with an
  exception (``search[<a> ...]``, or a product click after such a search) raises ``EnvError``
  with that exception's text. A non-string action raises ``EnvError``. The original never
  refuses a step after Buy Now (a search from the done page works again); the team protocol
  wants a refusal, so by default such a step raises ``EnvError(FINISHED)``, while
  ``WebShopEnv(continue_after_done=True)`` keeps executing like the server.
* ``available_actions() -> list[str]``: what AgentGym exposes, as actions: on the search
  page (the only one with a search bar) ``search[...]`` with keywords read off the visible
  instruction (its text before the options/price, and before the first `` with ``);
  elsewhere ``click[x]`` for each server clickable except ``search``. Empty before reset
  and after done. ``server_available_actions()`` gives the server's own dict.
* ``is_success() -> bool``: the episode ended with reward 1.0.
* ``progress(task, observation) -> float``: from the page the observation shows: search page
  0.0; results page 0.1 without hits, else 0.2; item page ``0.35 + 0.55 * r`` and its
  sub-pages the same, where ``r`` is the reward buying that product with the chosen options
  would give (product and options from this env's last page of ``task`` when the observation
  is that page, else the product whose title and price the item page shows, no options);
  done page: 1.0 for a score of 1.0, else ``0.35 + 0.55 * score`` (the item page's value for
  what was bought). Never reads the BM25 scores; monotone along expert episodes.
  It reads the catalogue and the goal: it is privileged, planners must not use it.
* ``goal_score(goal, observation) -> float`` (static, text only, what planners may use): reads
  the instruction in ``goal`` (the first observation) and the page in ``observation``. Done
  page: the score it shows. Item page: ``0.3 + 0.3 * t + 0.1 * p + 0.1 * o`` where ``t`` is the
  share of the request's words (instruction before options and price) in the title, ``p``
  whether the shown price is within the instruction's bound, ``o`` the share of the
  instruction's option values the page offers. Results page: ``0.1 + 0.2 * max t`` over the
  listed titles (0.05 with no hits); sub-pages 0.3; the search page and anything else 0.0.
* ``clone() -> WebShopEnv``: an independent copy (sessions copied, catalogue shared).

Speed (``.venv/bin/python benchmarks/webshop_env.py``, medians on the shared 2-core machine
under load ~11, maze's step = 2.7 us): the first env of a process loads the catalogue and
builds the BM25 index, ~40-50 ms wall (~10 ms CPU), later envs share it; ``reset`` 7 us
(2.6x a maze step); a click 16 us (6x); a search 37 us (14x) when its query was seen before
(results are cached per query), 0.77 ms (~280x) for a new query. On a generated 5,000-product
catalogue (``--catalogue-size 5000``) a new query costs ~6 ms CPU and the first env ~0.2 s CPU.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patchworld.envs.base import EnvError, Step, register
from patchworld.envs.webshop_catalogue import DATA_DIR, Catalogue, load_catalogue
from patchworld.envs.webshop_reward import get_reward
from patchworld.envs.webshop_search import tokenize
from patchworld.envs.webshop_site import Site

__all__ = ["WebShopEnv", "expert_action", "goal_score", "conversation_start", "FINISHED", "DESCRIPTION", "search_keywords"]

FINISHED = "The episode has finished (Buy Now); call reset(task) (the original server would keep executing)."
_SCORE = re.compile(r"Your score \(min 0\.0, max 1\.0\) \[SEP\] ([0-9.eE+-]+)")
_PRICE_SUFFIX = re.compile(r"(, and price lower than [0-9.]+ dollars)$")
_OPTION_TEXT = re.compile(r"[a-z ]+: ")

DESCRIPTION = (
    "WebShop (text mode, as served by AgentGym) is a simulated shopping website over a product catalogue. The "
    "first observation is the search page 'WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search', where "
    "the instruction asks for a product with attributes, option values and a price bound, e.g. 'Find me machine "
    "washable bath towels with color: green, and size: 4 piece, and price lower than 90.00 dollars'. Every "
    "observation is the visible text of the current page, segments joined by ' [SEP] '. Actions: "
    "'search[keywords]' (works from any page) shows results page 1: 'Instruction: [SEP] <instruction> [SEP] Back "
    "to Search [SEP] Page 1 (Total results: T) [SEP] Next > [SEP] <ASIN> [SEP] <title> [SEP] <price> ...' with "
    "10 products per page, at most 50 results ranked by a hidden BM25 relevance score ('< Prev' appears from page "
    "2; 'Next >' is always there, even past the last page). 'click[x]' works only for what the current page "
    "offers (lower-case text): 'back to search', 'next >', '< prev', a product's asin in lower case on a results "
    "page; on an item page 'description', 'features', 'reviews', 'buy now' and option values. An item page reads "
    "'Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] < Prev [SEP] <option group> [SEP] <value> ... "
    "[SEP] <title> [SEP] Price: $<price> [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] "
    "Buy Now'; clicking an option value selects it (one per group, the page text does not change); '< Prev' goes "
    "back to the results page (selected options are cleared) or from a sub-page to the item page. Sub-pages show "
    "the description, the feature bullets, or no reviews. Anything else (unknown verb, 'search[]', a click on "
    "something not offered) leaves the page unchanged with reward 0. 'click[buy now]' ends the episode with a "
    "'Thank you for shopping with us! ...' page showing the purchased asin, the selected options as JSON and "
    "'Your score (min 0.0, max 1.0) [SEP] <reward>'; the reward is (matched goal attributes + matched goal "
    "options + price within bound) / (attributes + options + 1), times a product-type factor (0 for an unrelated "
    "product). All other steps give reward 0.0."
)


def conversation_start() -> list[dict[str, Any]]:
    """AgentGym's two-turn ReAct preamble shown before the first observation."""
    return json.loads((DATA_DIR / "conversation_start.json").read_text(encoding="utf-8"))


def search_keywords(instruction: str) -> list[str]:
    """Search keywords an agent can read off an instruction: its request without options/price, and before ' with '."""
    body = _PRICE_SUFFIX.sub("", instruction.strip())
    body = body[len("Find me "):] if body.startswith("Find me ") else body
    cut = body.rfind(" with ")
    request = body[:cut] if cut >= 0 and _OPTION_TEXT.match(body, cut + len(" with ")) else body
    head = body.split(" with ")[0].strip()
    return [k for k in dict.fromkeys([request.strip(), head]) if k]


class WebShopEnv:
    """A live WebShop-lite episode (see the module docstring for every return value)."""

    name = "webshop"

    def __init__(self, catalogue: str | Path | None = None, num_products: int | None = None,
                 show_attrs: bool = False, continue_after_done: bool = False) -> None:
        self.catalogue: Catalogue = load_catalogue(Path(catalogue) if catalogue else DATA_DIR, num_products)
        self.continue_after_done = continue_after_done
        self.site = Site(self.catalogue, show_attrs)
        self.task: int | None = None
        self.done = False
        self.reward = 0.0
        self._last_seen: dict[int, tuple[str, str | None, dict[str, str]]] = {}

    @property
    def tasks(self) -> Sequence[int]:
        return range(len(self.catalogue.goals))

    @property
    def goal(self) -> dict[str, Any]:
        """The current goal (hidden from agents except through its instruction text)."""
        if self.site.session_id is None:
            raise EnvError("call reset(task) before asking for the goal")
        return self.site.sessions[self.site.session_id]["goal"]

    @property
    def session(self) -> dict[str, Any]:
        """The server's session record of the current episode (keywords, page, asin, options)."""
        if self.site.session_id is None:
            raise EnvError("call reset(task) before asking for the session")
        return self.site.sessions[self.site.session_id]

    def instruction_text(self) -> str:
        """AgentGym's ``GET /instruction_text``: ``'Instruction: ' + instruction``."""
        return "Instruction: " + self.goal["instruction_text"]

    def reset(self, task: int) -> str:
        if not isinstance(task, int) or isinstance(task, bool):
            raise EnvError(f"task must be an int session id, got {type(task).__name__} {task!r}")
        try:
            page = self.site.reset(task)
        except IndexError as exc:
            raise EnvError(str(exc)) from exc
        self.task, self.done, self.reward = task, False, 0.0
        self._remember(page.text)
        return page.text

    def step(self, action: str) -> Step:
        if self.site.page is None:
            raise EnvError("call reset(task) before step()")
        if self.done and not self.continue_after_done:
            raise EnvError(FINISHED)
        if not isinstance(action, str):
            raise EnvError(f"action must be a string, got {type(action).__name__}")
        try:
            page, reward, done = self.site.step(action)
        except Exception as exc:  # the original fails this request with an exception (HTTP 500)
            raise EnvError(str(exc)) from exc
        self.done = self.done or done
        if done:
            self.reward = reward
        self._remember(page.text)
        return Step(page.text, reward, done, {})

    def server_available_actions(self) -> dict[str, Any]:
        """The server's ``/available_actions``: ``{"has_search_bar": bool, "clickables": [...]}``."""
        page = self.site.page
        if page is None:
            return {"has_search_bar": False, "clickables": []}
        return {"has_search_bar": page.has_search_bar, "clickables": list(page.clickables)}

    def available_actions(self) -> list[str]:
        page = self.site.page
        if page is None or (self.done and not self.continue_after_done):
            return []
        actions = [f"search[{k}]" for k in search_keywords(self.goal["instruction_text"])] if page.has_search_bar else []
        actions += [f"click[{c}]" for c in page.clickables if c != "search"]
        return actions

    def is_success(self) -> bool:
        return self.done and self.reward == 1.0

    def progress(self, task: int, observation: str) -> float:
        segments = observation.split(" [SEP] ")
        if observation.startswith("Thank you for shopping with us!"):
            found = _SCORE.search(observation)
            score = min(1.0, max(0.0, float(found.group(1)))) if found else 0.0
            return 1.0 if score == 1.0 else 0.35 + 0.55 * score
        if len(segments) < 4 or segments[0] != "Instruction:" or segments[2] != "Back to Search":
            return 0.0
        if segments[3].startswith("Page ") and "(Total results: " in segments[3]:
            return 0.1 if segments[3].endswith("(Total results: 0)") else 0.2
        if segments[3] != "< Prev":
            return 0.0
        product, options = self._shown_product(task, observation, segments)
        if product is None:
            return 0.35
        goal = self.catalogue.goals[task]
        value = get_reward(product, goal, self.catalogue.prices[product["asin"]], options, self.catalogue.title_nouns)
        return 0.35 + 0.55 * value

    @staticmethod
    def goal_score(goal: str, observation: str) -> float:
        """Text-only value of ``observation`` for the instruction in ``goal`` (module docstring)."""
        return goal_score(goal, observation)

    def _shown_product(self, task: int, observation: str,
                       segments: list[str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """The product (and chosen options) an item or sub-page shows: from this env's last page, else by title."""
        seen = self._last_seen.get(task)
        if seen is not None and seen[0] == observation and seen[1] is not None:
            return self.catalogue.by_asin.get(seen[1]), dict(seen[2])
        at = _rating_index(segments)
        if at is None:
            return None, {}
        title, price = segments[at - 2], segments[at - 1].removeprefix("Price: ")
        for asin in self.catalogue.by_title.get(title, []):
            if self.catalogue.by_asin[asin]["Price"] == price:
                return self.catalogue.by_asin[asin], {}
        return None, {}

    def clone(self) -> WebShopEnv:
        other = WebShopEnv.__new__(WebShopEnv)
        other.__dict__.update(self.__dict__)
        other.site = self.site.copy()
        other._last_seen = dict(self._last_seen)
        return other

    def _remember(self, observation: str) -> None:
        if self.task is not None:
            session = self.session
            self._last_seen[self.task] = (observation, session.get("asin"), dict(session.get("options") or {}))


def _instruction(text: str) -> str:
    segments = text.split(" [SEP] ")
    return segments[segments.index("Instruction:") + 1] if "Instruction:" in segments[:-1] else ""


def goal_score(goal: str, observation: str) -> float:
    """Instruction-vs-page match read from the two texts only (see the module docstring)."""
    instruction = _instruction(goal)
    if observation.startswith("Thank you for shopping with us!"):
        found = _SCORE.search(observation)
        return min(1.0, max(0.0, float(found.group(1)))) if found else 0.0
    segments = observation.split(" [SEP] ")
    if not instruction or len(segments) < 4 or segments[0] != "Instruction:" or segments[2] != "Back to Search":
        return 0.0
    wanted = set(tokenize(search_keywords(instruction)[0])) if search_keywords(instruction) else set()

    def share(title: str) -> float:
        return len(wanted & set(tokenize(title))) / len(wanted) if wanted else 0.0

    if segments[3].startswith("Page "):
        titles = segments[6 if segments[4] == "< Prev" else 5:][1::3]
        return 0.1 + 0.2 * max(map(share, titles)) if titles else 0.05
    at = _rating_index(segments)
    if at is None:
        return 0.3 if segments[3] == "< Prev" else 0.0
    bound = re.search(r"price lower than ([0-9.]+) dollars", instruction)
    price = re.match(r"Price: \$([0-9.]+)", segments[at - 1])
    price_ok = bool(bound and price and float(price.group(1)) <= float(bound.group(1)))
    asked = [v.strip() for v in re.findall(r"[a-z ]+: ([^,]+)", instruction.split(" with ")[-1])]
    offered = set(segments[4:at - 2])
    options = sum(v in offered for v in asked) / len(asked) if asked else 0.0
    return 0.3 + 0.3 * share(segments[at - 2]) + 0.1 * price_ok + 0.1 * options


def _rating_index(segments: list[str]) -> int | None:
    """Where an item page's ``Rating: ...`` segment is (title and price precede it), else None."""
    if segments[-1] != "Buy Now" or len(segments) < 11:
        return None
    at = max(i for i, seg in enumerate(segments) if seg.startswith("Rating: ") or i == 0)
    return at if at >= 6 else None


def expert_action(env: WebShopEnv) -> str:
    """The goal-driven expert: search the instruction's request, page to the goal product, pick its options, buy.

    It knows the goal product (hidden from agents). When the goal product is not among the
    results of the instruction search, it searches the product's exact title instead.
    """
    if env.site.page is None:
        raise EnvError("call reset(task) before asking the expert")
    goal, session, page = env.goal, env.session, env.site.page
    title_query = goal["name"].lower()
    if page.kind in ("index", "done"):
        return f"search[{search_keywords(goal['instruction_text'])[0]}]"
    if page.kind == "item_sub_page":
        return "click[< prev]"
    if page.kind == "item_page":
        if session["asin"] != goal["asin"]:
            return "click[< prev]"
        for name, value in goal["goal_options"].items():
            if session["options"].get(name) != value:
                return f"click[{value}]"
        return "click[buy now]"
    if goal["asin"].lower() in page.clickables:
        return f"click[{goal['asin'].lower()}]"
    total = int(re.search(r"Total results: (\d+)", page.segments[3]).group(1))  # type: ignore[union-attr]
    if session["page"] * 10 < min(total, 50) and session["page"] < 5:
        return "click[next >]"
    return f"search[{title_query}]"


register("webshop", WebShopEnv, expert=expert_action, description=DESCRIPTION)
