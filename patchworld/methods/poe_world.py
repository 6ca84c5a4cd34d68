"""PoE-World-style baseline: a product of small programmatic experts, weights fit on train.

After Piriyakulkij et al., "PoE-World: Compositional World Modeling with Products of
Programmatic Experts" (2025). There, an LLM writes many small programs, each explaining one
aspect of the next frame; the world model is their weighted product
``p(o' | o, a) ∝ Π_k p_k(o' | o, a)^{w_k}``, with weights fit by maximum likelihood on the
training transitions, and the most probable observation is the prediction.

Here, for text: each expert scores a candidate next observation (a log-potential), the model
predicts ``argmax_c Σ_k w_k f_k(o, a, c)`` over candidates, and the weights maximise the
conditional log-likelihood of the true next observation on train (gradient ascent, L2).

* **Candidates** come from train: the next-observation *templates* (numbers masked) seen after
  the same action kind, instantiated with numbers carried over from the current observation
  (each number of the next text is "number i of the current text plus a delta" or a constant,
  as learnt); the current observation (copy); and the frequent next texts after the action.
* **Library experts** (offline): analogy support for (observation template, action kind);
  support for the action kind alone; copy; frequency after the action; sentence overlap with the
  current text; exact recall of the (observation, action) pair; length prior.
* **LLM experts** (when an LLM is configured): the LLM writes *rewrite rules* (JSON: when the
  action matches a regex, apply a regex substitution to the current observation), each a small
  expert that proposes its own candidate and scores candidates it agrees with. Rules are data,
  not code, so fitting runs in the trusted process without executing generated code.

Faithful: a weighted product of many small experts, each explaining part of the observation;
weights by maximum likelihood on train; the prediction is the mode. Simplified: experts are a
fixed library plus LLM-written regex rules instead of LLM-written Python; no frame-level
object model; weights are fit on half of train against a memory built from the other half
(so recall experts do not win by seeing their own transition), then the memory is rebuilt from
all of train. The result is an ordinary world-model *program* (source text with the memory and
weights embedded), replayed, planned with and plotted like any other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from patchworld.data import Trajectory
from patchworld.methods.poe_experts import EXPERT_NAMES, Memory, candidates_and_features

__all__ = ["PoEWorld", "fit_poe_world", "poe_world_source", "parse_rules", "Rule"]

RULE_LIMIT = 24


@dataclass(frozen=True)
class Rule:
    """An LLM-written expert: on actions matching ``when``, replace ``pattern`` with ``replace`` in the observation."""

    name: str
    when: str
    pattern: str
    replace: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "when": self.when, "pattern": self.pattern, "replace": self.replace}


def parse_rules(text: str, limit: int = RULE_LIMIT) -> tuple[list[Rule], list[str]]:
    """Rules from an LLM reply (a JSON list, possibly fenced); ``(rules, problems)`` — bad entries are skipped."""
    match = re.search(r"\[.*\]", text, flags=re.DOTALL)
    problems: list[str] = []
    if not match:
        return [], ["no JSON list in the reply"]
    try:
        items = json.loads(match.group(0))
    except (ValueError, RecursionError) as exc:
        return [], [f"invalid JSON: {str(exc)[:80]}"]
    rules: list[Rule] = []
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("when", "pattern", "replace")):
            problems.append(f"rule {i}: needs string fields when, pattern, replace")
            continue
        try:
            re.compile(item["when"])
            re.compile(item["pattern"])
            re.sub(item["pattern"], item["replace"], "probe 1, 2.")
        except (re.error, IndexError) as exc:
            problems.append(f"rule {i}: bad regex ({exc})")
            continue
        rules.append(Rule(str(item.get("name") or f"rule{i}")[:40], item["when"], item["pattern"], item["replace"]))
        if len(rules) >= limit:
            break
    return rules, problems


@dataclass
class PoEWorld:
    """A fitted product of experts: the train memory, the LLM rules and one weight per expert."""

    memory: Memory
    rules: list[Rule]
    weights: dict[str, float]
    fit_log: dict[str, Any] = field(default_factory=dict)

    def predict(self, observation: str, action: str) -> str:
        """The most probable next observation (the candidates' weighted expert sum, ties by text)."""
        cands = candidates_and_features(self.memory, [r.to_dict() for r in self.rules], observation, action)
        if not cands:
            return ""
        return max(cands.items(), key=lambda kv: (_score(kv[1], self.weights), kv[0]))[0]


def _score(features: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(k, 0.0) * v for k, v in features.items())


def _examples(memory: Memory, rules: list[dict], trajs: Sequence[Trajectory]) -> list[tuple[dict, str]]:
    out = []
    for traj in trajs:
        for t in traj.transitions:
            cands = candidates_and_features(memory, rules, t.observation, t.action)
            if t.next_observation in cands and len(cands) > 1:
                out.append((cands, t.next_observation))
    return out


def _fit(examples: list[tuple[dict, str]], names: list[str], iterations: int = 150, rate: float = 0.5,
         l2: float = 0.01) -> tuple[dict[str, float], float]:
    """Maximise Σ log softmax(score)[true] by gradient ascent; returns weights and the final mean log-likelihood."""
    weights = {name: 1.0 for name in names}
    mean_ll = 0.0
    for _ in range(iterations):
        grad = dict.fromkeys(names, 0.0)
        total_ll = 0.0
        for cands, truth in examples:
            scores = {c: _score(f, weights) for c, f in cands.items()}
            top = max(scores.values())
            exps = {c: math.exp(s - top) for c, s in scores.items()}
            z = sum(exps.values())
            total_ll += scores[truth] - top - math.log(z)
            for c, f in cands.items():
                p = exps[c] / z
                for k, v in f.items():
                    grad[k] -= p * v
            for k, v in cands[truth].items():
                grad[k] += v
        n = max(1, len(examples))
        for k in names:
            weights[k] += rate * (grad[k] / n - l2 * weights[k])
        mean_ll = total_ll / n
    return weights, mean_ll


def fit_poe_world(train: Sequence[Trajectory], rules: Sequence[Rule] = ()) -> PoEWorld:
    """Fit the weights on half of ``train`` against a memory of the other half; keep a memory of all of it."""
    trajs = list(train)
    half_a, half_b = trajs[0::2], trajs[1::2]
    rule_dicts = [r.to_dict() for r in rules]
    names = list(EXPERT_NAMES) + [f"rule:{r.name}" for r in rules]
    examples = _examples(Memory.build(half_a), rule_dicts, half_b) + _examples(Memory.build(half_b), rule_dicts, half_a)
    weights, mean_ll = _fit(examples, names) if examples else ({n: 1.0 for n in names}, 0.0)
    log = {"n_fit_examples": len(examples), "mean_log_likelihood": round(mean_ll, 4),
           "n_train_transitions": sum(len(t.transitions) for t in trajs), "n_rules": len(rules)}
    return PoEWorld(Memory.build(trajs), list(rules), {k: round(v, 6) for k, v in weights.items()}, log)


def poe_world_source(model: PoEWorld, env: str = "") -> str:
    """The fitted model as an ordinary world-model program (runs in the sandbox like any other)."""
    from patchworld.methods import poe_experts

    expert_code = poe_experts.runtime_source()
    payload = json.dumps({"memory": model.memory.to_dict(), "rules": [r.to_dict() for r in model.rules],
                          "weights": model.weights}, ensure_ascii=False, sort_keys=True)
    return f'''"""PoE-World-style world model{f" for {env}" if env else ""}: a weighted product of {len(model.weights)} experts.

Generated by patchworld.methods.poe_world (fit: {json.dumps(model.fit_log)}).
"""
import json

{expert_code}

_MODEL = json.loads({payload!r})
_MEMORY = Memory.from_dict(_MODEL["memory"])


class PoEWorldModel:
    def parse_observation(self, obs):
        return obs

    def init_belief(self):
        return {{"obs": "", "pred": ""}}

    def correct_belief(self, belief, obs):
        return {{"obs": obs, "pred": belief.get("pred", "")}}

    def predict_belief(self, belief, action):
        obs = belief.get("obs", "")
        cands = candidates_and_features(_MEMORY, _MODEL["rules"], obs, action)
        weights = _MODEL["weights"]
        best = max(cands.items(), key=lambda kv: (sum(weights.get(k, 0.0) * v for k, v in kv[1].items()), kv[0]),
                   default=("", None))[0]
        return {{"obs": obs, "pred": best}}

    def readout_observation(self, belief, action=""):
        return belief.get("pred", "")

    def extract_valid_action_forms(self):
        return sorted(_MEMORY.action_kinds)
'''


def expert_support(model: PoEWorld) -> list[tuple[str, float]]:
    """Experts sorted by absolute weight (what the fitted product leans on)."""
    return sorted(model.weights.items(), key=lambda kv: -abs(kv[1]))


RULES_SYSTEM = (
    "You write small experts for a world model of a text environment. Each expert is a rewrite rule: "
    "when the action matches the regex `when`, the next observation is the current observation with the "
    "regex `pattern` replaced by `replace` (Python re.sub syntax, backreferences allowed). Each rule should "
    "explain one aspect of how observations change. Answer with a JSON list only, e.g. "
    '[{"name": "step_up", "when": "^move up$", "pattern": "position (\\\\d+)", "replace": "position \\\\1"}]'
)


def propose_rules(chat: Any, env: str, description: str, model: PoEWorld, train: Sequence[Trajectory],
                  k: int = 8, sample: int = 0, max_tokens: int = 1200) -> tuple[list[Rule], list[str]]:
    """Ask the LLM for rewrite-rule experts that explain train transitions the fitted model gets wrong
    (cross-fitted: each half of train is predicted with a memory of the other half, as in the fit)."""
    trajs = list(train)
    wrong = []
    for seen, held in ((trajs[0::2], trajs[1::2]), (trajs[1::2], trajs[0::2])):
        half = PoEWorld(Memory.build(seen), model.rules, model.weights)
        wrong += [t for traj in held for t in traj.transitions
                  if half.predict(t.observation, t.action) != t.next_observation]
    wrong = wrong[:k]
    if not wrong:
        return [], ["the library experts already fit every train transition"]
    shown = "\n\n".join(f"Observation:\n{t.observation[-600:]}\nAction: {t.action}\nNext observation:\n"
                        f"{t.next_observation[:600]}" for t in wrong)
    user = (f"Environment: {env}\n{description}\n\nTransitions the current experts predict wrongly:\n\n{shown}\n\n"
            f"Write up to {RULE_LIMIT} rules as a JSON list.")
    return parse_rules(chat.ask(RULES_SYSTEM, user, sample=sample, max_tokens=max_tokens))


def induce_poe_world(train: Sequence[Trajectory], env: str, chat: Any = None, rounds: int = 1,
                     max_tokens: int = 1200) -> PoEWorld:
    """Fit the library experts; with an LLM, add ``rounds`` rounds of rule experts (kept only if train
    log-likelihood improves) and refit. ``fit_log`` records calls, rules proposed, kept and problems."""
    model = fit_poe_world(train)
    log = dict(model.fit_log, rounds=[])
    if chat is None:
        return model
    from patchworld.envs import spec

    try:
        description = spec(env).description
    except KeyError:
        description = ""
    rules: list[Rule] = []
    for r in range(rounds):
        proposed, problems = propose_rules(chat, env, description, model, train, sample=r, max_tokens=max_tokens)
        candidate = fit_poe_world(train, rules + proposed) if proposed else model
        kept = bool(proposed) and candidate.fit_log["mean_log_likelihood"] >= model.fit_log["mean_log_likelihood"]
        log["rounds"].append({"proposed": len(proposed), "kept": kept, "problems": problems[:5],
                              "mean_log_likelihood": candidate.fit_log["mean_log_likelihood"]})
        if kept:
            rules, model = rules + proposed, candidate
    model.fit_log = dict(model.fit_log, rounds=log["rounds"])
    return model
