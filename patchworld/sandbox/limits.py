"""Resource limits for one sandboxed job or model session, scaled with the job's size."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed job or model session.

    ``cpu_seconds`` and ``wall_seconds`` are floors: a replay job of n transitions gets
    ``n * transition_seconds`` more of each (see :meth:`for_transitions`), so a correct program
    on a large split is not scored as a timeout. ``memory_mb``: address space added on top of
    the worker's start size; ``step_seconds``: deadline for one call into the program (and for
    loading it; 0 = none); ``output_bytes``: cap on printed text; ``max_step_timeouts``: a
    replay stops as "timeout" after this many.
    """

    cpu_seconds: float = 60.0
    memory_mb: int = 1024
    wall_seconds: float = 120.0
    step_seconds: float = 2.0
    output_bytes: int = 1_000_000
    max_step_timeouts: int = 3
    transition_seconds: float = 0.01

    def for_transitions(self, n: int) -> Limits:
        """These limits for a job of ``n`` transitions: floor plus per-transition budget."""
        extra = max(0, int(n)) * max(0.0, self.transition_seconds)
        return dataclasses.replace(self, cpu_seconds=self.cpu_seconds + extra, wall_seconds=self.wall_seconds + extra)
