"""A live world model for planning: a persistent sandbox worker holding beliefs by handle.

Use through :func:`patchworld.sandbox.open_model`::

    with open_model(program) as model:
        h = model.init(first_observation)
        p = model.predict(h, "move up")          # p.observation, p.handle (the prior belief)
        h2 = model.correct(p.handle, real_observation)

Handles are integers naming beliefs stored in the worker; ``predict`` and ``correct``
deep-copy the stored belief, so one handle can be expanded with many actions. ``predict``
never raises for program errors (they come back in ``Prediction.error_kind``); ``init``
and ``correct`` raise :class:`ModelCallError` when the program fails or the worker is gone.
Limits: each call must answer within ``step_seconds`` (+2 s slack; ``wall_seconds`` when
``step_seconds`` is 0); ``cpu_seconds`` caps the whole session's CPU time, so long planning
runs should pass larger ``Limits``. A client is not thread-safe: one per thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from patchworld.program import LoadFailure, Program, ProgramLoadError, load_world_model
from patchworld.residual import ResidualMemory
from patchworld.sandbox.calls import session_call
from patchworld.sandbox.job import NoTimer, in_process_fatal, job_message
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, take_worker

__all__ = ["ModelClient", "Prediction", "ModelCallError", "open_model"]


class ModelCallError(RuntimeError):
    """A call into a live model failed; ``kind`` is exception, step_timeout, memory, crashed..."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(f"{kind}: {message}")


@dataclass(frozen=True)
class Prediction:
    """The model's answer to one action: the prior belief's handle and its readout.

    ``handle`` is -1 and ``observation`` "" when the call failed (see ``error_kind``,
    one of "", "empty", "exception", "step_timeout", "memory", "timeout", "crashed",
    "output_limit"). ``reward``/``done`` come from the optional ``predict_reward_done``.
    """

    handle: int
    observation: str
    error_kind: str = ""
    error: str = ""
    reward: float | None = None
    done: bool | None = None


class ModelClient:
    """A world model opened by :func:`open_model`; a context manager (closes the worker)."""

    def __init__(self, program: Program, sandbox: bool, residual: ResidualMemory | None, limits: Any):
        self.program = program
        self.sandbox = sandbox
        self.limits = limits or Limits()
        self.dead: str = ""  # why the worker is unusable ("" while alive)
        self._worker = None
        self._state: dict = {"beliefs": {}, "texts": {}, "next": 1}
        if not sandbox:
            model = load_world_model(program.source)
            if isinstance(model, LoadFailure):
                raise ProgramLoadError(model.message)
            self._model, self._residual, self._timer = model, residual, NoTimer()
            return
        self._worker = take_worker()
        if not self._worker.send(job_message("session", program, self.limits, residual)):
            self.close()
            raise ProgramLoadError("the sandbox worker could not be started")
        answer = self._worker.recv(time.monotonic() + self.limits.step_seconds + 10)
        if answer != ["loaded"]:
            detail = answer[2] if isinstance(answer, list) and len(answer) > 2 else f"no answer ({answer})"
            kind = answer[1] if isinstance(answer, list) and len(answer) > 1 else "crashed"
            self.close()
            raise ProgramLoadError(f"{kind}: {detail}")

    # ---------------------------------------------------------------- transport
    def _call(self, *request: Any) -> list:
        if self.dead:
            return ["error", "crashed", self.dead]
        if not self.sandbox:
            return session_call(self._model, self._state, list(request), self._residual, self._timer, in_process_fatal)
        worker = self._worker
        if not worker.send(list(request)):
            self.dead = worker.death()
            return ["error", "crashed", self.dead]
        # each call gets its own deadline (a planning session may run for long); CPU time is capped overall
        budget = self.limits.step_seconds + 2.0 if self.limits.step_seconds > 0 else self.limits.wall_seconds
        deadline = time.monotonic() + budget
        answer = worker.recv(deadline)
        if answer == "deadline":
            self.dead = "the worker stopped answering (wall-clock limit)"
            worker.kill()
            return ["error", "timeout", self.dead]
        if answer == "eof" or not isinstance(answer, list) or not answer:
            cpu = worker.reap()
            kind = "timeout" if cpu >= self.limits.cpu_seconds else "crashed"
            self.dead = worker.death()
            worker.kill()
            return ["error", kind, self.dead]
        return answer

    def _value(self, answer: list) -> Any:
        if answer[0] == "ok":
            return answer[1]
        raise ModelCallError(str(answer[1]), str(answer[2]))

    # ---------------------------------------------------------------- API
    def init(self, observation: str) -> int:
        """A belief handle from a first observation: ``correct_belief(init_belief(), obs)``."""
        return int(self._value(self._call("init", observation)))

    def predict(self, handle: int, action: str) -> Prediction:
        """Predict the prior belief after ``action`` and read out its observation."""
        answer = self._call("predict", handle, action)
        if answer[0] != "ok":
            return Prediction(-1, "", str(answer[1]), str(answer[2]))
        h, text, kind, error, reward, done = answer[1]
        return Prediction(int(h), text, kind, error, reward, done)

    def correct(self, handle: int, observation: str) -> int:
        """A new handle: the belief corrected with an observation (the prior if correction raises)."""
        return int(self._value(self._call("correct", handle, observation)))

    def summary(self, handle: int) -> str:
        """A short description of a belief (<= 200 characters)."""
        return str(self._value(self._call("summary", handle)))

    def parse(self, observation: str) -> str:
        """A short description of ``parse_observation(observation)``."""
        return str(self._value(self._call("parse", observation)))

    def action_forms(self) -> list[str]:
        """``extract_valid_action_forms()`` flattened to a list of action strings."""
        return [str(v) for v in self._value(self._call("forms"))]

    def release(self, handles: int | Iterable[int]) -> None:
        """Forget beliefs no longer needed (keeps the worker's memory bounded)."""
        items = [handles] if isinstance(handles, int) else [int(h) for h in handles]
        self._call("release", items)

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        if self._worker is not None:
            if not self.dead:
                self._worker.send(["close"])
            release_worker(self._worker)
            self._worker = None
        self.dead = self.dead or "closed"

    def __enter__(self) -> ModelClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def open_model(
    program: Program,
    sandbox: bool = True,
    residual: ResidualMemory | None = None,
    limits: Any = None,
) -> ModelClient:
    """Load ``program`` into a live model (a worker process unless ``sandbox=False``).

    Raises :class:`ProgramLoadError` (message with the line number) if it does not load.
    """
    return ModelClient(program, sandbox, residual, limits)
