"""Where the wide search spends its candidates: branch tests judged by the actions they leave out too,
text edits simulated only on literals that reach a prediction, and the most suspicious lines tried with
every operator (the cases behind a stray ``not`` on an ``elif`` action test that went unrepaired)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from patchworld.patches import apply_patch
from patchworld.program import Program
from patchworld.proposers.mutation import Candidate, MutationProposer, _in_test, _parents, _rendered

ROOT = Path(__file__).resolve().parents[1]

_SOURCE = '''
def predict(belief, act):
    if act == "look":
        text = "You see a room."
    elif not act.startswith("open door to "):
        text = "The door is now open."
        belief["doors"] = 1
    else:
        text = "ok" if act else "no"
    return text
'''


def _node(tree: ast.AST, kind: type, line: int, pick=lambda n: True) -> ast.AST:
    return next(n for n in ast.walk(tree) if isinstance(n, kind) and getattr(n, "lineno", 0) == line and pick(n))


def test_in_test_tells_a_branch_condition_from_its_body():
    tree = ast.parse(_SOURCE)
    parents = _parents(tree)
    assert _in_test(_node(tree, ast.If, 5), parents)                                   # the elif itself
    assert _in_test(_node(tree, ast.Call, 5), parents)                                 # inside its test
    assert _in_test(_node(tree, ast.Constant, 5, lambda n: n.value == "open door to "), parents)
    assert not _in_test(_node(tree, ast.Constant, 6), parents)                         # a body statement
    assert not _in_test(_node(tree, ast.Constant, 7, lambda n: n.value == "doors"), parents)
    ifexp = _node(tree, ast.IfExp, 9)
    assert _in_test(ifexp.test, parents) and not _in_test(ifexp.body, parents)


def _cx(i: int, action: str, predicted: str = "The door is now open.", true: str = "You move to the hall.") -> object:
    return SimpleNamespace(id=f"t#{i}", action=action, predicted=predicted, true=true)


def test_a_negated_action_test_is_scored_by_the_actions_it_leaves_out():
    tree = ast.parse(_SOURCE)
    parents = _parents(tree)
    # what a stray `not` does: every action the test does NOT name lands in the door branch and fails
    cxs = [_cx(i, "go to hall") for i in range(18)] + [_cx(18, "open door to hall"), _cx(19, "open door to yard")]
    base = {"open door to ": 0.2, "look": 0.1}
    test_factor, test_ids = MutationProposer._site_factor(_node(tree, ast.If, 5), parents, cxs, base, set())
    body_factor, body_ids = MutationProposer._site_factor(_node(tree, ast.Assign, 6), parents, cxs, base, set())
    assert test_factor > 0.9                # 18 of 20 counterexamples are actions the test leaves out (80 % of data)
    assert set(test_ids) == {f"t#{i}" for i in range(18)}
    assert body_factor == 0.15              # the branch body only matters for the two door actions it names
    assert set(body_ids) == {"t#18", "t#19"}


def test_only_literals_that_reach_a_prediction_get_the_text_simulation():
    tree = ast.parse(_SOURCE)
    cxs = [_cx(0, "go to hall")]
    assert _rendered(_node(tree, ast.Constant, 6), cxs)                                # "The door is now open."
    assert not _rendered(_node(tree, ast.Constant, 7, lambda n: n.value == "doors"), cxs)   # a dict key
    assert not _rendered(_node(tree, ast.Constant, 5, lambda n: n.value == "open door to "), cxs)  # a test
    assert _rendered(_node(tree, ast.Constant, 9, lambda n: n.value == "ok"), cxs)     # too short to tell: kept


@dataclass
class _Blame:
    lines: dict[int, float]

    def at(self, lo: int, hi: int | None = None) -> float:
        return max(self.lines.get(n, 0.0) for n in range(lo, (hi or lo) + 1))


def _cand(score: float, line: int, op: str) -> Candidate:
    node = SimpleNamespace(lineno=line)
    return Candidate(score, "predict", SimpleNamespace(operator=op, node=node), f"child {line} {op} {score}", ())


def test_the_most_suspicious_lines_get_one_candidate_per_operator():
    # line 5 is the most suspicious; its negation ranks far below text edits of other lines and of itself
    ranked = [_cand(9.0 - k * 0.01, 10 + k, "replace_string") for k in range(40)]
    ranked += [_cand(3.0, 5, "insert_word"), _cand(2.9, 5, "insert_word"), _cand(1.1, 5, "negate_cond"),
               _cand(1.0, 5, "flip_compare")]
    ranked.sort(key=lambda c: -c.score)
    blame = _Blame({5: 0.98, **{10 + k: 0.5 for k in range(40)}})
    pool = MutationProposer._by_function(ranked, 16, blame)
    ops_at_5 = [c.mutation.operator for c in pool if c.mutation.node.lineno == 5]
    assert ops_at_5[:3] == ["insert_word", "negate_cond", "flip_compare"]   # first, one of each operator
    assert len(pool) == len(ranked) and len({id(c) for c in pool}) == len(ranked)   # a reordering, nothing lost
    without = MutationProposer._by_function(ranked, 16)                   # no localisation: line order by rank only
    assert "negate_cond" not in [c.mutation.operator for c in without[:8]]



def test_a_small_share_still_tries_the_top_line_several_ways():
    """A beam member's share can be ten candidates: a quarter of it is two, and the crash line's third-ranked
    operator (the negation that puts an inverted guard right) would wait for a later round."""
    from patchworld.proposers.mutation import MIN_TOP_OPERATORS

    ops = ["swap_tuple", "int_const", "negate_cond", "delete_stmt", "flip_compare"]
    ranked = [_cand(7.0 - k, 22, op) for k, op in enumerate(ops)]
    ranked += [_cand(6.5 - k * 0.01, 30 + k, "swap_vars") for k in range(20)]
    ranked.sort(key=lambda c: -c.score)
    blame = _Blame({22: 1.0, **{30 + k: 0.9 for k in range(20)}})
    pool = MutationProposer._by_function(ranked, 10, blame)[:10]
    assert [c.mutation.operator for c in pool if c.mutation.node.lineno == 22] == ops[:MIN_TOP_OPERATORS]
    small = MutationProposer._by_function(ranked, MIN_TOP_OPERATORS, blame)[:MIN_TOP_OPERATORS]   # all on top
    assert [c.mutation.operator for c in small] == ops[:MIN_TOP_OPERATORS]

_PROGRAM = "".join(f"X{i} = {i}\n\n\n" for i in range(1, 9))   # statement i on line 3i - 2: edits never touch


def _edit(line: int, variant: int = 0) -> object:
    from patchworld.patches import patch_from_sources
    from patchworld.proposers.base import Proposal

    lines = _PROGRAM.splitlines()
    lines[3 * line - 3] = f"X{line} = -{line}{variant or ''}"
    note = f"line {line}" + (f" variant {variant}" if variant else "")
    patch = patch_from_sources(_PROGRAM, "\n".join(lines) + "\n", origin="mutation:test", note=note)
    return Proposal(patch, "ast_mutation", extra={"line": line})


def test_second_order_takes_turns_between_promising_silent_and_mixed_pairs():
    from patchworld.beam import Member
    from patchworld.program import Program
    from patchworld.second_order import second_order as _second_order

    member = Member(Program(_PROGRAM), replay=None)
    member.promising = [(0.9, _edit(1)), (0.8, _edit(2)), (0.7, _edit(3))]
    member.silent = [(5, _edit(5)), (6, _edit(6)), (7, _edit(7)), (8, _edit(8))]
    blame = _Blame({5: 0.1, 6: 0.9, 7: 0.8, 8: 0.2})
    first = _second_order(member, 3, blame)
    lines = [sorted(int(s.split()[-1]) for s in p.patch.note.split(" + ")) for p in first]
    assert lines == [[1, 2], [6, 7], [1, 6]]        # promising pair, the two most blamed silent lines, mixed
    rest = _second_order(member, 100, blame)
    every = [tuple(sorted(int(s.split()[-1]) for s in p.patch.note.split(" + "))) for p in first + rest]
    assert len(every) == len(set(every)) == 3 + 6 + 12        # each pair once: 3 loud, 6 quiet, 3 x 4 mixed
    assert _second_order(member, 5, blame) == []


def test_silent_pairs_take_one_mutant_of_each_line_before_a_second_of_any():
    """A line with many silent mutants (its operators are alternatives) fills neither the silent pairs
    nor the list they are drawn from: the lines are the unknown, so every line pair of first mutants
    comes before a line's second mutant, and an edit proposed again in a later round counts once."""
    from patchworld.beam import Member
    from patchworld.program import Program
    from patchworld.second_order import second_order as _second_order

    member = Member(Program(_PROGRAM), replay=None)
    first5 = _edit(5)
    member.silent = [(5, first5), (5, _edit(5, 1)), (5, _edit(5, 2)), (5, _edit(5, 3)),
                     (6, _edit(6)), (6, _edit(6, 1)), (7, _edit(7)), (8, _edit(8)), (5, first5)]
    blame = _Blame({5: 0.9, 6: 0.8, 7: 0.3, 8: 0.2})
    pairs = [p.patch.note.split(" + ") for p in _second_order(member, 100, blame)]
    assert len(pairs) == len({frozenset(p) for p in pairs}) == 28 - 6 - 1   # 8 distinct mutants, less pairs on one line
    first_pass = [frozenset(pair) for pair in pairs[:6]]   # the 6 pairs of lines 5-8's first mutants, by blame
    assert first_pass[0] == {"line 5", "line 6"}
    assert all(not any("variant" in n for n in pair) for pair in first_pass)
    assert {frozenset(n.split()[1] for n in pair) for pair in first_pass} == {
        frozenset(ab) for ab in (("5", "6"), ("5", "7"), ("5", "8"), ("6", "7"), ("6", "8"), ("7", "8"))}
    second = pairs[6]   # the second pass: pairs reaching a second mutant, of the most blamed lines first
    assert {n.split()[1] for n in second} == {"5", "6"} and sum("variant 1" in n for n in second) == 1


def test_syntax_is_checked_only_for_candidates_that_get_proposed(monkeypatch):
    import patchworld.proposers.mutation_candidate as mc
    from patchworld.data import load_trajectories
    from patchworld.localise import localise
    from patchworld.proposers.base import ProposalRequest
    from patchworld.replay import replay

    calls = []
    real = mc.child_parses
    monkeypatch.setattr(mc, "child_parses", lambda *a: calls.append(a) or real(*a))
    source = (ROOT / "data/programs/handwritten/maze.py").read_text(encoding="utf-8")
    val = load_trajectories(ROOT / "data/trajectories/maze/maze_traj_val.jsonl")[:6]
    program = Program(source.replace("pos[0] + delta[0]", "pos[0] - delta[0]"))
    rep = replay(program, val, lean=True, trace_lines=True)
    request = ProposalRequest("maze", program, rep.counterexamples(), 16, suspicion=localise(program.source, rep.steps,
                                                                                             rep.lines))
    ranked = MutationProposer().candidates(request)
    assert calls == [] and len(ranked) > 100                     # ranking reparses nothing
    proposals = MutationProposer().propose(request)
    assert len(proposals) == 16 and len(calls) < len(ranked) / 2
    for p in proposals:
        ast.parse(apply_patch(program.source, p.patch).source)


def test_a_line_queue_skips_candidates_that_do_not_parse():
    from patchworld.proposers.mutation_candidate import ValidQueue

    good, bad = _cand(2.0, 5, "flip_compare"), _cand(3.0, 5, "insert_word")
    bad.__dict__["_parses"], good.__dict__["_parses"] = False, True
    queue = ValidQueue([bad, good])
    assert queue.at(0) is good and queue.at(1) is None
    pool = MutationProposer._by_function([bad, good], 8, _Blame({5: 1.0}))
    assert pool[0] is good                                      # the line's best that parses leads

