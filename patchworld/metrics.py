"""Text metrics for predicted observations: exact match, token F1, BLEU-4, coverage.

All four follow the PatchWorld reference evaluator so numbers are comparable:

* **exact match**: the predicted text equals the true text, character for character.
* **token F1**: lower-case both texts, split on whitespace, take the *sets* of tokens
  (duplicates count once); precision = |common| / |predicted set|, recall = |common| /
  |true set|, F1 their harmonic mean. It is 0.0 when either side has no token, **including
  when both are empty** (the reference does this; an empty prediction never scores).
* **BLEU-4**: sentence-level BLEU with uniform weights (1/4 each) over whitespace tokens
  (case-sensitive, no lower-casing), one reference, brevity penalty exp(1 - r/c) when the
  prediction is shorter, and smoothing "method 1" of Chen & Cherry (2014) as in NLTK's
  ``SmoothingFunction().method1``: an n-gram precision with zero matches becomes
  0.1 / (number of predicted n-grams, at least 1). It is 0.0 when either side is empty or
  when no unigram matches. This reproduces ``nltk.translate.bleu_score.sentence_bleu``.
* **coverage**: a prediction counts as covered when it is non-empty after stripping and
  contains none of the markers "traceback", "exception", "error:" (case-insensitive).

The reference's *headline* numbers average differently from the workbench's (which average
over every transition, failures scoring 0); :func:`reference_metrics` reproduces them exactly:
``token_f1_ref`` / ``bleu4_ref`` are means over the **covered** transitions only (a transition
whose prediction is covered counts whatever happened to its belief afterwards, e.g. a
``correct_belief`` that raised), ``coverage_ref`` = covered / all, and
``token_f1_post_correction`` = mean token F1 of the readout *after* correcting with the true
observation, over the transitions where that readout is covered; all rounded to 4 places as
the reference's ``compute_observation_fit`` does.

Stdlib only: the sandbox worker and notebooks import this cheaply.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["exact_match", "token_f1", "bleu4", "is_covered", "reference_metrics", "BLEU_EPSILON", "storable_text",
           "judge_row"]

BLEU_EPSILON = 0.1
"""Smoothing constant of method 1 (NLTK's default ``epsilon``)."""

_ERROR_MARKERS = ("traceback", "exception", "error:")


def exact_match(predicted: str, true: str) -> bool:
    """True when the two texts are identical."""
    return predicted == true


def storable_text(value: object) -> str:
    """A prediction as replay stores it: a ``str`` safe for polars (lone surrogates replaced); non-strings ""."""
    if type(value) is not str:
        return ""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def judge_row(predicted: str, true: str, kind: str) -> tuple[bool, str]:
    """(exact, error kind) of one replayed step: exact when the texts are equal and the step did not fail
    (a failed call that still returned the true text counts, as in the reference); a step without an
    error kind that is not exact is "empty" or "mismatch"."""
    exact = predicted == true and (kind == "" or (kind in ("exception", "step_timeout") and predicted != ""))
    if kind == "":
        kind = "" if exact else ("empty" if not predicted.strip() else "mismatch")
    return exact, kind


def token_f1(predicted: str, true: str) -> float:
    """Set-based unigram F1 over lower-cased whitespace tokens (0.0 if either is empty)."""
    if predicted == true:  # the common case in replay: skip building the sets (same value)
        return 1.0 if true and not true.isspace() else 0.0
    return _token_f1_differing(predicted, true)


@lru_cache(maxsize=1 << 13)
def _token_f1_differing(predicted: str, true: str) -> float:
    """:func:`token_f1` of two different texts, cached: a search scores the same wrong prediction
    against the same true observation for child after child (building the token sets was the
    largest share of scoring a replay in the parent)."""
    pred = set(predicted.lower().split())
    gold = set(true.lower().split())
    if not pred or not gold:
        return 0.0
    common = len(pred & gold)
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _shared_ends(hyp: list[str], ref: list[str]) -> tuple[int, int]:
    """Lengths of the longest common token prefix and (non-overlapping) suffix, by bisection."""
    lo, hi = 0, min(len(hyp), len(ref))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hyp[:mid] == ref[:mid]:
            lo = mid
        else:
            hi = mid - 1
    prefix, lo, hi = lo, 0, min(len(hyp), len(ref)) - lo
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if hyp[len(hyp) - mid :] == ref[len(ref) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return prefix, lo


def _middle_grams(tokens: list[str], n: int, prefix: int, suffix: int) -> Counter:
    """Counts of the n-grams not wholly inside the first ``prefix`` or last ``suffix`` tokens."""
    start, stop = max(0, prefix - n + 1), min(len(tokens) - n + 1, len(tokens) - suffix)
    if stop <= start:
        return Counter()
    return Counter(tokens[start:stop] if n == 1 else zip(*(tokens[start + i : stop + i] for i in range(n)), strict=True))


@lru_cache(maxsize=1 << 16)
def bleu4(predicted: str, true: str) -> float:
    """Sentence BLEU-4 with method-1 smoothing (see the module docstring); results are cached.

    Clipped matches are counted as (n-grams of the prediction) minus the excess of each
    n-gram over its count in the reference; n-grams wholly inside a shared prefix or suffix
    occur equally often on both sides, so only the differing middle is counted (a near-miss
    costs little). An order with no match means no match for any higher order.
    """
    hyp = predicted.split()
    ref = true.split()
    if not hyp or not ref:
        return 0.0
    if hyp == ref and len(hyp) >= 4:
        return 1.0
    prefix, suffix = _shared_ends(hyp, ref)
    log_sum = 0.0
    matched = 1
    for n in range(1, 5):
        total = max(1, len(hyp) - n + 1)
        if matched:
            ref_counts = _middle_grams(ref, n, prefix, suffix)
            excess = 0
            for gram, count in _middle_grams(hyp, n, prefix, suffix).items():
                other = ref_counts.get(gram, 0)
                if count > other:
                    excess += count - other
            matched = max(0, len(hyp) - n + 1) - excess
        if matched == 0:
            if n == 1:
                return 0.0
            precision = BLEU_EPSILON / total
        else:
            precision = matched / total
        log_sum += 0.25 * math.log(precision)
    c, r = len(hyp), len(ref)
    brevity = 1.0 if c > r else math.exp(1 - r / c)
    return brevity * math.exp(log_sum)


def is_covered(predicted: str) -> bool:
    """Whether a prediction counts for coverage: non-empty and not an error message."""
    if not predicted or not predicted.strip():
        return False
    low = predicted.lower()
    return not any(marker in low for marker in _ERROR_MARKERS)


def _mean_covered(predicted: Sequence[str], true: Sequence[str], metric: Callable[[str, str], float]) -> tuple:
    covered = [(p, t) for p, t in zip(predicted, true, strict=True) if is_covered(p)]
    return (sum(metric(p, t) for p, t in covered) / len(covered) if covered else 0.0), len(covered)


def reference_metrics(steps: Any) -> dict[str, float | None]:
    """The reference's ``mean_token_f1``, ``mean_bleu4``, ``coverage`` and ``mean_token_f1_post_correction``.

    ``steps``: a replay steps frame or a dict of columns, with ``predicted`` (the readout, "" where
    ``predict_belief`` or ``readout_observation`` raised, as the reference records it) and ``true``;
    an optional ``post_predicted`` column (the readout after ``correct_belief`` with the true
    observation) gives ``token_f1_post_correction``, else it is None. See the module docstring.
    """
    predicted, true = [str(v) for v in steps["predicted"]], [str(v) for v in steps["true"]]
    names = steps.columns if hasattr(steps, "columns") else list(steps)
    f1, n_cov = _mean_covered(predicted, true, token_f1)
    bleu, _ = _mean_covered(predicted, true, bleu4)
    post = None
    if "post_predicted" in names:
        post = round(_mean_covered(["" if v is None else str(v) for v in steps["post_predicted"]], true, token_f1)[0], 4)
    return {"token_f1_ref": round(f1, 4), "bleu4_ref": round(bleu, 4),
            "coverage_ref": round(n_cov / len(true), 4) if true else 0.0, "token_f1_post_correction": post}
