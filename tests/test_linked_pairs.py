"""Belief keys link statements (patchworld.dataflow.key_effects), and the first round on a program tries pairs of its
silent mutants on linked lines (population step 11): two bugs that each change nothing alone."""

from __future__ import annotations

from patchworld.dataflow import key_effects, linked

_MODEL = '''
class Model:
    def _candidates(self, belief):
        return [v for v in belief["vocab"] if v not in belief["history"]]

    def correct_belief(self, belief, obs):
        belief = dict(belief)
        if obs.startswith("prompt"):
            belief["vocab"] = obs.split()
        elif obs.startswith("feedback"):
            belief["history"].append(obs)
        belief["seen"] = obs
        return belief

    def predict_belief(self, belief, action):
        new = dict(belief)
        options = self._candidates(belief) or belief["vocab"]
        new["pred"] = options[0]
        return new

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")
'''


def _line(text: str) -> int:
    return next(n for n, line in enumerate(_MODEL.splitlines(), 1) if text in line)


def test_a_branch_writing_a_key_is_linked_to_a_line_reading_it_through_a_called_function():
    effects = key_effects(_MODEL)
    elif_line, options, pred = _line("elif obs"), _line("options ="), _line('new["pred"]')
    assert "history" in effects[elif_line][0]            # the elif's body appends to belief["history"]
    assert "history" in effects[options][1]              # read inside _candidates, called on this line
    assert linked(effects, elif_line, options) and linked(effects, options, elif_line)
    assert not linked(effects, _line('belief["seen"]'), options)   # a key nothing reads
    assert not linked(effects, elif_line, pred)          # pred writes "pred" and reads no key
    assert linked(effects, pred, _line('belief.get("pred"'))   # .get reads
    assert key_effects("def broken(:\n") == {}


def test_a_chain_of_calls_carries_the_reads_and_a_program_of_too_many_functions_gets_no_links():
    from patchworld.dataflow import MAX_FUNCTIONS, producers

    def chain(n: int) -> str:   # f0 calls f1 ... calls f(n-1), which reads "deep"; f0 is called on the last line
        body = "".join(f"def f{i}(b):\n    return f{i + 1}(b)\n" for i in range(n - 1))
        return body + f'def f{n - 1}(b):\n    return b["deep"]\n' + 'b = {}\nb["deep"] = 1\nx = f0(b)\n'

    source = chain(MAX_FUNCTIONS)
    effects = key_effects(source)
    last = len(source.splitlines())
    assert "deep" in effects[last][1] and linked(effects, last - 1, last)   # read through 500 calls
    assert key_effects(chain(MAX_FUNCTIONS + 1)) == {}
    store = 'def top(b):\n    b["out"] = f0(b)\n'   # what stored "out": the whole chain
    line = len(chain(MAX_FUNCTIONS - 1).splitlines()) + 2
    assert producers(chain(MAX_FUNCTIONS - 1) + store)[line] == {f"f{i}" for i in range(MAX_FUNCTIONS - 1)}
    assert producers(chain(MAX_FUNCTIONS) + store) == {}
    cyclic = "def f(b):\n    return g(b)\ndef g(b):\n    return f(b) or b['k']\nx = f({})\n"
    assert "k" in key_effects(cyclic)[5][1]                              # calls in a cycle end


def test_two_bugs_that_each_change_nothing_alone_are_repaired_in_the_first_round(tmp_path, monkeypatch):
    """Hand-written Wordle: the feedback is never appended to the history, and the candidate filter reads
    the history but falls back to the whole vocabulary (``or`` -> ``and``). Each fix alone predicts what
    the buggy program predicts; the first round's pairs of silent mutants on linked lines find both,
    where without them it accepts an edit of the index of the guessed candidate (a compensation)."""
    from planted import repaired_only_with

    import patchworld.population

    bugs = (('elif parsed["kind"] == "feedback"', 'elif parsed["kind"] != "feedback"'),
            ('self._candidates(belief) or belief', 'self._candidates(belief) and belief'))
    repaired_only_with(monkeypatch, patchworld.population, "FIRST_ROUND_PAIRS", 0, "wordle", bugs, tmp_path, seed=9001)
