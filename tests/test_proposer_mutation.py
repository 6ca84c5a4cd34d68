"""Mutation proposer: determinism, each operator, targeting, and repairing planted maze/wordle bugs."""

from __future__ import annotations

import ast
import random
import traceback

import pytest

from patchworld.counterexamples import Counterexample, select_counterexamples
from patchworld.patches import apply_patch
from patchworld.program import Program, load_world_model
from patchworld.proposers.base import ProposalRequest, Proposer
from patchworld.proposers.mutation import MutationProposer, function_weights, mine_phrase_pairs
from patchworld.proposers.mutation_ops import OPERATORS, SourceIndex, string_mutations

# Two small, correct world models (the maze one reproduces the recorded AgentGym maze episodes).
MAZE_OK = r'''import re

from patchworld.worldmodel_base import BaseWorldModel

GRID = [
    "1111111111111",
    "1000001000001",
    "1110111110111",
    "1110111110111",
    "1110111110111",
    "1110000000111",
    "1111110111111",
    "1111110111111",
    "1111110111111",
    "1111111111111",
]
POS = re.compile(r"goal is at position (\d+), (\d+)\. Your current position is at position (\d+), (\d+)\.")


class MazeModel(BaseWorldModel):
    def parse_observation(self, obs):
        m = POS.search(obs)
        if not m:
            return {}
        gr, gc, r, c = (int(v) for v in m.groups())
        return {"goal": (gr, gc), "pos": (r, c)}

    def init_belief(self):
        return {"goal": None, "pos": None, "steps": 0}

    def correct_belief(self, belief, obs):
        belief = dict(belief)
        belief.update(self.parse_observation(obs))
        return belief

    def predict_belief(self, belief, action):
        belief = dict(belief)
        if belief["pos"] is None:
            return belief
        r, c = belief["pos"]
        if action == "move up":
            r -= 1
        elif action == "move down":
            r += 1
        elif action == "move left":
            c -= 1
        elif action == "move right":
            c += 1
        if GRID[r][c] == "1":
            r, c = belief["pos"]
        belief["pos"] = (r, c)
        belief["steps"] += 1
        return belief

    def readout_observation(self, belief, action=""):
        if belief["pos"] is None:
            return ""
        r, c = belief["pos"]
        if belief["steps"] > 50:
            return "Failure\n"
        if (r, c) == belief["goal"]:
            return "Success\n"
        phrases = []
        if GRID[r][c + 1] == "1":
            phrases.append("to your right")
        if GRID[r][c - 1] == "1":
            phrases.append("to your left")
        if GRID[r - 1][c] == "1":
            phrases.append("above you")
        if GRID[r + 1][c] == "1":
            phrases.append("below you")
        if len(phrases) == 1:
            walls = f"There is a wall {phrases[0]}."
        elif phrases:
            walls = "There are walls " + ", ".join(phrases) + "."
        else:
            walls = "There are no walls near you."
        gr, gc = belief["goal"]
        return f"The goal is at position {gr}, {gc}. Your current position is at position {r}, {c}. {walls}"

    def extract_valid_action_forms(self):
        return {"move <direction>": ["move up", "move down", "move left", "move right"]}
'''

WORDLE_OK = r'''from patchworld.worldmodel_base import BaseWorldModel

WORDS = ["panic", "solar", "shire", "proxy", "point", "robot", "prick", "wince", "crimp", "knoll"]


def feedback(guess, target):
    out = []
    for i, ch in enumerate(guess):
        if ch == target[i]:
            out.append("g")
        elif ch in target:
            out.append("y")
        else:
            out.append("b")
    return " ".join(out)


class WordleModel(BaseWorldModel):
    def parse_observation(self, obs):
        letters = obs.split()
        if len(letters) == 5 and all(x in "gyb" for x in letters):
            return {"feedback": " ".join(letters)}
        return {}

    def init_belief(self):
        return {"candidates": list(WORDS), "last": None, "feedback": None}

    def correct_belief(self, belief, obs):
        belief = dict(belief)
        parsed = self.parse_observation(obs)
        if parsed and belief["last"]:
            belief["candidates"] = [w for w in belief["candidates"] if feedback(belief["last"], w) == parsed["feedback"]]
        return belief

    def predict_belief(self, belief, action):
        belief = dict(belief)
        word = action.replace(" ", "")
        if word not in WORDS:
            belief["last"] = None
            belief["feedback"] = "invalid word"
            return belief
        target = belief["candidates"][0] if belief["candidates"] else word
        belief["last"] = word
        belief["feedback"] = feedback(word, target) + "\n"
        return belief

    def readout_observation(self, belief, action=""):
        return belief["feedback"] or ""

    def extract_valid_action_forms(self):
        return {"l e t t e r s": [" ".join(w) for w in WORDS]}
'''


def _replay(source: str, episodes: list) -> list[Counterexample]:
    """Teacher-forced in-process replay of trusted test code: the counterexamples, as replay would give them."""
    model = load_world_model(source)
    out = []
    for traj_id, first, steps in episodes:
        belief, obs = model.correct_belief(model.init_belief(), first), first
        for k, (action, true) in enumerate(steps):
            try:
                prior = model.predict_belief(belief, action)
                pred, kind, err = model.readout_observation(prior, action), "mismatch", ""
            except Exception:
                prior, pred, kind, err = belief, "", "exception", traceback.format_exc()
            if pred != true:
                out.append(Counterexample(traj_id, k, obs, action, repr(belief)[:200], pred, true, kind, err))
            belief, obs = model.correct_belief(prior, true), true
    return out


FREE = [(r, c) for r in range(10) for c in range(13) if r in (1, 5) and 0 < c < 12 or (r, c) in
        {(2, 3), (3, 3), (4, 3), (2, 9), (3, 9), (4, 9), (6, 6), (7, 6)}]


def _maze_episodes(n: int = 16, steps: int = 8, seed: int = 0) -> list:
    ok = load_world_model(MAZE_OK)
    rng = random.Random(seed)
    episodes = []
    for ep in range(n):
        belief = ok.correct_belief(ok.init_belief(), "")
        belief.update({"goal": (8, 6), "pos": rng.choice([p for p in FREE if p[1] not in (0, 6, 12)])})
        first = ok.readout_observation(belief)
        trail = []
        for _ in range(steps):
            action = rng.choice(["move up", "move down", "move left", "move right"])
            belief = ok.predict_belief(belief, action)
            trail.append((action, ok.readout_observation(belief, action)))
            if trail[-1][1].endswith("\n"):
                break
        episodes.append((f"maze/{ep}/0", first, trail))
    return episodes


def _wordle_episodes(n: int = 10, seed: int = 1) -> list:
    ok = load_world_model(WORDLE_OK)
    words = ["panic", "solar", "shire", "proxy", "point", "robot", "prick", "wince", "crimp", "knoll"]
    rng = random.Random(seed)
    episodes = []
    for ep in range(n):
        belief = ok.correct_belief(ok.init_belief(), "Let's start Wordle!")
        trail = []
        for _ in range(4):
            action = " ".join(rng.choice(words))
            belief = ok.predict_belief(belief, action)
            true = ok.readout_observation(belief, action)
            trail.append((action, true))
            belief = ok.correct_belief(belief, true)
        episodes.append((f"wordle/{ep}/0", "Let's start Wordle!", trail))
    return episodes


def _plant(source: str, good: str, bad: str) -> str:
    assert source.count(good) == 1, good
    return source.replace(good, bad)


def _rounds_to_fix(buggy: str, correct: str, episodes: list, n: int = 8, rounds: int = 3, seed: int = 0) -> int | None:
    """The first round (1-based) whose proposals include the exact repair, asking like a session does."""
    proposer = MutationProposer(seed=seed)
    shown_all = _replay(buggy, episodes)
    assert shown_all, "the planted bug must produce counterexamples"
    for r in range(1, rounds + 1):
        shown = select_counterexamples(shown_all, k=8, seed=seed + r)
        request = ProposalRequest("test", Program(buggy), shown, n=n, round=r, seed=seed + r)
        for proposal in proposer.propose(request):
            if apply_patch(buggy, proposal.patch).source == correct:
                return r
    return None


def test_reference_models_are_exact_on_their_own_data() -> None:
    assert _replay(MAZE_OK, _maze_episodes()) == []
    assert _replay(WORDLE_OK, _wordle_episodes()) == []


MAZE_BUGS = {
    "down moves the column": ('        elif action == "move down":\n            r += 1',
                              '        elif action == "move down":\n            c += 1'),
    "right moves the row": ('            c += 1\n        if GRID', '            r += 1\n        if GRID'),
    "stored position swapped": ('belief["pos"] = (r, c)', 'belief["pos"] = (c, r)'),
    "unpacked position swapped": ('        r, c = belief["pos"]\n        if action', '        c, r = belief["pos"]\n        if action'),
    "readout coordinates swapped": ("position is at position {r}, {c}", "position is at position {c}, {r}"),
    "left goes right": ('            c -= 1\n        elif action == "move right"', '            c += 1\n        elif action == "move right"'),
    "wall phrases swapped": ('phrases.append("above you")\n        if GRID[r + 1][c] == "1":\n            phrases.append("below you")',
                             'phrases.append("below you")\n        if GRID[r + 1][c] == "1":\n            phrases.append("above you")'),
}


@pytest.mark.parametrize("bug", sorted(MAZE_BUGS))
def test_repairs_planted_maze_bugs_within_a_few_rounds(bug: str) -> None:
    buggy = _plant(MAZE_OK, *MAZE_BUGS[bug])
    found = _rounds_to_fix(buggy, MAZE_OK, _maze_episodes())
    assert found is not None and found <= 3, f"{bug}: not repaired in 3 rounds of 8"


def test_coordinate_swap_fix_is_top_ranked_and_works_in_process() -> None:
    buggy = _plant(MAZE_OK, *MAZE_BUGS["down moves the column"])
    episodes = _maze_episodes()
    shown = select_counterexamples(_replay(buggy, episodes), k=8)
    proposals = MutationProposer().propose(ProposalRequest("maze", Program(buggy), shown, n=4))
    best = proposals[0]
    assert best.kind == "ast_mutation" and best.patch.origin == "mutation:swap_vars"
    assert best.patch.parent == Program(buggy).hash
    child = apply_patch(buggy, best.patch).source
    assert _replay(child, episodes) == []  # running the repaired model reproduces every transition
    assert {cx.id for cx in shown} >= set(best.patch.counterexample_ids) and best.patch.counterexample_ids


WORDLE_BUGS = {
    "feedback letters swapped": ('out.append("y")\n        else:\n            out.append("b")',
                                 'out.append("b")\n        else:\n            out.append("y")'),
    "wrong comparison": ("if ch == target[i]", "if ch != target[i]"),
}


@pytest.mark.parametrize("bug", sorted(WORDLE_BUGS))
def test_repairs_planted_wordle_bugs_within_a_few_rounds(bug: str) -> None:
    buggy = _plant(WORDLE_OK, *WORDLE_BUGS[bug])
    found = _rounds_to_fix(buggy, WORDLE_OK, _wordle_episodes())
    assert found is not None and found <= 3, f"{bug}: not repaired in 3 rounds of 8"


def test_deterministic_for_a_seed_and_remembers_what_it_proposed() -> None:
    buggy = _plant(MAZE_OK, *MAZE_BUGS["readout coordinates swapped"])
    shown = select_counterexamples(_replay(buggy, _maze_episodes()), k=8)
    request = ProposalRequest("maze", Program(buggy), shown, n=6)
    a, b = MutationProposer(seed=3), MutationProposer(seed=3)
    first_a, first_b = a.propose(request), b.propose(request)
    assert [p.patch.id for p in first_a] == [p.patch.id for p in first_b]
    assert len(first_a) == 6 and len({p.patch.id for p in first_a}) == 6
    second = a.propose(request)  # the same request again goes further down the ranking
    assert not {p.patch.id for p in second} & {p.patch.id for p in first_a}
    fresh = MutationProposer(seed=3, remember=False)
    assert [p.patch.id for p in fresh.propose(request)] == [p.patch.id for p in fresh.propose(request)]
    assert isinstance(a, Proposer)


def test_ranking_frame_lists_the_fix_first() -> None:
    buggy = _plant(MAZE_OK, *MAZE_BUGS["down moves the column"])
    shown = select_counterexamples(_replay(buggy, _maze_episodes()), k=8)
    frame = MutationProposer().ranking(ProposalRequest("maze", Program(buggy), shown, n=4), top=5)
    assert frame.height == 5 and frame["rank"].to_list() == [1, 2, 3, 4, 5]
    assert frame.row(0, named=True)["operator"] == "swap_vars" and frame.row(0, named=True)["function"] == "predict_belief"
    assert frame["score"].is_sorted(descending=True)


def test_max_per_operator_diversifies() -> None:
    buggy = _plant(MAZE_OK, *MAZE_BUGS["down moves the column"])
    shown = select_counterexamples(_replay(buggy, _maze_episodes()), k=8)
    proposals = MutationProposer(max_per_operator=1).propose(ProposalRequest("maze", Program(buggy), shown, n=5))
    ops = [p.patch.origin for p in proposals]
    assert len(ops) == 5 and len(set(ops)) == 5


OPS_SRC = """def helper(pos, k):
    x, y = pos
    if x < 3 and pos[0] > 1:
        x += 1
        y = y - 2
    z = (pos[0] + 1, pos[1])
    s = f"{x} {y} at {z}"
    return "b" if s else "y"


def unrelated(a, b):
    return a + b
"""


def test_each_operator_yields_patches_that_apply() -> None:
    tree = ast.parse(OPS_SRC)
    func = tree.body[0]
    idx = SourceIndex(OPS_SRC)
    seen = set()
    for name, op in OPERATORS.items():
        muts = list(op(func, idx))
        assert muts, f"{name} produced nothing"
        for mut in muts:
            child = mut.apply(OPS_SRC)
            assert child != OPS_SRC
            ast.parse(child)
        seen.add(name)
    muts = list(string_mutations(func, idx, {("b", "y"): 2, ("y", "b"): 1}))
    assert {m.operator for m in muts} == {"replace_string", "swap_strings"}
    swap = next(m for m in muts if m.operator == "swap_strings")
    assert 'return "y" if s else "b"' in swap.apply(OPS_SRC)
    assert seen == set(OPERATORS)
    # and through the proposer, every candidate is a patch that applies to the parent
    program = Program(OPS_SRC)
    proposals = MutationProposer(max_per_operator=100).propose(ProposalRequest("t", program, [], n=400))
    ops = {p.patch.origin.split(":")[1] for p in proposals}
    assert ops >= set(OPERATORS)
    for p in proposals:
        assert p.kind == "ast_mutation"
        ast.parse(apply_patch(OPS_SRC, p.patch).source)


def test_targets_traceback_frames_and_interface_methods() -> None:
    src = OPS_SRC + """

class M:
    def predict_belief(self, belief, action):
        return helper(belief, 1)

    def readout_observation(self, belief, action=""):
        return str(belief)
"""
    tree = ast.parse(src)
    tb = 'Traceback (most recent call last):\n  File "<program>", line 17, in predict_belief\n' \
         '  File "<program>", line 5, in helper\nTypeError: boom'
    crash = Counterexample("t/0/0", 0, "o", "a", "", "", "x", "exception", tb)
    weights, hot = function_weights(tree, [crash])
    assert weights["helper"] == 1.0 and "unrelated" not in weights and hot == {5}
    request = ProposalRequest("t", Program(src), [crash], n=5)
    assert all(p.extra["function"] == "helper" for p in MutationProposer().propose(request))
    mismatch = Counterexample("t/0/0", 1, "o", "a", "", "1 2", "2 1", "mismatch", "")
    weights, _ = function_weights(tree, [mismatch])
    assert weights["predict_belief"] == 1.0 and weights["helper"] == pytest.approx(0.8)
    assert "unrelated" not in weights
    funcs = {p.extra["function"] for p in MutationProposer().propose(ProposalRequest("t", Program(src), [mismatch], n=50))}
    assert "unrelated" not in funcs and funcs <= {"predict_belief", "readout_observation", "helper"}


def test_mined_phrases() -> None:
    cxs = [Counterexample("w/0/0", 0, "", "a", "", "b y b b g\n", "b b y b g\n", "mismatch", ""),
           Counterexample("m/0/0", 0, "", "a", "", "walls above you, at 1, 2", "walls below you, at 2, 1", "mismatch", "")]
    pairs = mine_phrase_pairs(cxs)
    assert pairs[("y", "b")] == 1 and pairs[("b", "y")] == 1 and pairs[("above", "below")] == 1
    assert not any(a.isdigit() for a, _ in pairs)  # numbers come from state, never mined


def test_unparsable_program_gives_an_error_proposal() -> None:
    proposals = MutationProposer().propose(ProposalRequest("t", Program("def f(:\n"), [], n=3))
    assert len(proposals) == 1 and proposals[0].kind == "error" and "line 1" in proposals[0].error


_PAIRS_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from types import SimpleNamespace
from patchworld.proposers.mutation import mine_phrase_pairs
cxs = [SimpleNamespace(predicted="a red ball is on the left of the big box near a green wall",
                       true="a blue key is on the right of the small door near a grey gate")]
print(list(mine_phrase_pairs(cxs)))
"""


def test_phrase_pairs_come_in_the_same_order_whatever_the_hash_seed():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    outs = {subprocess.run([sys.executable, "-c", _PAIRS_SCRIPT, root], env={**os.environ, "PYTHONHASHSEED": str(h)},
                           capture_output=True, text=True, check=True).stdout for h in range(1, 6)}
    assert len(outs) == 1 and "('red', 'blue')" in outs.pop()
