"""Patches: tiered strict application, ambiguity, nearest-block errors, diffs, and patch_from_sources round trips."""

from __future__ import annotations

import random
import re
from html import unescape

import pytest

from patchworld.patches import (
    Applied,
    Edit,
    Patch,
    PatchError,
    apply_patch,
    patch_from_sources,
    side_by_side_html,
    source_hash,
    unified_diff,
)
from patchworld.program import Program

SRC = '''class Model:
    def predict(self, belief, action):
        x, y = belief["pos"]
        if action == "move down":
            x += 1
        elif action == "move right":
            y += 1
        return (x, y)

    def readout(self, belief):
        return "pos"
'''


def _patch(*edits: tuple[str, str]) -> Patch:
    return Patch(source_hash(SRC), tuple(Edit(s, r) for s, r in edits), origin="test")


def test_exact_tier() -> None:
    applied = apply_patch(SRC, _patch(('            x += 1\n', '            x += 2\n')))
    assert isinstance(applied, Applied)
    assert applied.tiers == ("exact",)
    assert "x += 2" in applied.source and "x += 1" not in applied.source
    assert applied.source.count("\n") == SRC.count("\n")


def test_whitespace_tier_reindents_replacement() -> None:
    # the search block is dedented and has trailing spaces; the replacement follows the same shift
    search = 'if action == "move down":   \n    x += 1\n'
    replace = 'if action == "move down":\n    x += 1\n    y -= 0\n'
    applied = apply_patch(SRC, _patch((search, replace)))
    assert applied.tiers == ("whitespace",)
    assert applied.tier == "whitespace"
    assert '        if action == "move down":\n            x += 1\n            y -= 0\n' in applied.source


def test_multiple_edits_apply_in_order_and_record_tiers() -> None:
    edits = (("x += 1", "x -= 1"), ("  y += 1  \n", "  y -= 1\n"), ('return "pos"', "return 'p'"))
    applied = apply_patch(SRC, _patch(*edits))
    assert applied.tiers == ("exact", "whitespace", "exact")
    assert "x -= 1" in applied.source and "y -= 1" in applied.source and "return 'p'" in applied.source


def test_ambiguous_search_is_an_error() -> None:
    with pytest.raises(PatchError, match="ambiguous.*2 times"):
        apply_patch(SRC, _patch(("+= 1", "-= 1")))


def test_ambiguous_after_whitespace_normalisation() -> None:
    src = "def f():\n    a = 1\n    if a:\n        a = 1\n"
    with pytest.raises(PatchError, match="ambiguous"):
        apply_patch(src, Patch("p", (Edit("a = 1  \n", "a = 2\n"),)))


def test_no_match_quotes_the_nearest_block() -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(SRC, _patch(('if action == "move up":\n    x += 1\n', "pass\n")))
    msg = str(info.value)
    assert "not found" in msg and "edit 1 of 1" in msg
    assert 'if action == "move down":' in msg  # the nearest block is quoted
    assert "lines 4-5" in msg
    assert info.value.edit_index == 0
    assert "move down" in info.value.nearest


def test_second_edit_failing_names_it() -> None:
    with pytest.raises(PatchError, match="edit 2 of 2"):
        apply_patch(SRC, _patch(("x += 1", "x += 3"), ("zzz_not_there = 0", "")))


def test_empty_search_only_against_empty_program() -> None:
    initial = Patch(source_hash(""), (Edit("", SRC),))
    assert apply_patch("", initial).source == SRC
    with pytest.raises(PatchError, match="empty SEARCH"):
        apply_patch(SRC, initial)
    with pytest.raises(PatchError, match="no edits"):
        apply_patch(SRC, Patch("p", ()))


def test_patch_id_is_stable_and_ignores_provenance() -> None:
    a = Patch("abc", (Edit("x", "y"),), ("t#1",), "mutation:swap_vars", "one")
    b = Patch("abc", (Edit("x", "y"),), (), "llm", "two")
    c = Patch("abd", (Edit("x", "y"),))
    assert a.id == b.id and len(a.id) == 12 and a.id != c.id
    assert Patch.from_dict(a.to_dict()) == a
    assert "<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE" in a.render()


CHILDREN = [
    SRC.replace("x += 1", "y += 1"),                                   # one-line change
    SRC.replace("        return (x, y)\n", ""),                         # deletion
    SRC.replace("    def readout", "    def extra(self):\n        return 1\n\n    def readout"),  # insertion
    "# header\n" + SRC,                                                 # insert at top
    SRC + "\nEXTRA = 1\n",                                              # append at the end
    SRC.rstrip("\n"),                                                   # drop the final newline
    SRC.replace("x += 1", "x += 2").replace('return "pos"', 'return "POS"'),  # two distant hunks
    SRC.replace("            y += 1\n", "            y += 1\n" * 3),    # repeated lines (uniqueness needs context)
    "completely different\n",                                           # rewrite
]


@pytest.mark.parametrize("child", CHILDREN)
def test_patch_from_sources_round_trip(child: str) -> None:
    parent = Program(SRC)
    patch = patch_from_sources(parent, child, origin="test", note="n", counterexample_ids=["a#1"])
    assert patch.parent == parent.hash and patch.counterexample_ids == ("a#1",)
    applied = apply_patch(SRC, patch)
    assert applied.source == child
    assert set(applied.tiers) == {"exact"}


def test_patch_from_sources_is_minimal_for_small_changes() -> None:
    patch = patch_from_sources(Program(SRC), CHILDREN[0], origin="test")
    assert len(patch.edits) == 1
    assert patch.edits[0].search.count("\n") <= 3  # the changed line and one line of context each side


def test_patch_from_sources_random_property() -> None:
    rng = random.Random(7)
    vocab = SRC.splitlines(keepends=True) + ["\n", "pass\n", "    x = 1\n", "x = 1\n"]
    checked = 0
    for _ in range(400):
        a = "".join(rng.choice(vocab) for _ in range(rng.randint(1, 14)))
        lines = a.splitlines(keepends=True)
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.35 and lines:
                del lines[rng.randrange(len(lines))]
            elif op < 0.7:
                lines.insert(rng.randint(0, len(lines)), rng.choice(vocab))
            elif lines:
                lines[rng.randrange(len(lines))] = rng.choice(vocab)
        b = "".join(lines)
        if a == b or not a.strip():
            continue
        assert apply_patch(a, patch_from_sources(a, b, origin="prop")).source == b
        checked += 1
    assert checked > 300


def test_patch_from_sources_rejects_no_change_and_handles_empty_parent() -> None:
    with pytest.raises(ValueError, match="identical"):
        patch_from_sources(Program(SRC), SRC, origin="t")
    patch = patch_from_sources(Program(""), SRC, origin="initial")
    assert patch.edits == (Edit("", SRC),) and apply_patch("", patch).source == SRC


def test_unified_diff() -> None:
    diff = unified_diff(SRC, CHILDREN[0], "v1", "v2")
    assert diff.startswith("--- v1\n+++ v2\n")
    assert "-            x += 1\n" in diff and "+            y += 1\n" in diff
    assert unified_diff(SRC, SRC) == ""


def test_side_by_side_html_is_styled_and_shows_the_change() -> None:
    long_src = SRC + "".join(f"CONST_{i} = {i}\n" for i in range(200))
    child = long_src.replace("CONST_150 = 150", "CONST_150 = 151")
    html = side_by_side_html(long_src, child, "parent.py", "child.py")
    shown = unescape(re.sub(r"<style>.*?</style>|<[^>]+>", "", html)).replace("\xa0", " ")  # the visible text
    assert "CONST_150 = 150" in shown and "CONST_150 = 151" in shown
    assert "<style>" in html and ".diff_chg" in html  # the stylesheet is shipped
    assert 'style="background-color' in html  # and inlined, for sanitised renderers
    assert "diff_chg" in html and "parent.py" in html
    assert "CONST_10 " not in shown and "CONST_147 = 147" in shown  # unchanged stretches collapsed to context
    same = side_by_side_html(SRC, SRC)
    assert "No differences" in same
