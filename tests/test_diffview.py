"""Side-by-side diff view: Python syntax colouring, change marks, escaping and untokenizable sources."""

from __future__ import annotations

import re
import tokenize
from collections.abc import Callable, Iterator
from html import unescape

import pytest

from patchworld.diffview import side_by_side_html

PARENT = '''import os


@register.model(name="maze")
class Model:
    def predict(self, belief, action):
        """Move one cell.

        while this line looks like code, return it is inside the docstring
        """
        x = belief["pos"] + 1  # step forward
        if action is None:
            return True
        return f"at {x}"
'''


def _text(fragment: str) -> str:
    """The visible text of an HTML fragment."""
    return unescape(re.sub(r"<style>.*?</style>|<[^>]+>", "", fragment, flags=re.S)).replace("\xa0", " ")


def _rows(fragment: str) -> list[str]:
    return re.findall(r"<tr\b.*?</tr>", fragment, flags=re.S)


def _row(fragment: str, text: str) -> str:
    """The one table row whose visible text contains ``text``."""
    found = [r for r in _rows(fragment) if text in _text(r)]
    assert len(found) == 1, (text, found)
    return found[0]


def _cells(row: str) -> list[str]:
    """The row's two code cells (left, right), line-number cells dropped."""
    return re.findall(r'<td class="pw-code[^"]*".*?</td>', row, flags=re.S)


def _tok(cls: str, text: str) -> str:
    """A regex for a token span of class ``pw-<cls>`` with an inline colour, holding ``text`` (escaped)."""
    escaped = re.escape(text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace(" ", "&nbsp;"))
    return rf'<span class="pw-{cls}" style="[^"]*color:#[0-9a-f]{{6}}[^"]*">{escaped}</span>'


def test_keywords_strings_comments_and_more_carry_their_colour() -> None:
    child = PARENT.replace("+ 1  # step forward", "+ 2  # step forward twice")
    out = side_by_side_html(PARENT, child, context=20)
    row = _row(out, "step forward twice")
    left, right = _cells(row)
    assert re.search(_tok("str", '"pos"'), right)
    assert re.search(_tok("com", "# step forward") + r'<span class="diff_add"[^>]*>' + _tok("com", " twice"), right)
    assert re.search(_tok("com", "# step forward"), left)
    for cls, text in [("kw", "return"), ("kw", "if"), ("kw", "is"), ("bi", "None"), ("bi", "True"), ("bi", "self"),
                      ("kw", "def"), ("def", "predict"), ("kw", "class"), ("def", "Model"), ("kw", "import"),
                      ("str", 'f"at {x}"'), ("dec", "@register.model")]:
        assert re.search(_tok(cls, text), out), (cls, text)
    assert not re.search(_tok("dec", "name"), out)  # decorator arguments are ordinary code
    # the changed number is coloured as a number *and* marked as changed, on both sides
    assert re.search(r'<span class="diff_chg"[^>]*>' + _tok("num", "1"), left)
    assert re.search(r'<span class="diff_chg"[^>]*>' + _tok("num", "2"), right)
    # every coloured element also carries its style inline, for renderers that strip <style>
    assert "<style>" in out
    assert not re.search(r'class="(pw-[a-z]+|diff_[a-z]+)"(?! style=")', out)


def test_added_and_removed_lines_carry_their_change_marks() -> None:
    child = PARENT.replace("        if action is None:\n", "        if action is None or x < 0:\n")
    child = child.replace('        return f"at {x}"\n', "")
    child = child.replace("import os\n", "import os\nimport sys\n")
    out = side_by_side_html(PARENT, child, "p.py", "c.py", context=20)

    added = _row(out, "import sys")
    assert 'class="pw-row-insert"' in added
    left, right = _cells(added)
    assert 'class="pw-code pw-line-none"' in left and 'class="pw-code pw-line-add"' in right
    assert re.search(r'<span class="diff_add"[^>]*>' + _tok("kw", "import"), right)

    removed = _row(out, 'return f"at {x}"')
    assert 'class="pw-row-delete"' in removed
    left, right = _cells(removed)
    assert 'class="pw-code pw-line-sub"' in left and 'class="pw-code pw-line-none"' in right
    assert re.search(r'<span class="diff_sub"[^>]*>' + _tok("kw", "return"), left)

    changed = _row(out, "or x < 0")
    assert 'class="pw-row-replace"' in changed
    left, right = _cells(changed)
    assert 'pw-line-sub' in left and 'pw-line-add' in right
    assert "diff_sub" not in left and "diff_add" in right  # only the inserted characters are marked
    assert re.search(r'<span class="diff_add"[^>]*>.*' + _tok("kw", "or"), right)

    unchanged = _row(out, "class Model:")
    assert 'class="pw-row-equal"' in unchanged and "diff_" not in unchanged.replace("diff_header", "")


def test_triple_quoted_string_is_coloured_on_every_line() -> None:
    child = PARENT.replace("looks like code", "looks like real code")
    out = side_by_side_html(PARENT, child)
    inside = ['"""Move one cell.', "while this line looks like", '"""\n']
    for text in inside:
        row = _row(out, text.rstrip("\n")) if not text.endswith("\n") else [
            r for r in _rows(out) if _text(r).strip().endswith('"""') and "Move" not in _text(r)][0]
        for cell in _cells(row):
            code = _text(cell).strip()
            assert code and re.search(r'<span class="pw-str"', cell), (text, cell)
            assert "pw-kw" not in cell and "pw-bi" not in cell, (text, cell)  # "while", "return" are string text
    changed_left, changed_right = _cells(_row(out, "while this line"))
    assert "diff_add" in changed_right and "pw-line-add" in changed_right and "pw-line-sub" in changed_left


BROKEN = [
    'x = """never closed\nreturn 1\n',  # unterminated triple-quoted string
    "if x:\n        a = 1\n    b = 2\ndef f(): return None\n",  # dedent to no enclosing level
    "x = (1,\ny = 2\n",  # unclosed bracket
    "x = 1)\ndef g(): pass\n",  # stray closing bracket
    'x = "abc\ndef g(): pass\n',  # unterminated string
    'x = "\x00"\ndef g(): pass\n',  # null byte
    "x = $y ? 3\ndef g(): pass\n",  # characters that are not Python
    "x = \\",  # line continuation at end of file
    "def f(:\n\treturn\u202e 1\x0c\n" + "y" * 5000 + "\n",  # bad grammar, tab, bidi override, form feed, huge line
]


@pytest.mark.parametrize("bad", BROKEN)
def test_source_that_does_not_tokenize_still_renders(bad: str) -> None:
    parent = "import os\n\nVALUE = 1\n"
    child = "import os\n\n" + bad
    out = side_by_side_html(parent, child)
    shown = _text(out)
    for line in bad.replace("\t", "    ").splitlines():
        visible = re.sub(r"[\x00-\x1f\u202e]", "\ufffd", line)
        assert visible[:72] in shown  # the first wrapped row (wrapcolumn 72)
    assert re.search(_tok("kw", "import"), out)  # what precedes the failure keeps its colours


def test_untokenizable_part_falls_back_to_plain_text_and_the_rest_is_coloured(monkeypatch: pytest.MonkeyPatch) -> None:
    # bad indentation does not stop the colouring (lines are tokenized without their indentation)
    out = side_by_side_html("import os\n", "import os\nif x:\n        a = 1\n    b = 2\ndef f(): return None\n")
    assert re.search(_tok("def", "f"), out) and re.search(_tok("bi", "None"), out)
    # after an unclosed triple-quoted string the rest is string text, so it is not coloured as code
    unclosed = side_by_side_html("import os\n", 'import os\nx = """open\nreturn 1\n')
    assert re.search(_tok("kw", "import"), unclosed) and not re.search(_tok("kw", "return"), unclosed)
    # a tokenizer that fails mid-file (Python >= 3.12 does for e.g. an unterminated string): that line is
    # plain, the lines before and after it are coloured
    real = tokenize.generate_tokens

    def failing(readline: Callable[[], str]) -> Iterator[tokenize.TokenInfo]:
        for tok in real(readline):
            if "BOOM" in tok.line:
                raise SyntaxError("unterminated string literal", ("<x>", tok.start[0], 1, tok.line))
            yield tok

    monkeypatch.setattr(tokenize, "generate_tokens", failing)
    out = side_by_side_html("x = 1\n", "import os\nBOOM = 'x'\ndef g(): return None\n")
    boom = _cells(_row(out, "BOOM"))[1]
    assert "pw-" not in boom.replace("pw-code", "").replace("pw-line-add", "") and "BOOM" in boom
    assert re.search(_tok("kw", "import"), out) and re.search(_tok("def", "g"), out)


def test_markup_in_sources_and_names_is_escaped() -> None:
    parent = "x = 1\n"
    child = 'x = "<script>alert(1)</script>"  # </td></table><b>\n<img src=x onerror=alert(1)>\n'
    out = side_by_side_html(parent, child, "<i>parent</i>", 'child"><script>')
    tags = set(re.findall(r"</?([a-zA-Z]+)", out))
    assert tags <= {"div", "style", "b", "span", "table", "thead", "tbody", "tr", "th", "td"}, tags
    assert out.count("<b>") == 2  # the legend's two names, nothing from the sources
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out and "&lt;img" in out
    assert "&lt;i&gt;parent&lt;/i&gt;" in out
    assert out.count("<table") == 1 and out.count("</table>") == 1


def test_long_lines_wrap_onto_continuation_rows_and_context_is_collapsed() -> None:
    parent = "".join(f"V_{i} = {i}\n" for i in range(40))
    child = parent.replace("V_20 = 20\n", "V_20 = " + " + ".join(["1234567"] * 20) + "\n")
    out = side_by_side_html(parent, child, wrapcolumn=50)
    rows = _rows(out)
    cont = [r for r in rows if '<td class="diff_header"' in r and "&gt;</td>" in r]
    assert len(cont) >= 3 and all('class="pw-num"' in r and 'class="diff_add"' in r for r in cont)
    assert re.search(r"<td [^>]*>21</td>", out) and max(len(_text(c)) for r in rows for c in _cells(r)) <= 50
    shown = _text(out)
    assert "17 unchanged lines" in shown and "16 unchanged lines" in shown  # 0-16 and 24-39 hidden
    assert "V_16 = 16" not in shown and "V_17 = 17" in shown and "V_23 = 23" in shown and "V_24 = 24" not in shown
    assert "No differences" in side_by_side_html(parent, parent)


def test_suspicion_column_scores_each_shown_parent_line_and_the_full_listing_ranks_them() -> None:
    """Where the search looked: the parent side of the diff carries each shown line's score (tinted by it,
    none on continuation rows or lines without one), and the folded listing shows the whole parent with
    its most suspicious lines named first."""
    from patchworld.diffview import suspicion_html

    parent = "def f(x):\n    y = x + 1\n    return y\n"
    child = "def f(x):\n    y = x - 1\n    return y\n"
    scores = {2: 0.9, 3: 0.25}
    page = side_by_side_html(parent, child, suspicion=scores)
    cells = re.findall(r'<td class="pw-susp"[^>]*rgba\(207,34,46,([0-9.]+)\)[^>]*>([0-9.]+)</td>', page)
    assert [value for _, value in cells] == ["0.90", "0.25"]          # lines 2 and 3; line 1 has none
    assert float(cells[0][0]) > float(cells[1][0])                     # the stronger the score, the redder
    assert page.count("<tr") == parent.count("\n") + 1                 # header row + one row per line
    assert 'colspan="3"' in page and 'class="pw-susp"' not in side_by_side_html(parent, child)
    listing = suspicion_html("def g():\n" + parent, {3: 0.9, 4: 0.25, 1: 0.1}, "round 1", top=2)
    summary = re.search(r"<summary[^>]*>(.*?)</summary>", listing).group(1)
    assert "round 1" in summary and "line 3 (0.90), line 4 (0.25)" in summary and "line 1" not in summary
    assert unescape(re.sub(r"<[^>]+>", "", listing)).replace("\xa0", " ").count("y = x + 1") == 1
    assert re.findall(r'title="suspicion ([0-9.]+)"', listing) == ["0.100", "0.900", "0.250"]   # in line order
