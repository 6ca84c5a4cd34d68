"""The PoE-World-style baseline's train memory, candidate generator and experts.

Everything between the ``RUNTIME`` markers is also pasted into the generated world-model
program (:func:`runtime_source`), so the fitted model computes exactly what was fit; that part
uses the standard library only and no I/O.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["Memory", "candidates_and_features", "EXPERT_NAMES", "runtime_source", "template", "action_kind"]

# --- RUNTIME START ---
import hashlib
import math
import re
from collections import Counter

_NUM = re.compile(r"-?\d+")
EXPERT_NAMES = ("analogy_context", "analogy_action", "copy", "frequent", "sentence_overlap", "exact_recall",
                "length_prior")
_MAX_PER_KEY = 6  # candidates kept per memory key (most frequent first)


def template(text):
    """The text with every integer replaced by '#'."""
    return _NUM.sub("#", text)


def action_kind(action):
    """The action with numbers masked and only its first two words kept (``craft 2 stick ...`` -> ``craft #``)."""
    return " ".join(template(action).split()[:2])


def _hash(*parts):
    return hashlib.sha1("\x1e".join(parts).encode("utf-8")).hexdigest()[:16]


def _number_rule(obs_numbers, next_numbers):
    """How each number of the next text derives from the current one: [i, delta] or ["c", value]."""
    rule = []
    for value in next_numbers:
        best = None
        for i, source in enumerate(obs_numbers):
            delta = value - source
            if abs(delta) <= 2 and (best is None or abs(delta) < abs(best[1])):
                best = [i, delta]
        rule.append(best if best is not None else ["c", value])
    return rule


def _instantiate(next_template, rule, obs_numbers):
    parts = next_template.split("#")
    if len(parts) - 1 != len(rule):
        return None
    out = [parts[0]]
    for step, part in zip(rule, parts[1:], strict=True):
        if step[0] == "c":
            out.append(str(step[1]))
        elif step[0] < len(obs_numbers):
            out.append(str(obs_numbers[step[0]] + step[1]))
        else:
            return None
        out.append(part)
    return "".join(out)


class Memory:
    """What the experts know from train: analogies, frequent next texts, exact pairs, lengths."""

    def __init__(self, context, by_action, frequent, exact, lengths, action_kinds):
        self.context = context        # hash(obs template, action kind) -> [[next template, rule, count], ...]
        self.by_action = by_action    # action kind -> [[next template, rule, count], ...]
        self.frequent = frequent      # action kind -> [[next text, count], ...]
        self.exact = exact            # hash(obs, action) -> next text
        self.lengths = lengths        # action kind -> mean next length
        self.action_kinds = action_kinds

    @classmethod
    def build(cls, trajectories):
        context, by_action, frequent, exact, lengths = {}, {}, {}, {}, {}
        for traj in trajectories:
            for t in traj.transitions:
                kind = action_kind(t.action)
                obs_numbers = [int(x) for x in _NUM.findall(t.observation)]
                next_numbers = [int(x) for x in _NUM.findall(t.next_observation)]
                entry = (template(t.next_observation), tuple(map(tuple, _number_rule(obs_numbers, next_numbers))))
                context.setdefault(_hash(template(t.observation), kind), Counter())[entry] += 1
                by_action.setdefault(kind, Counter())[entry] += 1
                frequent.setdefault(kind, Counter())[t.next_observation] += 1
                exact[_hash(t.observation, t.action)] = t.next_observation
                lengths.setdefault(kind, []).append(len(t.next_observation))

        def top(counter):
            return [[e[0], [list(s) for s in e[1]], n] for e, n in
                    sorted(counter.items(), key=lambda kv: (-kv[1], kv[0][0], repr(kv[0][1])))[:_MAX_PER_KEY]]
        return cls({k: top(v) for k, v in context.items()}, {k: top(v) for k, v in by_action.items()},
                   {k: [[t, n] for t, n in sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
                    for k, v in frequent.items()},
                   exact, {k: sum(v) / len(v) for k, v in lengths.items()}, sorted(frequent))

    def to_dict(self):
        """JSON-ready, with every text stored once (``texts``) and referred to by index."""
        texts, index = [], {}

        def ref(text):
            if text not in index:
                index[text] = len(texts)
                texts.append(text)
            return index[text]

        def entries(table):
            return {k: [[ref(t), rule, n] for t, rule, n in v] for k, v in table.items()}
        return {"texts": texts, "context": entries(self.context), "by_action": entries(self.by_action),
                "frequent": {k: [[ref(t), n] for t, n in v] for k, v in self.frequent.items()},
                "exact": {k: ref(t) for k, t in self.exact.items()},
                "lengths": self.lengths, "action_kinds": self.action_kinds}

    @classmethod
    def from_dict(cls, d):
        texts = d["texts"]

        def entries(table):
            return {k: [[texts[t], rule, n] for t, rule, n in v] for k, v in table.items()}
        return cls(entries(d["context"]), entries(d["by_action"]),
                   {k: [[texts[t], n] for t, n in v] for k, v in d["frequent"].items()},
                   {k: texts[i] for k, i in d["exact"].items()}, d["lengths"], d["action_kinds"])


def _sentences(text):
    return [s for s in re.split(r"(?<=[.!?\n])\s+", text.strip()) if s]


def candidates_and_features(memory, rules, observation, action):
    """Candidate next observations, each with its expert features (log-potentials)."""
    kind = action_kind(action)
    numbers = [int(x) for x in _NUM.findall(observation)]
    cands = {}

    def feat(text):
        return cands.setdefault(text, dict.fromkeys(EXPERT_NAMES, 0.0))

    for name, entries in (("analogy_context", memory.context.get(_hash(template(observation), kind), [])),
                          ("analogy_action", memory.by_action.get(kind, []))):
        total = sum(n for _, _, n in entries) or 1
        for next_template, rule, count in entries:
            text = _instantiate(next_template, rule, numbers)
            if text is not None:
                f = feat(text)
                f[name] = max(f[name], math.log(1 + count) + count / total)
    feat(observation)["copy"] = 1.0
    for text, count in memory.frequent.get(kind, []):
        feat(text)["frequent"] = math.log(1 + count)
    recalled = memory.exact.get(_hash(observation, action))
    if recalled is not None:
        feat(recalled)["exact_recall"] = 1.0
    for rule in rules:
        if re.search(rule["when"], action):
            try:
                text = re.sub(rule["pattern"], rule["replace"], observation)
            except (re.error, IndexError):
                continue
            feat(text)["rule:" + rule["name"]] = 1.0
    known = set(_sentences(observation))
    mean_length = memory.lengths.get(kind)
    for text, f in cands.items():
        sentences = _sentences(text)
        f["sentence_overlap"] = sum(s in known for s in sentences) / len(sentences) if sentences else 0.0
        if mean_length is not None:
            f["length_prior"] = -abs(len(text) - mean_length) / (1.0 + mean_length)
    return cands
# --- RUNTIME END ---


def runtime_source() -> str:
    """The code between the RUNTIME markers (pasted into generated programs)."""
    text = Path(__file__).read_text(encoding="utf-8")
    return text.split("# --- RUNTIME START ---\n", 1)[1].split("# --- RUNTIME END ---", 1)[0]
