"""A fix that lets the program reach a second bug is rejected (it raises where its parent did not); the
search keeps such children and proposes, in one patch, the fix plus a repair of the crash it exposed."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted import run_until_repaired

from patchworld.bugs import combine, plant_sites
from patchworld.exposed import exposed_line, second_steps
from patchworld.program import Program
from patchworld.proposers.base import Proposal
from patchworld.proposers.mutation import MutationProposer

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''\
def article(name):
    return ("an " if name[:1] in "aeiou" else "a ") - name


def predict(act):
    if act.startswith("take "):
        return "You take " + article(act[5:]) + "."
    return "ok"
'''


def test_exposed_line_is_the_crash_site_of_new_exceptions_only():
    ids = ["a", "b", "c", "d"]
    kinds = ["exception", "exception", "mismatch", "exception"]
    errors = ['in predict: line 7, in predict: return "You take " + article(act[5:]) + "."\n'   # replay's format
              'line 2, in article: return ("an " if name[:1] in "aeiou" else "a ") - name\nTypeError: unsupported',
              "in predict: line 2, in article: TypeError",                                        # a screening batch's
              "",
              "in predict: line 7, in predict: TypeError"]
    assert exposed_line(SOURCE, [ids, kinds, errors], parent_crashed=set()) == (2, "article", errors[0])
    assert exposed_line(SOURCE, [ids, kinds, errors], parent_crashed={"a", "b"}) == (7, "predict", errors[3])
    assert exposed_line(SOURCE, [ids, kinds, errors], parent_crashed={"a", "b", "d"}) is None

    # with the parent's crash sites, a row the parent raised on counts when the child raises elsewhere
    sites = {"a": (7, "predict"), "b": (2, "article"), "d": (7, "predict")}
    assert exposed_line(SOURCE, [ids, kinds, errors], parent_crashed=sites) == (2, "article", errors[0])
    sites = {"a": (2, "article"), "b": (2, "article"), "d": None}   # None: the parent's error named no frame
    assert exposed_line(SOURCE, [ids, kinds, errors], parent_crashed=sites) is None


GUARDED = '''\
def correct(belief, parsed):
    if parsed["kind"] == "prompt":
        belief["vocab"] = parsed["vocab"]
    elif not (parsed["kind"] == "feedback" and belief["last"]):
        belief["history"].append(
            (belief["last"], parsed["feedback"]))
    while belief["history"]:
        x = 1
    return belief
'''


def test_the_guard_of_a_crash_line_is_the_test_of_its_innermost_if():
    from patchworld.exposed import guard_line

    assert guard_line(GUARDED, 5) == 4      # the elif's test
    assert guard_line(GUARDED, 6) == 4      # a continuation line of the guarded statement
    assert guard_line(GUARDED, 3) == 2
    assert guard_line(GUARDED, 8) == 7      # a while loop's test
    assert guard_line(GUARDED, 9) is None   # not inside any if
    assert guard_line(GUARDED, 2) is None   # the test's own line is not in the body
    assert guard_line("def f(:\n", 1) is None


def test_second_steps_also_edit_the_test_that_let_the_rows_reach_the_crash():
    """The crash is in the body of a negated elif; the bug is the negation, not the crash line."""
    from patchworld.patches import apply_patch, patch_from_sources

    parent = Program(GUARDED.replace('if parsed["kind"] == "prompt"', 'if not (parsed["kind"] == "prompt")'))
    child = Program(GUARDED)   # the first edit: the first test fixed; now the elif body raises on some rows
    first = Proposal(patch_from_sources(parent, child.source, origin="mutation:negate_cond", note="correct:2 fix"),
                     "ast_mutation", extra={"line": 2, "function": "correct"})
    steps = second_steps(MutationProposer(), parent, child, first, 5, "correct", shown=[], env="toy", k=2)
    assert {p.extra["line"] for p in steps} == {5, 4}
    results = [apply_patch(parent.source, p.patch).source for p in steps]
    assert all('if parsed["kind"] == "prompt"' in r for r in results)                 # the first edit kept
    assert any('elif (parsed["kind"] == "feedback" and belief["last"])' in r for r in results)   # the test repaired


def test_second_steps_carry_the_first_edit_and_a_repair_at_the_crash_line():
    from patchworld.patches import apply_patch, patch_from_sources

    parent = Program(SOURCE.replace('act.startswith("take ")', 'not act.startswith("take ")'))
    child = Program(SOURCE)   # the first edit: the stray `not` removed; now article() runs and raises
    first = Proposal(patch_from_sources(parent, child.source, origin="mutation:negate_cond", note="predict:6 fix"),
                     "ast_mutation", extra={"line": 6, "function": "predict"})
    steps = second_steps(MutationProposer(), parent, child, first, 2, "article", shown=[], env="toy", k=5)
    assert steps and all(p.patch.origin == "exposed" and p.extra["combined"] == [first.patch.id] for p in steps)
    results = [apply_patch(parent.source, p.patch).source for p in steps]
    assert all('act.startswith("take ")' in r and "not act" not in r for r in results)   # the first edit kept
    assert any('else "a ") + name' in r for r in results)                                 # the crash repaired
    assert second_steps(object(), parent, child, first, 2, "article", shown=[], env="toy") == []     # a proposer that cannot rank


@pytest.mark.slow
def test_a_fix_that_exposes_a_second_bug_is_completed(tmp_path):
    """Wordle reference program: `not` on the "invalid word" test makes every feedback unparsed, so the
    `+` -> `-` in the history update below never runs; fixing the first alone raises there."""
    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    source = (ROOT / "data/programs/wordle_reference.py").read_text(encoding="utf-8")
    folder = ROOT / "data/trajectories/wordle"
    train, val = (load_trajectories(folder / f"wordle_traj_{s}.jsonl") for s in ("train", "val"))
    lines = source.splitlines()
    sites = plant_sites(source)
    pick = [next(b for b in sites if b.operator == "negate_if" and '"invalid word"' in lines[b.line - 1]),
            next(b for b in sites if b.operator == "flip_arith" and '"history"' in lines[b.line - 1])]
    buggy = Program(combine(source, pick))
    original = score_key(score(replay(Program(source), val)))
    first_fixed = Program(combine(source, pick[1:]))
    rows = replay(first_fixed, val).steps
    assert "exception" in rows["error_kind"].to_list()                          # the first fix alone raises
    assert score_key(score(replay(first_fixed, val))) < score_key(score(replay(buggy, val)))
    session = Session("wordle", train, val, program=buggy, proposer=MutationProposer(seed=0), run_dir=tmp_path / "run",
                      n_candidates=64, search="beam")
    accepted = run_until_repaired(session, original)
    assert score_key(session.score) >= original
    assert any(r.get("origin") == "exposed" for r in accepted), [r.get("note") for r in accepted]


def test_a_screening_batch_error_names_its_crash_site():
    from patchworld.program import PROGRAM_FILENAME
    from patchworld.sandbox.calls import _brief

    code = compile("def f(x):\n    return [1 - v for v in x]\n\ndef g(x):\n    return f(x)\n", PROGRAM_FILENAME, "exec")
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(TypeError) as info:
        namespace["g"](["a"])
    # the comprehension's frame is named by its caller; the interpreter's message names the operation; the
    # program frame that called the crash site comes first, a line of its own
    assert _brief(info.value) == ("line 5, in g: call\n"
                                  "line 2, in f: TypeError: unsupported operand type(s) for -: 'int' and 'str'")
    from patchworld.localise import function_spans, program_frames

    spans = function_spans("def f(x):\n    return [1 - v for v in x]\n\ndef g(x):\n    return f(x)\n")
    assert program_frames(_brief(info.value), spans) == [("g", 5), ("f", 2)]   # outermost first
    assert _brief(ValueError("no program frame")) == "ValueError: no program frame"
    assert _brief(KeyError("k")) == "KeyError: 'k'"

    class Loud(TypeError):
        def __str__(self):
            raise RuntimeError("never called")

    assert _brief(Loud("made by the program")) == "Loud"      # a program's own class: its name only
    assert _brief(TypeError(object())) == "TypeError"         # an argument that is not a str: never formatted
    assert _brief(ValueError("x" * 500)).endswith("x" * 120)   # capped
    assert len(_brief(ValueError("x" * 500))) == len("ValueError: ") + 120


LISTING = '''\
def listing(head, page, total, nav):
    return page, " ".join(head - [str(page), str(total)] + nav)


def predict(act):
    if act.startswith("search "):
        return listing(["Results"], 1, 50, ["Next >"])[1]
    return "ok"
'''


def test_the_operator_a_crash_names_is_edited_first():
    from patchworld.exposed import failed_operator
    from patchworld.patches import patch_from_sources

    assert failed_operator("line 2, in f: TypeError: unsupported operand type(s) for -: 'list' and 'list'") == "-"
    assert failed_operator("TypeError: unsupported operand type(s) for +=: 'int' and 'str'") == "+"
    assert failed_operator('TypeError: can only concatenate str (not "int") to str') == "+"
    assert failed_operator("TypeError: '<=' not supported between instances of 'str' and 'int'") == "<="
    assert failed_operator("line 2, in f: TypeError") is None
    assert failed_operator("KeyError: 'k'") is None

    parent = Program(LISTING.replace('act.startswith("search ")', 'not act.startswith("search ")'))
    child = Program(LISTING)   # the first edit; now listing() runs and raises on `head - [...]`
    first = Proposal(patch_from_sources(parent, child.source, origin="mutation:negate_cond", note="predict:6 fix"),
                     "ast_mutation", extra={"line": 6, "function": "predict"})
    error = "line 2, in listing: TypeError: unsupported operand type(s) for -: 'list' and 'list'"
    unread = second_steps(MutationProposer(), parent, child, first, 2, "listing", shown=[], env="toy", k=1)
    read = second_steps(MutationProposer(), parent, child, first, 2, "listing", shown=[], env="toy", k=1, error=error)
    assert "'-' -> '+'" not in unread[0].patch.note        # without the message another edit of the line ranks first
    assert read[0].patch.note.endswith("listing:2 flip_arith: '-' -> '+'")


@pytest.mark.slow
def test_a_fix_whose_crash_sits_under_a_negated_elif_is_completed(tmp_path, monkeypatch):
    """Hand-written Wordle program, two negated tests in ``correct_belief``: the first sends every
    observation into the second's branch, which raises on every row; fixing the first alone makes the
    second's body raise on the rows its negated test now lets in (crash on rows the parent also raised
    on, at another line), and the repair is the elif's test, not the crash line. (The first round's wider
    pool, ``population.FIRST_POOL``, reaches the pair another way; this tests the completion, so the
    first round gets the usual pool.)"""
    from planted import planted_session, usual_first_pool

    from patchworld.gate import score_key

    usual_first_pool(monkeypatch)

    bugs = (('if parsed["kind"] == "prompt":', 'if not (parsed["kind"] == "prompt"):'),
            ('elif parsed["kind"] == "feedback" and belief.get("last_guess"):',
             'elif not (parsed["kind"] == "feedback" and belief.get("last_guess")):'))
    session, original = planted_session("wordle", bugs, tmp_path / "run")
    accepted = run_until_repaired(session, original)
    assert score_key(session.score) >= original
    assert any(r.get("origin") == "exposed" and "correct_belief:49" in r.get("note", "") for r in accepted), \
        [r.get("note") for r in accepted]


PICK = '''\
def pick(pool, ing, n):
    match = next(None, (x for x in pool if x[1] == n and (x[0] == ing or x[0].endswith(" " + ing))))
    return match[0] if match else "nothing"


def predict(act):
    if act.startswith("take "):
        return "You take " + pick([("red apple", 1), ("pear", 2)], act[5:], 1) + "."
    return "ok"
'''


def test_a_crash_of_a_call_given_the_wrong_type_swaps_its_arguments_first():
    from patchworld.exposed import failed_call
    from patchworld.patches import apply_patch, patch_from_sources

    error = "line 2, in pick: TypeError: 'NoneType' object is not an iterator"
    assert failed_call(error) and failed_call("TypeError: first argument must be string or compiled pattern")
    assert not failed_call("TypeError: unsupported operand type(s) for -: 'list' and 'list'")   # an operator's
    assert not failed_call("KeyError: 'k'") and not failed_call("")

    parent = Program(PICK.replace('act.startswith("take ")', 'not act.startswith("take ")'))
    child = Program(PICK)   # the first edit; now pick() runs and raises on next(None, ...)
    first = Proposal(patch_from_sources(parent, child.source, origin="mutation:negate_cond", note="predict:7 fix"),
                     "ast_mutation", extra={"line": 7, "function": "predict"})
    unread = second_steps(MutationProposer(), parent, child, first, 2, "pick", shown=[], env="toy", k=1)
    read = second_steps(MutationProposer(), parent, child, first, 2, "pick", shown=[], env="toy", k=1, error=error)
    assert " swap_args: " not in unread[0].patch.note       # without the message another edit of the line ranks first
    assert " swap_args: " in read[0].patch.note
    fixed = apply_patch(parent.source, read[0].patch).source
    assert 'next((x for x in pool if x[1] == n and (x[0] == ing or x[0].endswith(" " + ing))), None)' in fixed


def test_pop_by_site_adds_other_first_edits_that_reached_a_taken_crash_site():
    from patchworld.exposed import pop_by_site

    # (crash line, function, first edit's line)
    entries = [(60, "f", 46), (60, "f", 46), (75, "g", 45), (58, "f", 48), (75, "g", 45), (75, "g", 26),
               (9, "h", 3), (75, "g", 70), (60, "f", 12), (75, "g", 71)]
    heads, extras = pop_by_site(entries, heads=3, extras=3, first_line=lambda e: e[2])
    assert heads == [(60, "f", 46), (60, "f", 46), (75, "g", 45)]          # the first three, as they come
    # other sites (58, 9) and a first edit on a line already taken at its site (45) are not extras
    assert extras == [(75, "g", 26), (75, "g", 70), (60, "f", 12)]
    assert entries == [(58, "f", 48), (75, "g", 45), (9, "h", 3), (75, "g", 71)]   # the rest, in order
    assert pop_by_site(entries, heads=1, extras=0, first_line=lambda e: e[2]) == ([(58, "f", 48)], [])
    assert pop_by_site([], heads=3, extras=3, first_line=lambda e: e[2]) == ([], [])
    # preferred entries (here: a first edit within 10 lines above the crash, the guard in front of it) come first
    entries = [(60, "f", 46), (60, "f", 46), (75, "g", 45), (75, "g", 26), (75, "g", 40), (60, "f", 12),
               (75, "g", 70), (60, "f", 55)]
    heads, extras = pop_by_site(entries, heads=3, extras=3, first_line=lambda e: e[2],
                                prefer=lambda e: 0 < e[0] - e[2] <= 10)
    assert extras == [(75, "g", 70), (60, "f", 55), (75, "g", 26)]


@pytest.mark.slow
def test_a_fix_among_several_first_edits_reaching_one_crash_site_is_completed(tmp_path, monkeypatch):
    """Hand-written maze program: ``if pos is not None: return ""`` ends every readout early, so the swapped
    ``belief.get({}, "seen")`` below it never runs; fixing the test alone raises there on every row. Round 1
    accepts a compensation elsewhere (the position stored under ``done``, so the readout says "Success"), and
    the program it replaced leaves the beam after round 2. Its exposed crashes rank first edits in other
    functions first, several of them (and variants of one) reaching the same line 75; taking three a round
    never reached the line-70 fix before the program left. With other first edits that reached a taken
    crash site tried beside the pool (``population.EXPOSED_SAME_SITE``), round 2 repairs it (fails with
    ``EXPOSED_SAME_SITE = 0``)."""
    from planted import planted_session

    from patchworld.gate import score_key

    bugs = (("        if pos is None:\n            return \"\"", "        if pos is not None:\n            return \"\""),
            ('seen = belief.get("seen", {})', 'seen = belief.get({}, "seen")'))
    session, original = planted_session("maze", bugs, tmp_path / "run")
    accepted = run_until_repaired(session, original, rounds=4)
    assert score_key(session.score) >= original
    assert any(r.get("origin") == "exposed" and "readout_observation:70" in r.get("note", "") for r in accepted), \
        [r.get("note") for r in accepted]


HELPER = """\
def _kind(name):
    return name.rstrip("0123456789 ")

def view(b, rec):
    if _kind(rec) in ("drawer", "fridge"):
        return "The " + rec + " is closed."
    return "On the " + rec + ", you see " + ", ".join(b["contents"].get(rec, [])) + "."

def act(b, action):
    here = b["at"]
    if action == "look":
        return view(b, here)
    return "Nothing happens."
"""


def test_a_helper_raising_on_a_wrong_argument_gets_its_callers_arguments_swapped():
    """The crash is inside ``_kind`` (a dict has no ``rstrip``), two calls below the line whose arguments are
    swapped; the completion also edits the lines that called it, swapped arguments first."""
    from patchworld.exposed import calling_lines, wrong_argument
    from patchworld.patches import apply_patch, patch_from_sources
    from patchworld.program import PROGRAM_FILENAME
    from patchworld.sandbox.calls import _brief

    fixed_first = HELPER.replace("view(b, here)", "view(here, b)")
    namespace: dict = {}
    exec(compile(fixed_first, PROGRAM_FILENAME, "exec"), namespace)
    with pytest.raises(AttributeError) as info:
        namespace["act"]({"at": "drawer 1", "contents": {}}, "look")
    error = _brief(info.value)
    assert error.splitlines()[-1].startswith("line 2, in _kind: AttributeError")
    assert wrong_argument(error) and wrong_argument("TypeError: x") and not wrong_argument("KeyError: 'k'")
    assert calling_lines(fixed_first, error, 2) == [("view", 5), ("act", 12)]        # nearest caller first
    assert calling_lines("def (:", error, 2) == []

    parent = Program(fixed_first.replace('action == "look"', 'action != "look"'))   # the first bug masks it
    first = Proposal(patch_from_sources(parent, fixed_first, origin="mutation:flip_compare", note="act:11 fix"),
                     "ast_mutation", extra={"line": 11, "function": "act"})
    steps = second_steps(MutationProposer(), parent, Program(fixed_first), first, 2, "_kind", shown=[], env="toy",
                         k=1, error=error)
    repaired = [apply_patch(parent.source, s.patch).source for s in steps]
    assert HELPER in repaired, [s.patch.note for s in steps]
    assert not [s for s in second_steps(MutationProposer(), parent, Program(fixed_first), first, 2, "_kind", shown=[],
                                        env="toy", k=1, error="line 2, in _kind: KeyError: 'x'")
                if apply_patch(parent.source, s.patch).source == HELPER]   # not a wrong-type error: callers left alone


@pytest.mark.slow
def test_a_lost_pattern_alternative_and_a_swapped_call_behind_it_are_repaired_together(tmp_path):
    """Hand-written ALFWorld program: ``r"^(|close) "`` (``open`` cut out of the pattern) means no "open"
    action reaches the branch whose ``self._view(here, b)`` has its arguments swapped. Putting the word back
    (a pattern's empty alternative filled from the actions, ``mutation_literals``) lets the rows reach the
    call, and ``_view`` raises inside ``_kind`` two calls down; the completion edits the calls that led there
    (``exposed.calling_lines``) and repairs both in one patch."""
    from planted import planted_session

    from patchworld.gate import score_key

    bugs = (('re.match(r"^(open|close) "', 're.match(r"^(|close) "'),
            ('return "You open the " + here + ". " + self._view(b, here)',
             'return "You open the " + here + ". " + self._view(here, b)'))
    session, original = planted_session("alfworld", bugs, tmp_path / "run", seed=8888)
    accepted = run_until_repaired(session, original, rounds=4)
    assert score_key(session.score) >= original
    assert any(r.get("origin") == "exposed" and "restore_literal" in r.get("note", "") and "swap_args" in r.get("note", "")
               for r in accepted), [r.get("note") for r in accepted]
