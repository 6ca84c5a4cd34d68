"""Replies in the shapes real models write: formats, tolerated malformed shapes, flexible matching,
and the whole-module checks that keep an incomplete module from costing a replay."""

from __future__ import annotations

import pytest

from patchworld.patches import Edit
from patchworld.proposers.llm_edits import parse_reply
from patchworld.proposers.llm_interpret import interpret
from patchworld.proposers.llm_match import EditFailed, closest_lines, module_problems, resolve

SRC = '''import re

MOVES = {"up": (-1, 0), "down": (1, 0)}


class Model:
    def predict_belief(self, belief, action):
        row, col = belief["pos"]
        delta = MOVES[action]
        row, col = row + delta[1], col + delta[0]
        return {"pos": (row, col)}

    def readout_observation(self, belief, action=""):
        row, col = belief["pos"]
        return f"at {row}, {col}"

    def correct_belief(self, belief, obs):
        return belief
'''
FIXED = SRC.replace("row + delta[1], col + delta[0]", "row + delta[0], col + delta[1]")
OLD = "        row, col = row + delta[1], col + delta[0]\n"
NEW = "        row, col = row + delta[0], col + delta[1]\n"
BLOCK = f"<<<<<<< SEARCH\n{OLD}=======\n{NEW}>>>>>>> REPLACE\n"

# shapes measured from real replies (issue 16), each unambiguous
SHAPES = {
    "plain": f"Swap the deltas.\n{BLOCK}",
    "fenced": f"Swap the deltas.\n```python\n{BLOCK}```\n",
    "marker_on_fence_line": f"Swap.\n```python <<<<<<< SEARCH\n{OLD}=======\n{NEW}>>>>>>> REPLACE```\n",
    "markdown_list": f"Swap.\n- <<<<<<< SEARCH\n{OLD}- =======\n{NEW}- >>>>>>> REPLACE\n",
    "bold_backticks": f"Swap.\n**`<<<<<<< SEARCH`**\n{OLD}`=======`\n{NEW}**`>>>>>>> REPLACE`**\n",
    "missing_open_marker": f"Swap.\n```python\n{OLD}=======\n{NEW}>>>>>>> REPLACE\n```\n",
    "headings": f"Swap.\n### SEARCH\n```python\n{OLD}```\n### REPLACE\n```python\n{NEW}```\n",
    "headings_unfenced": f"Swap.\n**SEARCH:**\n{OLD}\n**REPLACE:**\n{NEW}",
    "prose_pair": "Swap.\n**Search:** `row + delta[1], col + delta[0]` >>> Replace: `row + delta[0], col + delta[1]`\n",
    "unified_diff": f"Swap.\n```diff\n--- a.py\n+++ a.py\n@@ -9,3 +9,3 @@\n         delta = MOVES[action]\n-{OLD}+{NEW}"
                    "         return {\"pos\": (row, col)}\n```\n",
    "indent_drift": ("Swap.\n<<<<<<< SEARCH\n    delta = MOVES[action]\n" + OLD[4:] + "=======\n"
                     "    delta = MOVES[action]\n" + NEW[4:] + ">>>>>>> REPLACE\n"),
    "elided_lines": ("Swap.\n<<<<<<< SEARCH\n    def predict_belief(self, belief, action):\n        # ... existing code ...\n"
                     f"{OLD}=======\n    def predict_belief(self, belief, action):\n        # ... existing code ...\n"
                     f"{NEW}>>>>>>> REPLACE\n"),
    "whole_module": f"Here is the module.\n```python\n{FIXED}```\n",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_measured_shape_gives_the_intended_child(shape: str) -> None:
    outcome = interpret(SRC, SHAPES[shape], load=False)
    assert outcome.ok, outcome.reason
    assert outcome.child == FIXED
    assert outcome.note.startswith(("Swap", "Here is"))


def test_formats_and_tiers_are_recorded() -> None:
    assert parse_reply(SHAPES["unified_diff"]).format == "udiff"
    assert parse_reply(SHAPES["headings"]).format == "headings"
    assert parse_reply(SHAPES["prose_pair"]).format == "prose"
    assert "decorated marker" in parse_reply(SHAPES["markdown_list"]).repairs
    assert any("missing SEARCH" in r for r in parse_reply(SHAPES["missing_open_marker"]).repairs)
    assert interpret(SRC, SHAPES["plain"], load=False).tiers == ["exact"]
    assert interpret(SRC, SHAPES["indent_drift"], load=False).tiers == ["whitespace"]
    assert interpret(SRC, SHAPES["elided_lines"], load=False).tiers == ["elided"]


def test_replace_without_elision_replaces_the_whole_elided_span() -> None:
    edit = Edit("    def predict_belief(self, belief, action):\n        ...\n        return {\"pos\": (row, col)}\n",
                "    def predict_belief(self, belief, action):\n        return belief\n")
    child, tiers = resolve(SRC, [edit])
    assert "delta" not in child and "        return belief\n\n    def readout" in child and tiers == ["elided"]


def test_ragged_indentation_is_matched_and_reindented() -> None:
    search = "def readout_observation(self, belief, action=\"\"):\n  row, col = belief[\"pos\"]\n  return f\"at {row}, {col}\"\n"
    replace = search.replace("at {row}", "now at {row}")
    child, tiers = resolve(SRC, [Edit(search, replace)])
    assert '        return f"now at {row}, {col}"\n' in child and tiers == ["indent"]


def test_ambiguous_and_missing_blocks_are_refused_with_a_reason_for_the_model() -> None:
    with pytest.raises(EditFailed, match="matches 2 places"):
        resolve(SRC, [Edit('        row, col = belief["pos"]\n', "        pass\n")])
    paraphrase = Edit("        row, col = row + delta.dy, col + delta.dx\n", NEW)
    with pytest.raises(EditFailed) as info:
        resolve(SRC, [paraphrase])
    assert "not in the program" in str(info.value) and "delta = MOVES[action]" in str(info.value)
    with pytest.raises(EditFailed, match="change nothing"):
        resolve(SRC, [Edit(OLD, OLD)])
    first, last, block = closest_lines(SRC, paraphrase.search)
    assert first <= 10 <= last and "row + delta[1]" in block


def test_a_paraphrased_search_is_not_applied_fuzzily() -> None:
    near = OLD.replace("delta[1]", "delta[ 1 ]")   # similarity ~0.95, still not the program's text
    outcome = interpret(SRC, f"x\n<<<<<<< SEARCH\n{near}=======\n{NEW}>>>>>>> REPLACE\n", load=False)
    assert not outcome.ok and "closest lines" in outcome.reason


def test_unparseable_replies_say_why() -> None:
    assert "empty reply" in interpret(SRC, "   ", load=False).reason
    assert "markers without a complete block" in interpret(SRC, "<<<<<<< SEARCH\nx\n", load=False).reason
    assert "no SEARCH/REPLACE block" in interpret(SRC, "Just swap them.", load=False).reason
    same = interpret(SRC, f"Same.\n```python\n{SRC}```\n", load=False)
    assert not same.ok and "unchanged" in same.reason


def test_module_problems_catch_what_would_waste_a_replay() -> None:
    assert module_problems(SRC) == ""
    no_import = SRC.replace("import re\n", "") + "\nPATTERN = re.compile('x')\n"
    assert "re (line" in module_problems(no_import)
    assert "SyntaxError at line" in module_problems("class M:\n    def f(self)\n        pass\n")
    assert module_problems("x = 1\n") == "the module defines no class"
    tricky = ("import json as j\nfrom os import path\n\nclass M:\n    def f(self, a, *args, k=1, **kw):\n"
              "        try:\n            return [i for i in a if i]\n        except ValueError as exc:\n"
              "            return j.dumps(str(exc)) + path.sep + str(len(args) + k + len(kw))\n")
    assert module_problems(tricky) == ""
    whole = interpret(SRC, f"```python\n{no_import}```", load=False)
    assert not whole.ok and "re (line" in whole.reason


def test_a_whole_module_that_does_not_load_is_refused_by_the_sandbox() -> None:
    raises = "class Model:\n    raise RuntimeError('at import')\n"
    outcome = interpret(SRC, f"New.\n```python\n{raises}```\n", load=True)
    assert not outcome.ok and "does not load" in outcome.reason and "RuntimeError" in outcome.reason
    good = interpret(SRC, SHAPES["whole_module"], load=True)
    assert good.ok and good.child == FIXED
