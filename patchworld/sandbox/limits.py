"""Resource limits for one sandboxed job or model session."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed job or model session.

    ``cpu_seconds``: CPU time of the worker; ``memory_mb``: address space added on top of
    the worker's start size; ``wall_seconds``: deadline for the whole job; ``step_seconds``:
    deadline for one call into the program (and for loading it); ``output_bytes``: cap on
    printed text; ``max_step_timeouts``: a replay stops as "timeout" after this many.
    """

    cpu_seconds: float = 60.0
    memory_mb: int = 1024
    wall_seconds: float = 120.0
    step_seconds: float = 2.0
    output_bytes: int = 1_000_000
    max_step_timeouts: int = 3
