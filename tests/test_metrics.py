"""Text metrics against hand-computed values."""

from __future__ import annotations

import dataclasses
import math

import pytest

from patchworld.metrics import bleu4, exact_match, is_covered, judge_row, storable_text, token_f1


def test_exact_match_is_character_exact() -> None:
    assert exact_match("You see a door.", "You see a door.")
    assert not exact_match("You see a door.", "you see a door.")
    assert not exact_match("a  b", "a b")


def test_token_f1_is_set_based_and_lower_cased() -> None:
    # pred set {a, b, c}, true set {a, b, d, e}: common 2, P = 2/3, R = 2/4, F1 = 4/7
    assert token_f1("A b c", "a B d e") == pytest.approx(4 / 7)
    # duplicates count once: {the, cat} vs {the, cat, sat}: P = 1, R = 2/3, F1 = 0.8
    assert token_f1("the the the cat", "the cat sat") == pytest.approx(0.8)
    assert token_f1("x y", "x y") == 1.0
    assert token_f1("x", "y") == 0.0


def test_token_f1_empty_sides_score_zero_like_the_reference() -> None:
    assert token_f1("", "a") == 0.0
    assert token_f1("a", "   ") == 0.0
    assert token_f1("", "") == 0.0


def test_bleu4_hand_computed() -> None:
    # p1 = 3/4, p2 = 2/3, p3 = 1/2, p4 = 0 matches of 1 -> 0.1/1; same length: no brevity penalty
    expected = (0.75 * (2 / 3) * 0.5 * 0.1) ** 0.25
    assert bleu4("a b c d", "a b c e") == pytest.approx(expected)
    assert bleu4("a b c d e", "a b c d e") == pytest.approx(1.0)


def test_bleu4_brevity_penalty_and_short_hypotheses() -> None:
    # hyp "a b" vs ref "a b c d": p1 = 1, p2 = 1, p3 and p4 have no n-grams -> 0.1/1 each
    # brevity penalty exp(1 - 4/2) = e^-1
    expected = math.exp(-1) * (1 * 1 * 0.1 * 0.1) ** 0.25
    assert bleu4("a b", "a b c d") == pytest.approx(expected)


def test_bleu4_clips_counts_and_is_case_sensitive() -> None:
    # "the the the" vs "the cat": clipped unigram matches 1/3; p2 = 0/2 -> 0.1/2; p3 0/1 -> 0.1; p4 0/1 -> 0.1
    expected = ((1 / 3) * (0.1 / 2) * 0.1 * 0.1) ** 0.25
    assert bleu4("the the the", "the cat") == pytest.approx(expected)
    assert bleu4("A", "a") == 0.0
    assert bleu4("", "a") == 0.0 and bleu4("a", "") == 0.0


def test_coverage_rejects_empty_and_error_text() -> None:
    assert is_covered("You see a door.")
    assert not is_covered("   ")
    assert not is_covered("Traceback (most recent call last)")
    assert not is_covered("Error: nothing")


def _plain_bleu4(predicted: str, true: str) -> float:
    """A direct, slow transcription of the definition, to check the optimized version."""
    hyp, ref = predicted.split(), true.split()
    if not hyp or not ref:
        return 0.0
    log_sum = 0.0
    for n in range(1, 5):
        hyp_grams = [tuple(hyp[i : i + n]) for i in range(len(hyp) - n + 1)]
        ref_grams = [tuple(ref[i : i + n]) for i in range(len(ref) - n + 1)]
        matched = sum(min(hyp_grams.count(g), ref_grams.count(g)) for g in set(hyp_grams))
        total = max(1, len(hyp_grams))
        if matched == 0 and n == 1:
            return 0.0
        log_sum += 0.25 * math.log(matched / total if matched else 0.1 / total)
    brevity = 1.0 if len(hyp) > len(ref) else math.exp(1 - len(ref) / len(hyp))
    return brevity * math.exp(log_sum)


def test_bleu4_agrees_with_the_plain_definition_on_random_texts() -> None:
    import random

    rng = random.Random(0)
    for _ in range(2000):
        p = " ".join(rng.choice("abcd") for _ in range(rng.randint(0, 10)))
        t = " ".join(rng.choice("abcd") for _ in range(rng.randint(0, 10)))
        assert bleu4(p, t) == pytest.approx(_plain_bleu4(p, t), abs=1e-12), (p, t)


# --------------------------------------------------------------------------- the reference's headline metrics

_PROBE_STEPS = [("you are in a hall", "go", "you are in a room"), ("you are in a room", "look", "a red door"),
                ("a red door", "open", "the door opens slowly now")]
_PROBE = '''
class Probe:
    def init_belief(self):
        return {{}}
    def correct_belief(self, belief, obs):
        {correct}
        return {{"obs": obs}}
    def predict_belief(self, belief, action):
        return dict(belief)
    def readout_observation(self, belief, action=""):
        {readout}
        return {{"go": "you are in a room", "look": "a blue door", "open": "the door opens"}}[action]
'''
PROBES = {  # name: (correct_belief body, readout body, token_f1_ref, coverage_ref, ours: token_f1 over every row)
    # correct_belief raises on "a red door": the prediction before it still counts (covered), the belief stays
    "correct_belief raises": ('if obs.startswith("a red"): raise ValueError("no")', "pass",
                              round((1 + 2 / 3 + 0.75) / 3, 4), 1.0, (1 + 2 / 3 + 0.75) / 3),
    # readout raises for "look": predicted "" there, not covered; the mean is over the two covered rows
    "readout raises": ("pass", 'if action == "look": raise KeyError(action)', round((1 + 0.75) / 2, 4),
                       round(2 / 3, 4), (1 + 0 + 0.75) / 3),
    # an "Error:" readout is not covered either
    "Error readout": ("pass", 'if action == "look": return "Error: unknown action"', round((1 + 0.75) / 2, 4),
                      round(2 / 3, 4), (1 + 0 + 0.75) / 3),
}


@pytest.mark.parametrize("sandbox", [False, True])
@pytest.mark.parametrize("name", list(PROBES))
def test_reference_metrics_equal_hand_computed_values(name: str, sandbox: bool) -> None:
    from patchworld.data import Trajectory, Transition
    from patchworld.metrics import reference_metrics
    from patchworld.program import Program
    from patchworld.replay import replay

    correct, readout, f1_ref, coverage_ref, ours = PROBES[name]
    program = Program.from_source(_PROBE.format(correct=correct, readout=readout))
    traj = Trajectory("toy", "probe", 0, 0, "test", False, 0.0,
                      tuple(Transition(o, a, n, 0.0, False) for o, a, n in _PROBE_STEPS))
    result = replay(program, [traj], sandbox=sandbox)
    got = reference_metrics(result.steps)
    assert got["token_f1_ref"] == f1_ref and got["coverage_ref"] == coverage_ref
    assert {k: result.metrics[k] for k in got} == got  # Replay.metrics carries the same numbers
    covered = [(p, t) for p, t in zip(result.steps["predicted"], result.steps["true"], strict=True) if is_covered(p)]
    assert got["bleu4_ref"] == round(sum(bleu4(p, t) for p, t in covered) / len(covered), 4)
    assert got["token_f1_post_correction"] is None  # no post-correction readouts in this frame
    assert result.metrics["token_f1"] == pytest.approx(ours)  # ours averages over every transition


def test_reference_post_correction_mean_is_over_covered_readouts() -> None:
    from patchworld.metrics import reference_metrics

    frame = {"predicted": ["a b", "", "x"], "true": ["a b", "c d", "x y"],
             "post_predicted": ["a b", "Error: no", "x y"]}
    got = reference_metrics(frame)
    assert got["token_f1_post_correction"] == 1.0  # rows 1 and 3 covered after correction, both exact
    assert got["token_f1_ref"] == round((1 + 2 * (1 * 0.5) / 1.5) / 2, 4) and got["coverage_ref"] == round(2 / 3, 4)


def test_evaluate_reports_the_hand_computed_reference_numbers(tmp_path) -> None:
    """The results frame's token_f1_ref / coverage_ref of the probes equal the hand-computed values."""
    import polars as pl

    from patchworld.data import Trajectory, Transition, save_trajectories
    from patchworld.evaluate import evaluate
    from patchworld.program import Program

    traj = Trajectory("maze", "probe", 0, 0, "test", False, 0.0,
                      tuple(Transition(o, a, n, 0.0, False) for o, a, n in _PROBE_STEPS))
    for split in ("train", "test"):
        save_trajectories([dataclasses.replace(traj, split=split)], tmp_path / "maze" / f"maze_traj_{split}.jsonl")
    entries = [(name, Program.from_source(_PROBE.format(correct=c, readout=r)), "simple", "maze")
               for name, (c, r, *_rest) in PROBES.items()]
    frame = evaluate(entries, ["maze"], data_dir=tmp_path, rqs=["rq1"], references=False, oracle=False,
                     sandbox=True, samples=20)
    for name, (_c, _r, f1_ref, coverage_ref, _ours) in PROBES.items():
        got = {m: frame.filter((pl.col("label") == name) & (pl.col("metric") == m))["value"][0]
               for m in ("token_f1_ref", "coverage_ref")}
        assert round(got["token_f1_ref"], 4) == f1_ref and round(got["coverage_ref"], 4) == coverage_ref, name


@pytest.mark.parametrize(("pred", "true", "kind", "expected"), [
    ("a b", "a b", "", (True, "")),
    ("a c", "a b", "", (False, "mismatch")),
    ("  ", "a b", "", (False, "empty")),
    ("a b", "a b", "exception", (True, "exception")),      # a failed call that still gave the true text
    ("", "", "exception", (False, "exception")),           # ... but not an empty one
    ("a b", "a b", "timeout", (False, "timeout")),         # a job failure is never exact
])
def test_judge_row_is_the_replay_exactness_rule(pred: str, true: str, kind: str, expected: tuple) -> None:
    assert judge_row(pred, true, kind) == expected


def test_storable_text_keeps_text_and_replaces_only_lone_surrogates() -> None:
    assert storable_text("plain") == "plain" and storable_text("caf\u00e9") == "caf\u00e9"
    assert storable_text("a\ud800b") == "a?b"
    assert storable_text(None) == "" and storable_text(3) == ""

