"""The worker's side of a screening batch: several candidate programs replayed in one job process.

Screening a candidate costs a job process of its own mostly in fixed costs (fork, kernel layers,
audit hook, lockstep round trips), not in running the program; a batch pays them once for up to a
few dozen candidates. Each candidate is loaded into a fresh module namespace and gets its own
:class:`~patchworld.sandbox.calls.ReplayRunner` (its own beliefs, step-timeout count and output
budget); every round of the lockstep is the same for all of them (the same trajectories, the same
true observations of the previous step), so the parent sends it once and the reply holds one
``["rows", ...]`` part per candidate, each checked by its own parent-side
:class:`~patchworld.sandbox.lockstep.Lockstep`.

What a batch does NOT give: isolation between the candidates. They share one interpreter, so a
hostile candidate can change what its siblings predict (patch a module they use, the runner
itself). A batch is therefore only used to *screen* (pick which candidates get a full val replay
in a job process of their own); nothing a batch returns reaches the gate's verdict or a reported
score (see ``docs/SECURITY.md``). Stdlib and light patchworld modules only (it runs in the worker).
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Callable
from typing import Any

from patchworld.program import PROGRAM_FILENAME, LoadFailure, load_world_model
from patchworld.sandbox.calls import ReplayRunner

__all__ = ["BatchRunner", "load_batch"]

_MODULE = "patchworld_program"
_EMPTY_ROWS = ["rows", [], [], [], [], [], [], [], None]


def load_batch(sources: list, timer: Any, fatals: list[Callable[[BaseException], str | None]], streams: list[Any],
               step_seconds: float) -> tuple[list[Any], list[str | None], list[tuple], str | None]:
    """Load every source in a fresh module: (models or None, load failure messages or None,
    per-candidate (module, linecache entry), why the batch must end or None)."""
    models: list[Any] = []
    failures: list[str | None] = []
    contexts: list[tuple] = []
    for k, source in enumerate(sources):
        sys.stdout = sys.stderr = streams[k]
        fatal = fatals[k]
        try:
            timer.start()
            model = load_world_model(str(source), _MODULE)
            timer.stop()
        except BaseException as exc:  # noqa: BLE001 - classified
            timer.stop()
            kind = fatal(exc)
            if kind:
                return models, failures, contexts, f"{kind}: while loading candidate {len(models)}: {type(exc).__name__}"
            model = LoadFailure("timeout", f"loading took longer than {step_seconds}s ({exc})")
        failed = isinstance(model, LoadFailure)
        models.append(None if failed else model)
        failures.append(str(model.message)[:1000] if failed else None)
        contexts.append((sys.modules.get(_MODULE), linecache.cache.get(PROGRAM_FILENAME)))
    return models, failures, contexts, None


class BatchRunner:
    """One :class:`ReplayRunner` per loaded candidate behind a single lockstep round.

    :meth:`round` returns one ``["rows", ...]`` part per candidate (the shape a single job
    replies with; a candidate that failed to load or stopped earlier gets empty columns) and the
    batch's stop: running out of memory or CPU ends the batch (they share one process); a
    candidate stopped by its own step timeouts or output budget ends only itself.
    """

    def __init__(self, models: list[Any], contexts: list[tuple], timer: Any,
                 fatals: list[Callable[[BaseException], str | None]], streams: list[Any], outputs: list[dict],
                 max_step_timeouts: int, lean: bool):
        self.runners: list[ReplayRunner | None] = [
            None if m is None else ReplayRunner(m, timer, max_step_timeouts, fatals[k], lean=lean, brief=True)
            for k, m in enumerate(models)]
        self.contexts, self.streams, self.outputs = contexts, streams, outputs

    def _enter(self, k: int) -> None:
        """Make candidate ``k``'s module and source the ones tracebacks and ``sys.modules`` see."""
        module, lines = self.contexts[k]
        if module is not None:
            sys.modules[_MODULE] = module
        if lines is not None:
            linecache.cache[PROGRAM_FILENAME] = lines
        sys.stdout = sys.stderr = self.streams[k]

    def round(self, slots: list, observations: list, actions: list, memories: list) -> tuple[list, list | None]:
        parts: list = []
        for k, runner in enumerate(self.runners):
            if runner is None:
                parts.append(_EMPTY_ROWS)
                continue
            self._enter(k)
            cols, stop = runner.round(slots, observations, actions, memories)
            own = stop is not None and (stop[0] == "output_limit" or (
                stop[0] == "timeout" and runner.n_timeouts >= runner.max_step_timeouts > 0))
            if stop is not None and not own:  # out of memory or CPU: the process is spent
                return parts + [_EMPTY_ROWS] * (len(self.runners) - len(parts)), [stop[0], f"candidate {k}: {stop[1]}"]
            if stop is not None:
                self.runners[k] = None
            parts.append(["rows", *cols, None if stop is None else [*stop, self.outputs[k]["text"]]])
        return parts, None
