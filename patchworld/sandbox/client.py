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
from patchworld.sandbox.calls import MAX_TEXT, session_call
from patchworld.sandbox.job import NoTimer, in_process_fatal, job_message
from patchworld.sandbox.limits import Limits
from patchworld.sandbox.pool import release_worker, take_worker
from patchworld.sandbox.procs import ProtocolError

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
    """A world model opened by :func:`open_model`; a context manager (closes the worker).

    The worker holds beliefs; this process holds the text each handle was made from and the
    residual memory, and coerces every answer (handles to ``int``, texts to capped ``str``).
    """

    def __init__(self, program: Program, sandbox: bool, residual: ResidualMemory | None, limits: Any):
        self.program = program
        self.sandbox = sandbox
        self.limits = limits or Limits()
        self.residual = residual
        self.dead: str = ""  # why the worker is unusable ("" while alive)
        self._worker = None
        self._texts: dict[int, str] = {}  # handle -> the observation it was corrected with or predicted
        self._state: dict = {"beliefs": {}, "next": 1}
        if not sandbox:
            model = load_world_model(program.source)
            if isinstance(model, LoadFailure):
                raise ProgramLoadError(model.message)
            self._model, self._timer = model, NoTimer()
            return
        self._worker = take_worker()
        if not self._worker.send(job_message("session", program, self.limits)):
            self.close()
            raise ProgramLoadError("the sandbox worker could not be started")
        deadline = time.monotonic() + self.limits.step_seconds + 10
        answer = self._worker.recv(deadline, 0, 1 << 16, 3)
        if type(answer) is list and answer and answer[0] == "layers":   # sent before the job (see job.layers_of)
            answer = self._worker.recv(deadline, 0, 1 << 16, 3)
        if not (type(answer) is list and answer and answer[0] == "loaded"):
            ok = type(answer) is list and len(answer) > 2
            detail = str(answer[2])[:1000] if ok else f"no answer ({str(answer)[:200]})"
            kind = str(answer[1])[:40] if ok else "crashed"
            self.close()
            raise ProgramLoadError(f"{kind}: {detail}")

    # ---------------------------------------------------------------- transport
    def _call(self, *request: Any) -> list:
        if self.dead:
            return ["error", "crashed", self.dead]
        if not self.sandbox:
            return session_call(self._model, self._state, list(request), self._timer, in_process_fatal)
        worker = self._worker
        if not worker.send(list(request)):
            self.dead = worker.death()
            return ["error", "crashed", self.dead]
        # each call gets its own deadline (a planning session may run for long); CPU time is capped overall
        budget = self.limits.step_seconds + 2.0 if self.limits.step_seconds > 0 else self.limits.wall_seconds
        deadline = time.monotonic() + budget
        answer = worker.recv(deadline, 0, (1 << 16) + 6 * MAX_TEXT + 6 * 4000, 4)
        if answer == "deadline":
            self.dead = "the worker stopped answering (wall-clock limit)"
            worker.kill()
            return ["error", "timeout", self.dead]
        if isinstance(answer, ProtocolError) or (type(answer) is list and answer and answer[0] not in ("ok", "error")):
            self.dead = f"protocol_error: {answer}"[:300]
            worker.kill()
            return ["error", "protocol_error", self.dead]
        if answer == "eof" or type(answer) is not list or not answer:
            cpu = worker.reap()
            kind = "timeout" if cpu >= self.limits.cpu_seconds else "crashed"
            self.dead = worker.death()
            worker.kill()
            return ["error", kind, self.dead]
        return answer

    def _value(self, answer: list) -> Any:
        if answer[0] == "ok" and len(answer) == 2:
            return answer[1]
        if answer[0] == "ok":
            raise ModelCallError("protocol_error", "malformed answer")
        raise ModelCallError(str(answer[1])[:40] if len(answer) > 1 else "crashed",
                             str(answer[2])[:1000] if len(answer) > 2 else "")

    def _handle(self, value: Any) -> int:
        if type(value) is not int:
            raise ModelCallError("protocol_error", "a belief handle that is not an integer")
        return value

    # ---------------------------------------------------------------- API
    def init(self, observation: str) -> int:
        """A belief handle from a first observation: ``correct_belief(init_belief(), obs)``."""
        handle = self._handle(self._value(self._call("init", observation)))
        self._texts[handle] = observation
        return handle

    def predict(self, handle: int, action: str) -> Prediction:
        """Predict the prior belief after ``action`` and read out its observation."""
        memory = None
        if self.residual is not None and handle in self._texts:
            memory = self.residual.lookup(self._texts[handle], action)
        answer = self._call("predict", handle, action, memory)
        if answer[0] != "ok":
            return Prediction(-1, "", str(answer[1])[:40], str(answer[2])[:1000] if len(answer) > 2 else "")
        value = answer[1] if len(answer) == 2 else None
        if type(value) is not list or len(value) != 6 or type(value[0]) is not int:
            return Prediction(-1, "", "protocol_error", "malformed prediction")
        h, text, kind, error, reward, done = value
        text = memory if memory is not None else (text[:MAX_TEXT] if type(text) is str else "")
        self._texts[h] = text
        reward = float(reward) if type(reward) in (int, float) else None
        done = done if type(done) is bool else None
        return Prediction(h, text, "" if text.strip() else "empty", str(error)[:1000] if text.strip() else "",
                          reward, done)

    def correct(self, handle: int, observation: str) -> int:
        """A new handle: the belief corrected with an observation (the prior if correction raises)."""
        new = self._handle(self._value(self._call("correct", handle, observation)))
        self._texts[new] = observation
        return new

    def summary(self, handle: int) -> str:
        """A short description of a belief (<= 200 characters)."""
        value = self._value(self._call("summary", handle))
        return value[:200] if type(value) is str else ""

    def parse(self, observation: str) -> str:
        """A short description of ``parse_observation(observation)``."""
        value = self._value(self._call("parse", observation))
        return value[:2000] if type(value) is str else ""

    def action_forms(self) -> list[str]:
        """``extract_valid_action_forms()`` flattened to a list of action strings."""
        value = self._value(self._call("forms"))
        return [v[:1000] for v in value[:10000] if type(v) is str] if type(value) is list else []

    def release(self, handles: int | Iterable[int]) -> None:
        """Forget beliefs no longer needed (keeps the worker's memory bounded)."""
        items = [handles] if isinstance(handles, int) else [int(h) for h in handles]
        for h in items:
            self._texts.pop(h, None)
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
