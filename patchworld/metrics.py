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

Stdlib only: the sandbox worker and notebooks import this cheaply.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from operator import itemgetter

__all__ = ["exact_match", "token_f1", "bleu4", "is_covered", "BLEU_EPSILON"]

BLEU_EPSILON = 0.1
"""Smoothing constant of method 1 (NLTK's default ``epsilon``)."""

_ERROR_MARKERS = ("traceback", "exception", "error:")
_COUNT = itemgetter(1)


def exact_match(predicted: str, true: str) -> bool:
    """True when the two texts are identical."""
    return predicted == true


def token_f1(predicted: str, true: str) -> float:
    """Set-based unigram F1 over lower-cased whitespace tokens (0.0 if either is empty)."""
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


def _ngrams(tokens: list[str], n: int) -> Counter:
    if n == 1:
        return Counter(tokens)
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))  # slices of unequal length


@lru_cache(maxsize=1 << 16)
def bleu4(predicted: str, true: str) -> float:
    """Sentence BLEU-4 with method-1 smoothing (see the module docstring); results are cached."""
    hyp = predicted.split()
    ref = true.split()
    if not hyp or not ref:
        return 0.0
    if hyp == ref and len(hyp) >= 4:
        return 1.0
    log_sum = 0.0
    for n in range(1, 5):
        hyp_counts = _ngrams(hyp, n)
        ref_counts = _ngrams(ref, n)
        common = hyp_counts.keys() & ref_counts.keys()
        total = max(1, len(hyp) - n + 1)
        # clipped matches: each common n-gram counts min(count in prediction, count in reference);
        # start from one per common n-gram and add the extra only for the (few) repeated ones
        matched = len(common)
        if len(hyp_counts) != total:
            for gram, count in sorted(hyp_counts.items(), key=_COUNT, reverse=True):
                if count == 1:
                    break
                other = ref_counts.get(gram, 0)
                if other > 1:
                    matched += min(count, other) - 1
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
