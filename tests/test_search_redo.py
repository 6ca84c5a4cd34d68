"""Three ways the wide search reaches a fix that no single mutation of the ranked lines did: a literal
that lost a word gets it back from the training observations (patchworld.proposers.mutation_literals),
two children that each beat their parent on different rows are combined (second_order.pairs_to_combine),
and the line of the last accepted edit is tried other ways (patchworld.redo)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from patchworld.bugs import plant_sites
from patchworld.program import Program
from patchworld.proposers.mutation import MutationProposer
from patchworld.proposers.mutation_literals import LiteralCorpus, restore_mutations
from patchworld.proposers.mutation_ops import SourceIndex

ROOT = Path(__file__).resolve().parents[1]


def _traj(*texts: str, actions: tuple[str, ...] = ()) -> SimpleNamespace:
    steps = [SimpleNamespace(observation=a, action=actions[k] if k < len(actions) else "look", next_observation=b)
             for k, (a, b) in enumerate(itertools.pairwise(texts))]
    return SimpleNamespace(id="t", transitions=steps)


@pytest.mark.parametrize(("literal", "restored"), [
    ("The room has walls around.", "The room has walls around you."),       # the last word
    ("room has walls around you.", None),                                   # occurs as it is
    ("The has walls around you.", "The room has walls around you."),        # a middle word
    ("has walls around you.", None),                                        # occurs (a suffix of the text)
    ("Score (min 0.0, 1.0)", "Score (min 0.0, max 1.0)"),                   # before a number
    ("room has walls", None),                                               # occurs
    ("sees walls around you.", None),                                       # two words off: not one insertion
    ("WebShop [] Instruction:", "WebShop [SEP] Instruction:"),              # the token brackets held
    ("WebShop [] Search", None),                                            # brackets held no word there
])
def test_a_literal_that_lost_one_word_finds_it_in_the_observations(literal, restored):
    corpus = LiteralCorpus([_traj("You look. The room has walls around you. Door.", "Score (min 0.0, max 1.0) 7",
                                  "WebShop [SEP] Instruction: [SEP] i need a lamp [SEP] Search")])
    found = corpus.restores(literal)
    assert (found[0][0] if found else None) == restored


def test_a_word_cut_from_the_front_is_put_back():
    corpus = LiteralCorpus([_traj("Nothing happens here.", "Then: Nothing happens here.")])
    assert corpus.restores("happens here.") == []                     # occurs as it is
    assert corpus.restores("Nothing here.") == [("Nothing happens here.", 2)]
    corpus = LiteralCorpus([_traj("x", "Your goal: open the door")])
    assert corpus.restores("goal: open the door") == []
    assert corpus.restores("Your: open the door") == [("Your goal: open the door", 1)]   # cut before a colon
    assert corpus.restores("Your open the door") == []   # "goal:" is no plain word and a colon is never invented

def test_an_action_literal_that_lost_a_word_is_restored_to_a_whole_action():
    corpus = LiteralCorpus([_traj("a", "b", "c", "d", actions=("move up", "move down", "move up"))])
    assert corpus.restores("up") == [("move up", 2)]          # short, but an action is compared whole
    assert corpus.restores("move up") == []                   # an action as it is
    assert corpus.restores("mov") == []                       # no word lost: a cut word is no action
    assert corpus.restores("move") == [("move up", 2), ("move down", 1)]   # most taken first
    assert corpus.restores("go up") == []                     # a different word, not a lost one


def test_restore_edits_only_plain_literals_and_the_child_parses():
    source = (
        "def parse(text):\n"
        "    a = 'The room has walls around.' in text\n"
        "    b = r'The room has walls around.' in text\n"
        "    return a, b, 'The has walls around you.'\n")
    corpus = LiteralCorpus([_traj("The room has walls around you.", "ok")])
    func = ast.parse(source).body[0]
    idx = SourceIndex(source)
    muts = list(restore_mutations(func, idx, corpus))
    children = sorted(m.apply(source) for m in muts)
    assert len(muts) == 2                       # the raw string is left alone
    assert all(m.operator == "restore_literal" for m in muts)
    for child in children:
        ast.parse(child)
        assert child.count("The room has walls around you.") == 1
    assert "r'The room has walls around.'" in children[0] and "r'The room has walls around.'" in children[1]


KIND = (
    "SEP = ' [SEP] '\n"
    "def kind(obs, action):\n"
    "    seg = obs.split(SEP)\n"
    "    if seg[-1:] == ['Buy']:\n"
    "        return 'item'\n"
    "    if seg[0] != 'Back':\n"
    "        return 'other'\n"
    "    if action in ('click[prev]', 'Next'):\n"
    "        return 'page'\n"
    "    return 'Buy' in obs\n")


def test_a_literal_compared_whole_that_lost_a_word_gets_back_the_piece_the_program_cuts_observations_into():
    """``Buy`` occurs inside ``Buy Now`` (the text restore passes it by) but is no piece of any observation cut at
    the program's own separator; compared whole, it gets the piece back. A substring test is left alone."""
    from patchworld.proposers.mutation_literals import module_strings
    from patchworld.proposers.mutation_pieces import split_separators, whole_compared

    tree = ast.parse(KIND)
    seps = split_separators(tree, module_strings(tree))
    assert seps == ("\n", " [SEP] ")
    many = ast.parse("".join(f"x.split('s{k}')\n" for k in range(20)) + "x.split('s7')\nx.split(' ')\n")
    assert len(split_separators(many, {})) == 8 and "s7" in split_separators(many, {})   # the most used, bounded
    func = tree.body[1]
    parents = {c: p for p in ast.walk(func) for c in ast.iter_child_nodes(p)}
    compared = sorted((n.lineno, n.value) for n in ast.walk(func)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) and whole_compared(n, parents))
    assert compared == [(4, "Buy"), (6, "Back"), (8, "Next"), (8, "click[prev]")]   # not 'Buy' in obs, nor returns
    corpus = LiteralCorpus([_traj("Back [SEP] Item 1 [SEP] Buy Now", "Back to Search [SEP] Next Page [SEP] Buy Now",
                                  "Back to Search [SEP] Item 2")])
    muts = list(restore_mutations(func, SourceIndex(KIND), corpus, module_strings(tree), seps))
    assert [m.extra["restore"] for m in muts] == [("Buy", "Buy Now"), ("Next", "Next Page")], [m.note for m in muts]
    assert muts[0].note.endswith("(as in 2 observation(s) or action(s))")
    child = muts[0].apply(KIND)
    assert "seg[-1:] == ['Buy Now']" in child and "'Buy' in obs" in child
    assert list(restore_mutations(func, SourceIndex(KIND), corpus, module_strings(tree))) == []  # no separators given


ACT = (
    "import re\n"
    "_NAME = r\"([a-z]+ \\d+)\"\n"
    "def act(b, a):\n"
    "    m = re.match(r\"^(|close) \" + _NAME + r\"$\", a)\n"
    "    if m and m.group(1) == \"open\":\n"
    "        return \"You open the \" + m.group(2) + \".\"\n"
    "    return \"Nothing happens.\"\n")


def test_a_pattern_that_lost_an_alternative_gets_back_the_word_the_actions_hold_there():
    from patchworld.proposers.mutation_literals import empty_alternative, module_strings

    assert [empty_alternative(p) for p in ("^(|close) ", "^(open|) ", "(a||b)", "^(open|close) ", "(|a|)")] == \
        [2, 7, 3, 0, 0]                          # one empty alternative, or none to fill
    actions = ("go to drawer 1",) * 5 + ("open drawer 1", "open fridge 2", "close drawer 1", "examine drawer 1")
    corpus = LiteralCorpus([_traj(*["You see a drawer 1."] * (len(actions) + 1), actions=actions)])
    tree = ast.parse(ACT)
    assert module_strings(tree) == {"_NAME": r"([a-z]+ \d+)"}
    func, idx = tree.body[2], SourceIndex(ACT)
    muts = list(restore_mutations(func, idx, corpus, module_strings(tree)))
    notes = [m.note for m in muts]
    # matched whole (with _NAME and the end anchor): "go to drawer 1" does not fit; "open" is named by the code
    assert [m.extra["restore"][1] for m in muts] == ["^(open|close) ", "^(examine|close) "], notes
    child = muts[0].apply(ACT)
    ast.parse(child)
    assert 'm = re.match(r"^(open|close) " + _NAME + r"$", a)' in child
    # the fragment alone (no module strings to complete it) also matches "You see ..." and "go to ...": words
    # the code names first ("You", in "You open the "), then the most taken
    alone = [m.extra["restore"][1] for m in restore_mutations(func, idx, corpus)]
    assert alone == ["^(open|close) ", "^(You|close) ", "^(go|close) "]


def test_a_pattern_that_backtracks_without_end_is_given_up_not_waited_for():
    """The pattern is the program's text: its search runs in an interpreter of its own that is killed after
    its limit, and yields nothing then (this would not return at all if it ran in the test's process)."""
    from patchworld.proposers.mutation_literals import _words_in_place

    items = [["a" * 40 + "b", 1], ["open drawer 1", 3]]
    assert _words_in_place("(?P<_pw_word>x)|(a+)+$", "(a+)+$", items, seconds=0.5) == []
    assert _words_in_place(r"^(?P<_pw_word>[a-z]+) drawer", r"^() drawer", items, seconds=30) == [("open", 3)]
    assert _words_in_place("(", "(", items, seconds=30) == []          # does not compile


def test_the_wide_search_proposes_the_restored_parse_literal_first():
    """BabyAI's parse_observation tests the view by a sentence; a dropped word makes it never match
    (every description is lost): the restore is the proposer's best candidate."""
    from patchworld.data import load_trajectories
    from patchworld.localise import localise
    from patchworld.patches import apply_patch
    from patchworld.proposers.base import ProposalRequest
    from patchworld.replay import replay

    source = (ROOT / "data/programs/handwritten/babyai.py").read_text(encoding="utf-8")
    bug = next(b for b in plant_sites(source) if b.operator == "drop_word" and b.function == "parse_observation"
               and "walls around" in source.splitlines()[b.line - 1] and "'you'" in b.label)
    buggy = Program(bug.apply(source))
    folder = ROOT / "data/trajectories/babyai"
    train, val = (load_trajectories(folder / f"babyai_traj_{s}.jsonl") for s in ("train", "val"))
    rep = replay(buggy, val[:20], lean=True)
    susp = localise(buggy.source, rep.steps, None)
    request = ProposalRequest(env="babyai", program=buggy, counterexamples=rep.counterexamples()[:32], n=16,
                              round=1, seed=1, train=train, suspicion=susp)
    proposals = MutationProposer(seed=0).propose(request)
    fixes = [p for p in proposals if p.patch is not None and apply_patch(buggy.source, p.patch).source == source]
    assert fixes, [p.patch.note for p in proposals]
    assert "restore_literal" in fixes[0].patch.note


class _Member:
    """What pairs_to_combine reads of a beam member: its rows, key and program."""

    def __init__(self, rows: dict[str, tuple[bool, str]], key: tuple):
        self._rows, self.key, self.program = rows, key, SimpleNamespace(source="")

    def rows(self) -> dict[str, tuple[bool, str]]:
        return self._rows

    def compare(self, rep):
        fixed = [i for i, ok in zip(rep.cols["id"], rep.cols["exact"], strict=True) if ok and not self._rows[i][0]]
        broken = [i for i, ok in zip(rep.cols["id"], rep.cols["exact"], strict=True) if not ok and self._rows[i][0]]
        return fixed, broken


def _replay(preds: dict[str, str], f1: float) -> SimpleNamespace:
    ids = sorted(preds)
    n = len(ids)
    cols = {"id": ids, "predicted": [preds[i] for i in ids], "exact": [False] * n}
    metrics = {"token_f1": f1, "exact_match": 0.0, "n_transitions": n, "n_mismatches": n}
    return SimpleNamespace(cols=cols, metrics=metrics, outcome="ok")


def test_two_children_better_on_different_rows_are_combined_and_overlapping_ones_are_not():
    from patchworld.gate import score, score_key
    from patchworld.second_order import pairs_to_combine

    parent_rows = {"a#0": (False, "x"), "b#0": (False, "y"), "c#0": (False, "z")}
    parent = _Member(parent_rows, score_key(score(_replay({"a#0": "x", "b#0": "y", "c#0": "z"}, 0.5))))
    kids = {
        "p1": _replay({"a#0": "x1", "b#0": "y", "c#0": "z"}, 0.6),    # better, changes a
        "p2": _replay({"a#0": "x", "b#0": "y2", "c#0": "z"}, 0.55),   # better, changes b
        "p3": _replay({"a#0": "x3", "b#0": "y", "c#0": "z"}, 0.58),   # better, changes a (overlaps p1)
        "p4": _replay({"a#0": "x", "b#0": "y", "c#0": "z4"}, 0.4),    # worse: never combined
    }
    cands = [(k, SimpleNamespace(name=name), None, SimpleNamespace(hash=name), parent)
             for k, name in enumerate(kids)]
    pairs = {frozenset((a.name, b.name)) for a, b, member in pairs_to_combine(cands, kids)}
    assert pairs == {frozenset(("p1", "p2")), frozenset(("p2", "p3"))}
    other = _Member(parent_rows, parent.key)     # children of different parents are never paired
    cands[1] = (1, SimpleNamespace(name="p2"), None, SimpleNamespace(hash="p2"), other)
    assert {frozenset((a.name, b.name)) for a, b, _ in pairs_to_combine(cands, kids)} == set()


@pytest.mark.slow
def test_a_partial_fix_on_the_faulty_line_is_redone_into_the_real_fix(tmp_path, monkeypatch):
    """An inverted test in BabyAI's parse_observation spoils every description: round 1 accepts a
    partial fix on that line (the test reads another variable); the real fix is then two edits away
    and only trying that line's other edits on the replaced program reaches it. (The first round's
    wider pool, ``population.FIRST_POOL``, finds the real fix at once; this tests the redo, so the first
    round gets the usual pool.)"""
    from planted import usual_first_pool

    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    usual_first_pool(monkeypatch)
    source = (ROOT / "data/programs/handwritten/babyai.py").read_text(encoding="utf-8")
    bug = next(b for b in plant_sites(source) if b.operator == "flip_compare" and b.function == "parse_observation"
               and "walls around" in source.splitlines()[b.line - 1])
    folder = ROOT / "data/trajectories/babyai"
    train, val = (load_trajectories(folder / f"babyai_traj_{s}.jsonl") for s in ("train", "val"))
    original = score_key(score(replay(Program(source), val)))
    session = Session("babyai", train, val, program=Program(bug.apply(source)), proposer=MutationProposer(seed=0),
                      run_dir=tmp_path / "run", n_candidates=64, search="beam")
    notes = []
    for _ in range(4):
        res = session.step()
        notes.append(res.accepted.note if res.accepted is not None else None)
        if score_key(session.score) >= original:
            break
    session.close()
    assert score_key(session.score) >= original, notes
    # the real fix: the faulty line exactly as it was (another edit elsewhere may come with it when it
    # scores higher on val)
    assert session.current.source.splitlines()[bug.line - 1] == source.splitlines()[bug.line - 1], notes
    assert any(n and "(instead of the last edit)" in n for n in notes), notes


def test_a_key_named_once_is_replaced_by_a_key_the_program_names_elsewhere():
    from patchworld.proposers.mutation_literals import program_keys, rekey_mutations

    source = (
        "def correct(belief, parsed):\n"
        "    belief['last_guess'] = parsed['guess']\n"
        "    belief.setdefault('history', [])\n"
        "    if belief.get('_guess'):\n"
        "        belief['history'].append(belief['last_guess'])\n"
        "    belief['_obs'] = parsed\n"
        "    text = ' | '.join(['Features', belief['item_obs'], str(belief.get('seen_obs'))])\n"
        "    return belief.get('histroy'), {'features': text, 'item_obs': ''}\n")
    tree = ast.parse(source)
    muts = list(rekey_mutations(tree.body[0], SourceIndex(source), program_keys(tree)))
    edits = sorted(m.note.split(" (")[0] for m in muts)
    assert "'_guess' -> 'last_guess'" in edits      # a word lost from the key
    assert "'histroy' -> 'history'" in edits        # a misspelt key
    assert not any(e.startswith("'last_guess'") or e.startswith("'history'") for e in edits)  # named twice: kept
    assert not any(e.startswith("'Features'") for e in edits)   # a rendered word, in no key's place: no key
    obs = {m.note.split(" (")[0]: m.prior for m in muts if m.note.startswith("'_obs'")}
    assert list(obs) == ["'_obs' -> 'item_obs'", "'_obs' -> 'seen_obs'"]   # keys only, the most named first
    # a store no read sees ranks above a read that nothing writes
    assert obs["'_obs' -> 'item_obs'"] > max(m.prior for m in muts if m.note.startswith("'_guess'"))
    for m in muts:
        ast.parse(m.apply(source))


def test_a_silent_mutant_marks_its_line_unknown_rather_than_innocent():
    """A mutant in a branch that is never taken changes no prediction: that says nothing against its
    line (the faulty test deciding the branch may sit on it), so the line keeps some suspicion; a
    mutant that changes predictions without helping does clear it."""
    from patchworld.second_order import SILENT, gather_evidence

    rows = {"a#0": (False, "x"), "b#0": (True, "y")}
    member = SimpleNamespace(rows=lambda: rows, evidence={}, promising=[], silent=[], exposed=[],
                             crashed=lambda: set(), crash_sites=lambda: {}, spans=lambda: {},
                             program=SimpleNamespace(source="p\n"))

    def cand(line: int, preds: dict[str, str]):
        rep = SimpleNamespace(cols={"id": list(preds), "predicted": list(preds.values()),
                                    "exact": [rows[i][1] == v and rows[i][0] for i, v in preds.items()],
                                    "error_kind": ["ok"] * len(preds), "error": [""] * len(preds)})
        p = SimpleNamespace(extra={"line": line}, patch=SimpleNamespace(note=""))
        return (0, p, None, SimpleNamespace(hash=f"c{line}", source="p\n"), member), rep

    silent, silent_rep = cand(3, {"a#0": "x", "b#0": "y"})           # changes nothing
    useless, useless_rep = cand(5, {"a#0": "x", "b#0": "z"})         # breaks a passing row only
    gather_evidence([silent, useless], {"c3": silent_rep, "c5": useless_rep})
    assert member.evidence == {3: SILENT, 5: 0.0}
    assert [line for line, _ in member.silent] == [3]


@pytest.mark.slow
def test_a_member_that_joined_the_beam_gets_its_line_redone(tmp_path, monkeypatch):
    """Hand-written Wordle with a negated ``if`` in ``predict_belief`` and swapped arguments in
    ``_feedback`` (seed 4242 of the repair benchmark). Round 1 accepts a feedback-like string fitted
    to the wrong branch; the real first fix (the ``if``) only joins the beam, and its best child edits
    ``_feedback``'s line the wrong way. The swap is then two edits from every member: only trying the
    joined child's line other ways on its parent (its redo) reaches the original's val."""
    from planted import run_until_repaired

    import patchworld.proposers.mutation
    from patchworld.bugs import combine
    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    # a share's top line tried only a quarter as many ways: with MIN_TOP_OPERATORS the joined child's own
    # pool finds another route (a string edit beside the ``if``) and the redo is never needed
    monkeypatch.setattr(patchworld.proposers.mutation, "MIN_TOP_OPERATORS", 0)
    source = (ROOT / "data/programs/handwritten/wordle.py").read_text(encoding="utf-8")
    sites = plant_sites(source)
    bugs = [next(b for b in sites if b.label.startswith(label))
            for label in ("negate_if@predict_belief:57", "swap_args@_feedback:21")]

    folder = ROOT / "data/trajectories/wordle"
    train, val = (load_trajectories(folder / f"wordle_traj_{s}.jsonl") for s in ("train", "val"))
    original = score_key(score(replay(Program(source), val)))
    session = Session("wordle", train, val, program=Program(combine(source, bugs)),
                      proposer=MutationProposer(seed=4242), run_dir=tmp_path / "run", n_candidates=64, search="beam",
                      seed=4242)
    accepted = run_until_repaired(session, original)
    notes = [r.get("note", "") for r in accepted]
    assert score_key(session.score) >= original, notes
    line = bugs[1].line - 1   # _feedback's line exactly as it was (the ``if`` may be fixed another way)
    assert session.current.source.splitlines()[line] == source.splitlines()[line], notes
    assert any("(instead of the last edit)" in n for n in notes), notes


@pytest.mark.slow
def test_a_label_that_lost_a_word_is_restored_from_the_pieces_the_program_cuts_observations_into(tmp_path):
    """Hand-written WebShop: ``seg[-1:] == ["Buy"]`` (``Now`` dropped) never matches, so item pages are read as
    other pages; ``Buy`` occurs inside every item page, so only the piece restore (``mutation_pieces``) finds it."""
    from planted import planted_session, run_until_repaired

    from patchworld.gate import score_key

    session, original = planted_session("webshop", (('seg[-1:] == ["Buy Now"]', 'seg[-1:] == ["Buy"]'),),
                                        tmp_path / "run", seed=6060)
    accepted = run_until_repaired(session, original, rounds=2)
    assert score_key(session.score) >= original
    assert any("'Buy' -> 'Buy Now'" in r.get("note", "") for r in accepted), [r.get("note") for r in accepted]


@pytest.mark.slow
def test_a_store_under_a_key_no_read_sees_is_rekeyed_to_the_key_that_is_read(tmp_path):
    """Hand-written WebShop: ``b["_obs"] = obs_text`` (``item`` dropped) stores the item page where nothing reads
    it, so ``< Prev`` from a sub page predicts the empty default. The rekey back to ``item_obs`` ranked 79th
    among rendered words' case changes before it; keys only, and a lost store first, repair it in round 1."""
    from planted import planted_session, run_until_repaired

    from patchworld.gate import score_key

    session, original = planted_session("webshop", (('b["item_obs"] = obs_text', 'b["_obs"] = obs_text'),),
                                        tmp_path / "run", seed=4711)
    accepted = run_until_repaired(session, original, rounds=2)
    assert score_key(session.score) >= original
    assert any("'_obs' -> 'item_obs'" in r.get("note", "") for r in accepted), [r.get("note") for r in accepted]
