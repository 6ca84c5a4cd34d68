"""WorldCoder-style baseline: whole-program rewrites from all train data, with an optimism objective.

After Tang, Key and Ellis, "WorldCoder, a Model-Based LLM Agent: Building World Models by Writing
Code and Interacting with the Environment" (NeurIPS 2024). WorldCoder keeps a set of candidate
programs, picks one to refine with the REx bandit (a Thompson-style draw that favours programs
explaining more data and penalises ones refined often), and asks the LLM to *rewrite the whole
program* given transitions it gets wrong. Its objective has two parts: fit every observed
transition, and be *optimistic*: the model must believe that some action sequence reaches reward
(so a planner using it keeps trying to reach the goal instead of giving up in unexplored states).

Here: candidates are scored on **all** train transitions (teacher-forced replay in the sandbox:
exact-match accuracy, token F1 to break ties) and on optimism (the share of train start states
from which a depth-limited search over the program's own action forms finds a predicted positive
reward, via ``predict_reward_done``); the best program is the lexicographic best of (accuracy,
optimism, token F1). Refinement prompts carry the whole program, up to ``n_failures`` failing
transitions, and, when the program is not optimistic, a request to make reward reachable.

Faithful: whole-program rewrites (no local patches), all train data as the fit target, REx
selection (``C`` = 20), the optimism constraint as part of the objective. Simplified: the
optimism check is a bounded search (depth ``optimism_depth``, at most 6 actions per state, at most
5 start states) rather than WorldCoder's planner-based constraint; no environment interaction
during learning (the workbench is offline: the data are the train trajectories).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchworld.data import Trajectory
from patchworld.program import Program

__all__ = ["induce_worldcoder", "WorldCoderResult", "Candidate", "extract_program", "INTERFACE"]

C_REX = 20.0
INTERFACE = """Write one Python module with one class (the world model) with these methods:
  parse_observation(obs) -> dict            # structured evidence from an observation text
  init_belief() -> belief                   # the empty belief
  correct_belief(belief, obs) -> belief     # fold an observed text into the belief
  predict_belief(belief, action) -> belief  # what the action does (before seeing its observation)
  readout_observation(belief, action="") -> str   # the exact text the environment prints next
  extract_valid_action_forms() -> list[str] # the actions the agent can take
  predict_reward_done(belief, action) -> (float, bool)   # reward and episode end after the action
Use only the Python standard library. Reply with the whole module in one ```python fenced block."""
SYSTEM = ("You write executable world models of text environments as Python programs. A world model must "
          "reproduce the environment's observation text exactly and predict rewards.")


@dataclass
class Candidate:
    """One program with its fit on train: exact-match accuracy, token F1, optimism, times refined."""

    program: Program
    accuracy: float
    token_f1: float
    optimism: float
    refined: int = 0
    failures: list[Any] = field(default_factory=list)

    def key(self) -> tuple[float, float, float]:
        return (self.accuracy, self.optimism, self.token_f1)


@dataclass
class WorldCoderResult:
    """The best candidate, every candidate in order, and the LLM usage."""

    best: Candidate
    candidates: list[Candidate]
    log: list[dict[str, Any]]


_METHODS = ("parse_observation", "init_belief", "correct_belief", "predict_belief", "readout_observation",
            "extract_valid_action_forms", "predict_reward_done")


def extract_program(reply: str) -> str | None:
    """The Python module in a reply: the longest fenced block (a fence cut off by the length limit
    counts to the end) that defines a class, or that defines the interface as module-level functions
    (small models often do: a thin class calling them is appended). ``None`` when there is neither."""
    blocks = re.findall(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", reply, flags=re.DOTALL) or [reply]
    with_class = [b for b in blocks if re.search(r"^class\s", b, flags=re.MULTILINE)]
    if with_class:
        return max(with_class, key=len)
    with_functions = [b for b in blocks if re.search(r"^def (readout_observation|predict_belief)\b", b, flags=re.M)]
    if not with_functions:
        return None
    source = max(with_functions, key=len)
    defined = [m for m in _METHODS if re.search(rf"^def {m}\b", source, flags=re.MULTILINE)]
    adapter = "\n".join(f"    def {m}(self, *args):\n        return {m}(*args)\n" for m in defined)
    return (f"{source.rstrip()}\n\n\nfrom patchworld.worldmodel_base import BaseWorldModel as _Base  # noqa: E402\n\n\n"
            f"class ModuleWorldModel(_Base):\n    \"\"\"The reply's module-level functions as a model.\"\"\"\n\n{adapter}")


def _sample_transitions(train: Sequence[Trajectory], budget_chars: int, seed: int) -> str:
    """Train transitions for the prompt: one per action kind first, then random ones, up to a character budget."""
    rng = random.Random(seed)
    pool = [t for traj in train for t in traj.transitions]
    rng.shuffle(pool)
    seen: set[str] = set()
    first = []
    for t in pool:
        kind = " ".join(re.sub(r"\d+", "#", t.action).split()[:2])
        if kind not in seen:
            seen.add(kind)
            first.append(t)
    out, used = [], 0
    for t in first + [t for t in pool if t not in first]:
        text = f"Observation:\n{t.observation[-500:]}\nAction: {t.action}\nNext observation:\n{t.next_observation[:500]}" \
               f"\nReward: {t.reward}  Done: {t.done}"
        if used + len(text) > budget_chars:
            break
        out.append(text)
        used += len(text)
    return "\n\n".join(out)


def _optimism(program: Program, train: Sequence[Trajectory], depth: int, sandbox: bool) -> float:
    """Share of (at most 5) train start states from which the program predicts reaching a positive reward."""
    from patchworld.sandbox import ModelCallError, ProgramLoadError, open_model

    starts = [traj.transitions[0].observation for traj in train if traj.transitions][:5]
    if not starts:
        return 0.0
    try:
        model = open_model(program, sandbox=sandbox)
    except (ProgramLoadError, ModelCallError):
        return 0.0
    reached = 0
    try:
        actions = [a for a in model.action_forms() if isinstance(a, str)][:6]
        for obs in starts:
            frontier = [model.init(obs)]
            found = False
            for _ in range(depth):
                nxt = []
                for handle in frontier:
                    for action in actions:
                        pred = model.predict(handle, action)
                        if pred.reward is not None and pred.reward > 0:
                            found = True
                            break
                        if pred.handle >= 0 and not pred.done:
                            nxt.append(pred.handle)
                    if found:
                        break
                if found:
                    break
                frontier = nxt[:36]
            reached += found
    except ModelCallError:
        pass
    finally:
        model.close()
    return reached / len(starts)


def _evaluate(program: Program, train: Sequence[Trajectory], depth: int, sandbox: bool) -> Candidate:
    from patchworld.replay import replay

    result = replay(program, train, mode="teacher", sandbox=sandbox, lean=True)
    failures = [row for row in result.steps.iter_rows(named=True) if not row["exact"]][:50]
    optimism = _optimism(program, train, depth, sandbox) if result.metrics["n_load_errors"] == 0 else 0.0
    return Candidate(program, float(result.metrics["exact_match"]), float(result.metrics["token_f1"]), optimism,
                     failures=failures)


def _rex_pick(candidates: list[Candidate], rng: random.Random) -> Candidate:
    """REx: draw Beta(1 + C*acc, 1 + C*(1-acc) + refined) for each program, refine the argmax."""
    return max(candidates, key=lambda c: rng.betavariate(1 + C_REX * c.accuracy,
                                                        1 + C_REX * (1 - c.accuracy) + c.refined))


def _refine_prompt(env: str, description: str, cand: Candidate, n_failures: int) -> str:
    shown = "\n\n".join(f"Observation:\n{str(r['observation'])[-500:]}\nAction: {r['action']}\n"
                        f"Your model predicted:\n{str(r['predicted'])[:500]}\nThe environment printed:\n"
                        f"{str(r['true'])[:500]}" for r in cand.failures[:n_failures])
    optimism = ("" if cand.optimism > 0 else
                "\nThe model never predicts a positive reward from the start states: a planner using it would give "
                "up. Make predict_reward_done reward reaching the goal, optimistically where the data say nothing.")
    return (f"Environment: {env}\n{description}\n\nCurrent program (explains {cand.accuracy:.1%} of the training "
            f"transitions exactly):\n```python\n{cand.program.source}\n```\n\nTransitions it gets wrong:\n\n{shown}\n"
            f"{optimism}\n\nRewrite the whole program so it explains all transitions.\n{INTERFACE}")


def induce_worldcoder(env: str, train: Sequence[Trajectory], chat: Any, budget: int = 6, initial: int = 2,
                      n_failures: int = 6, optimism_depth: int = 3, seed: int = 0, sandbox: bool = True,
                      progress: Callable[[str], None] | None = None, max_tokens: int = 4096) -> WorldCoderResult:
    """Run ``initial`` whole-program drafts then ``budget`` REx-chosen rewrites; return the best program.
    ``max_tokens`` bounds each reply (4096 fits a program the size of the reference's appendix ones)."""
    from patchworld.envs import spec

    try:
        description = spec(env).description
    except KeyError:
        description = ""
    rng = random.Random(seed)
    candidates: list[Candidate] = []
    log: list[dict[str, Any]] = []

    def add(reply: str, parent: Candidate | None, step: str) -> None:
        source = extract_program(reply)
        entry: dict[str, Any] = {"step": step, "parent": parent.program.hash if parent else None}
        if source is None:
            entry["outcome"] = "no program in the reply"
        else:
            cand = _evaluate(Program.from_source(source, origin=f"worldcoder:{env}", label="WorldCoder"), train,
                             optimism_depth, sandbox)
            candidates.append(cand)
            entry.update(outcome="evaluated", program=cand.program.hash, accuracy=round(cand.accuracy, 4),
                         token_f1=round(cand.token_f1, 4), optimism=cand.optimism)
        log.append(entry)
        if progress is not None:
            progress(f"{step}: {entry['outcome']}" + (f" accuracy {entry['accuracy']:.3f}" if "accuracy" in entry else ""))

    examples = _sample_transitions(train, 9000, seed)
    for i in range(initial):
        user = f"Environment: {env}\n{description}\n\nTransitions from the environment:\n\n{examples}\n\n{INTERFACE}"
        add(chat.ask(SYSTEM, user, sample=i, max_tokens=max_tokens), None, f"draft {i + 1}")
    for i in range(budget):
        if not candidates or max(c.accuracy for c in candidates) >= 1.0:
            break
        parent = _rex_pick(candidates, rng)
        parent.refined += 1
        add(chat.ask(SYSTEM, _refine_prompt(env, description, parent, n_failures), sample=0, max_tokens=max_tokens),
            parent, f"rewrite {i + 1}")
    if not candidates:
        raise ValueError(f"WorldCoder: no reply contained a program ({len(log)} replies); see the log")
    best = max(candidates, key=Candidate.key)
    return WorldCoderResult(best, candidates, log)
