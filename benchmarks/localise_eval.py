"""How well fault localisation points at planted bugs, before any mutant is tried.

For each hand-written program (the seven envs) and the two reference programs, bugs are planted with
:func:`patchworld.bugs.plant_sites` (a seeded shuffle, at most ``--per-function`` per function, plus
every inverted condition in ``parse_observation``); a bug counts only if it lowers the val score.
Each buggy program gets one traced val replay and :func:`patchworld.localise.localise` (coverage
spectrum and tracebacks, no mutant evidence: what the search's first round sees). Printed: the bug
line's rank among the program's lines (ties share the mean rank; median, mean, share in the top 5 and
top 10) and how often the bug's own function is the top-ranked one, overall and for
``parse_observation`` bugs. No asserts: numbers only.

``--probes`` also prints the ranking with predicate-switch evidence (:mod:`patchworld.probes`: every
condition of the buggy program negated once and replayed on all of val, the critical ones blended in),
what the wide search's first round on a new program localises with; the probes are replayed in this
process (the programs are the repository's own), so the run takes a few minutes.

    .venv/bin/python benchmarks/localise_eval.py [--per-function 5] [--seed 1] [--probes]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patchworld.beam import Member  # noqa: E402
from patchworld.bugs import plant_sites  # noqa: E402
from patchworld.data import load_trajectories  # noqa: E402
from patchworld.gate import score, score_key  # noqa: E402
from patchworld.localise import localise  # noqa: E402
from patchworld.probes import critical_lines, switch_probes  # noqa: E402
from patchworld.program import Program  # noqa: E402
from patchworld.replay import replay  # noqa: E402

PROGRAMS = [(env, ROOT / "data" / "programs" / "handwritten" / f"{env}.py")
            for env in ("maze", "wordle", "textcraft", "babyai", "alfworld", "webshop", "sciworld")]
PROGRAMS += [("maze", ROOT / "data" / "programs" / "maze_reference.py"),
             ("wordle", ROOT / "data" / "programs" / "wordle_reference.py")]


def _rank(lines: dict[int, float], target: int) -> float:
    """1-based rank of ``target`` by score, ties sharing their mean rank."""
    value = lines.get(target, 0.0)
    higher = sum(1 for v in lines.values() if v > value)
    equal = sum(1 for v in lines.values() if v == value)
    return higher + (equal + 1) / 2


def probe_evidence(buggy: str, rep, val: list, susp) -> dict[int, float]:
    """Line -> critical probe score of ``buggy`` (:func:`patchworld.probes.critical_lines`), each probe
    replayed on all of ``val`` in this process."""
    program = Program(buggy)
    probed = [(p, replay(Program(p.child), val, lean=True, sandbox=False)) for p in switch_probes(program, susp)]
    return critical_lines(Member(program, rep).rows(), probed)


def _print_ranks(rows: list, label: str) -> None:
    ranks = [r[3] for r in rows]
    print(f"{label}bug line's rank among the program's lines: median {statistics.median(ranks):.1f}, mean "
          f"{statistics.mean(ranks):.1f}; in the top 5: {sum(r <= 5 for r in ranks)}, top 10: "
          f"{sum(r <= 10 for r in ranks)}")
    print(f"{label}the bug's function ranked first: {sum(r[1] == r[4] for r in rows)} of {len(rows)}")
    for name, keep in (("parse_observation bugs", lambda r: r[1] == "parse_observation"),
                       ("inverted conditions in parse_observation",
                        lambda r: r[1] == "parse_observation" and r[2] == "negate_if")):
        sub = [r for r in rows if keep(r)]
        print(f"{label}{name}: parse_observation ranked first in {sum(r[4] == 'parse_observation' for r in sub)} "
              f"of {len(sub)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-function", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--probes", action="store_true", help="also rank with predicate-switch evidence")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    rows = []   # (program, function, operator, rank of the bug line, top-ranked function)
    probed = []  # the same with probe evidence (--probes)
    for env, path in PROGRAMS:
        source = path.read_text(encoding="utf-8")
        val = load_trajectories(sorted((ROOT / "data" / "trajectories" / env).glob("*val.jsonl")))
        original = score_key(score(replay(Program(source), val, lean=True)))
        sites = plant_sites(source)
        rng.shuffle(sites)
        per_function: Counter[str] = Counter()
        for bug in sites:
            inverted_parse = bug.function == "parse_observation" and bug.operator == "negate_if"
            if per_function[bug.function] >= args.per_function and not inverted_parse:
                continue
            buggy = bug.apply(source)
            rep = replay(Program(buggy), val, lean=True, trace_lines=True)
            if not score_key(score(rep)) < original:
                continue
            per_function[bug.function] += 1
            susp = localise(buggy, rep.steps, rep.lines)
            rows.append((path.name, bug.function, bug.operator, _rank(susp.lines, bug.line),
                         susp.ranked_functions()[0][0]))
            if args.probes:
                evidence = probe_evidence(buggy, rep, val, susp)
                with_probes = localise(buggy, rep.steps, rep.lines, critical=evidence) if evidence else susp
                probed.append((*rows[-1][:3], _rank(with_probes.lines, bug.line),
                               with_probes.ranked_functions()[0][0]))
    print(f"{len(rows)} planted bugs that lower val, in {len(PROGRAMS)} programs (seed {args.seed})")
    _print_ranks(rows, "")
    if args.probes:
        _print_ranks(probed, "with probes: ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
