"""Amdahl's bound of a beam round's 2-workers-vs-1 speed-up, from the round's phase walls.

Only the screening phase (screening batches and the survivors' full val replays) runs more candidate
jobs at once with more workers; proposing, the winner's confirmation (one job per trajectory, two at once
whatever the setting), files and the gate take the same wall either way. So however well a second worker
is used, a round cannot beat its 1-worker wall with only the screening phase divided by the cores.
Printed by ``candidate_eval.py`` under its phase line.
"""

from __future__ import annotations

import statistics

__all__ = ["SCREEN", "TARGET", "phase_bound", "phase_bound_line"]

SCREEN = "screen and replay"
TARGET = 1.6
"""The 2-workers-vs-1 speed-up issue 14 asks for."""


def phase_bound(run: dict, cores: int) -> tuple[float, float, float | None]:
    """Amdahl's bound of one 1-worker beam round: (seconds outside the screening phase, the bound, the
    screening speed-up :data:`TARGET` needs or None when no speed-up reaches it).

    Only screening and replaying runs more candidate jobs at once with more workers; the rest of the round
    (proposing, the confirmation, files, the gate) takes the same wall whatever the setting, so a
    2-worker round is at best ``rest + screen / cores`` against the 1-worker round's ``rest + screen``."""
    wall, screen = run["wall"], run["phases"][SCREEN]
    rest = wall - screen
    needed = wall / TARGET - rest   # the screening wall the target leaves
    return rest, wall / (rest + screen / cores), (screen / needed if needed > 0 else None)


def phase_bound_line(one: list[dict], two: list[dict], cores: int) -> str:
    """:func:`phase_bound` over the 1-worker beam rounds, beside what the 2-worker rounds' screening did."""
    bounds = [phase_bound(r, cores) for r in one]
    rest = statistics.median(b[0] for b in bounds)
    best = [b[1] for b in bounds]
    needed = [b[2] for b in bounds]
    got = statistics.median(a["phases"][SCREEN] / b["phases"][SCREEN] for a, b in zip(one, two, strict=True))
    if any(n is None for n in needed):
        need = "more than any screening speed-up can give (the rest alone takes over the wall it leaves)"
    else:
        factors = [n for n in needed if n is not None]
        need = (f"screening x{statistics.median(factors):.2f} faster [{min(factors):.2f}-{max(factors):.2f}]"
                + (f", more than {cores} cores can give" if min(factors) > cores else ""))
    return (f"beam: the phases the workers setting does not change took {rest:.3f} s of the 1-worker round "
            f"(median); with screening {cores}x faster and the rest unchanged, 2 workers vs 1 could reach "
            f"x{statistics.median(best):.2f} [{min(best):.2f}-{max(best):.2f}] at most (Amdahl); x{TARGET} would need "
            f"{need}; the 2-worker rounds' screening was x{got:.2f} faster")
