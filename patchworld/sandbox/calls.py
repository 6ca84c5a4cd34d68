"""Calling into a loaded world model: one lockstep replay round at a time, and model-session calls.

Runs where the program runs (a sandbox worker, or this process with ``sandbox=False``), so it
never sees an answer: :class:`ReplayRunner` gets, per round, step t of every trajectory of the
job (the observation to correct with, the action) and returns every prediction; the trusted
parent (:mod:`patchworld.sandbox.job`) decides exactness and scores. Every call into the program
runs under a ``timer`` (a per-call alarm in workers, a no-op in process) and every failure becomes
data: a row's error kind ("exception", "step_timeout") or, for failures that must stop the job
(``is_fatal``: out of memory, output limit, CPU limit), the job's outcome. Stdlib only.
"""

from __future__ import annotations

import copy
import sys
import traceback
from collections.abc import Callable
from typing import Any

from patchworld.program import PROGRAM_FILENAME
from patchworld.sandbox.summary import summarize

__all__ = ["ReplayRunner", "session_call", "summarize", "StepTimeout", "OutputLimit", "CpuLimit", "MAX_TEXT",
           "LineTracer"]

MAX_TEXT = 20_000
"""Predicted observations are cut to this many characters (real ones are far shorter)."""


class StepTimeout(BaseException):
    """One call to the program took longer than the per-call limit."""


class OutputLimit(BaseException):
    """The program printed more than its output budget."""


class CpuLimit(BaseException):
    """The worker used up its CPU-time budget (SIGXCPU)."""


def plain(value: Any) -> str:
    """An exact ``str`` copy of a string the program made (no method of a subclass is called)."""
    return str.__str__(value)


class LineTracer:
    """Records which lines of the program's own code run (``sys.settrace`` on its frames only)."""

    def __init__(self) -> None:
        self.lines: set[int] = set()

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                self.lines.add(frame.f_lineno)
            return local

        def glob(frame: Any, event: str, arg: Any) -> Any:
            if frame.f_code.co_filename == PROGRAM_FILENAME:
                self.lines.add(frame.f_lineno)
                return local
            return None

        self._glob = glob

    def start(self) -> None:
        sys.settrace(self._glob)

    def take(self) -> list[int]:
        """Stop tracing; the sorted lines seen since :meth:`start`."""
        sys.settrace(None)
        out = sorted(self.lines)
        self.lines.clear()
        return out


class ReplayRunner:
    """The program's side of a lockstep replay: beliefs per trajectory slot, one round per call.

    A round is ``[slots, observations, actions, memories]`` (columns). For a slot seen first,
    the belief is ``correct_belief(init_belief(), observation)``; afterwards the previous
    step's prior is corrected with ``observation`` (teacher mode: the true one, sent only now)
    or, when it is ``None`` (rollout), with the model's own last prediction. Then, unless the
    action is ``None`` (a final correction), ``predict_belief`` and ``readout_observation``
    (skipped when the parent's residual memory hit: ``memory`` is then the prediction).
    A failed prediction keeps the belief and predicts ""; with a memory hit it still answers
    from memory (as the reference's residual wrapper: its ``predict_belief`` swallows the
    exception and the memorised text is read out), the error kept for diagnosis. A failed
    correction keeps the prior.

    ``post=True`` (teacher mode): after each correction with a true observation, the corrected
    belief is read out with the previous step's action (the reference's post-correction
    readout; "" when it raises) and returned in this round's reply for that previous step.
    It is computed only after the true observation arrived, so it is never a prediction.

    ``brief=True`` (screening batches): an error is the exception's type name after its innermost
    program frame (the crash site the search reads) and the program frames that called it, without the
    traceback's text (formatting one costs more than the call that raised).
    """

    def __init__(self, model: Any, timer: Any, max_step_timeouts: int = 3,
                 is_fatal: Callable[[BaseException], str | None] = lambda exc: None,
                 lean: bool = False, trace: bool = False, post: bool = False, brief: bool = False):
        self.model, self.timer, self.is_fatal = model, timer, is_fatal
        self.max_step_timeouts, self.lean, self.post = max_step_timeouts, lean, post
        self.tail = _brief if brief else _tail
        self.tracer = LineTracer() if trace else None
        self.beliefs: dict[int, Any] = {}
        self.pending: dict[int, tuple[Any, str, str]] = {}  # slot -> (prior, own prediction, action) to correct
        self.broken: dict[int, tuple[str, str]] = {}  # slot -> (kind, error) of a failed first correction
        self.n_timeouts = 0

    def _call(self, fn: Callable[[], Any]) -> tuple[Any, str, BaseException | None]:
        """``fn()`` under the timer: (value, "" | "exception" | "step_timeout" | fatal kind, exception)."""
        try:
            self.timer.start()
            value = fn()
            self.timer.stop()
            return value, "", None
        except BaseException as exc:  # noqa: BLE001 - classified here
            self.timer.stop()
            fatal = self.is_fatal(exc)
            if fatal:
                return None, "fatal:" + fatal, exc
            kind = "step_timeout" if isinstance(exc, StepTimeout) else "exception"
            self.n_timeouts += kind == "step_timeout"
            return None, kind, exc

    def round(self, slots: list, observations: list, actions: list, memories: list) -> tuple[list, list | None]:
        """Run one round; the reply columns and, when the job must stop, ``[outcome, detail]``.

        Columns: predictions (``None`` for a correction-only entry), error kinds, errors, belief
        summaries, correction kinds and errors (they belong to the slot's previous step) and, when
        tracing, the sorted program lines each entry ran; with ``post``, an eighth column: the
        post-correction readout of the slot's previous step (``None`` when there was none).
        A stopped round returns fewer entries.
        """
        preds: list = []
        kinds: list[str] = []
        errors: list[str] = []
        summaries: list[str] = []
        ckinds: list[str] = []
        cerrors: list[str] = []
        lines: list[list[int]] = []
        posts: list[str | None] = []
        cols = [preds, kinds, errors, summaries, ckinds, cerrors, lines] + ([posts] if self.post else [])
        model, tracer = self.model, self.tracer
        for slot, obs, action, memory in zip(slots, observations, actions, memories, strict=True):
            if tracer is not None:
                tracer.start()
            ckind = cerror = ""
            post: str | None = None
            if slot not in self.beliefs and slot not in self.broken:
                first, kind, exc = self._call(lambda o=obs: _first_belief(model, o))
                if kind.startswith("fatal:"):
                    return self._stop(cols, kind, exc)
                if kind:
                    self.broken[slot] = (kind, "init_belief/correct_belief on the first observation: " + self._text(exc))
                else:
                    self.beliefs[slot] = first
            elif slot in self.beliefs:
                prior, own, last = self.pending.pop(slot, (self.beliefs[slot], "", ""))
                text = own if obs is None else obs
                corrected, ckind, exc = self._call(lambda p=prior, t=text: model.correct_belief(p, t))
                if ckind.startswith("fatal:"):
                    return self._stop(cols, ckind, exc)
                self.beliefs[slot] = prior if ckind or corrected is None else corrected
                cerror = "in correct_belief: " + self._text(exc) if ckind else ""
                if self.post and obs is not None:  # the true observation is here: read the corrected belief out
                    out, pkind, exc = self._call(lambda b=self.beliefs[slot], a=last: _readout(model, b, a))
                    if pkind.startswith("fatal:"):
                        return self._stop(cols, pkind, exc)
                    post = "" if pkind else out
            if action is None:
                pred, kind, error, summary = None, "", "", ""
            elif slot in self.broken:
                pred, (kind, error), summary = "", self.broken[slot], ""
            else:
                pred, kind, error, summary, exc = self._predict(slot, action, memory)
                if kind.startswith("fatal:"):
                    return self._stop(cols, kind, exc)
            preds.append(pred)
            kinds.append(kind)
            errors.append(error)
            summaries.append(summary)
            ckinds.append(ckind)
            cerrors.append(cerror)
            if self.post:
                posts.append(post)
            lines.append(tracer.take() if tracer is not None else [])
            if self.n_timeouts >= self.max_step_timeouts > 0:
                return cols, ["timeout", f"stopped after {self.n_timeouts} step timeouts"]
        return cols, None

    def _bounded(self, make: Callable[[], str], fallback: str) -> str:
        """``make()`` under the per-call timer: text that runs program code (a belief's ``__repr__`` in its
        summary, an exception's ``__str__`` in its message) hangs as a step timeout, not until the job's CPU
        or wall limit; a timed-out text is ``fallback`` and counts toward ``max_step_timeouts``."""
        self.timer.start()
        try:
            return make()
        except StepTimeout:
            self.n_timeouts += 1
            return fallback
        finally:
            self.timer.stop()

    def _text(self, exc: BaseException | None) -> str:
        return self._bounded(lambda: self.tail(exc), type(exc).__name__)

    def _predict(self, slot: int, action: str, memory: str | None) -> tuple:
        model, belief = self.model, self.beliefs[slot]
        summary = "" if self.lean else self._bounded(lambda: summarize(belief), "<summary timed out>")
        prior, kind, exc = self._call(lambda: model.predict_belief(belief, action))
        phase = "predict_belief"
        if kind:
            prior, predicted = belief, ""  # as the reference: a failed prediction keeps the belief
        elif memory is not None:
            predicted = memory
        else:
            phase = "readout_observation"
            out, kind, exc = self._call(lambda: _readout(model, prior, action))
            predicted = "" if kind else out
        error = f"in {phase}: " + self._text(exc) if kind and not kind.startswith("fatal:") else ""
        if memory is not None and kind and not kind.startswith("fatal:"):
            predicted, kind = memory, ""  # the residual wrapper answers from memory all the same
        self.pending[slot] = (prior, predicted, action)
        return predicted, kind, error, summary, exc

    def _stop(self, cols: list, kind: str, exc: BaseException | None) -> tuple[list, list]:
        if self.tracer is not None:
            self.tracer.take()
        return cols, [kind[len("fatal:"):], f"{type(exc).__name__}: {exc}"]


def _first_belief(model: Any, observation: str) -> Any:
    first = model.init_belief()
    corrected = model.correct_belief(first, observation)
    return first if corrected is None else corrected


def _readout(model: Any, prior: Any, action: str) -> str:
    out = model.readout_observation(prior, action)
    if out is not None and not isinstance(out, str):
        raise TypeError(f"readout_observation returned {type(out).__name__}, expected str")
    return plain(out or "")[:MAX_TEXT]


_PLAIN_MESSAGES = (TypeError, ValueError, KeyError, IndexError, AttributeError, NameError, ZeroDivisionError)
"""Built-in exceptions whose message :func:`_brief` keeps when it is one plain ``str`` (the interpreter's
own, e.g. ``unsupported operand type(s) for -: 'list' and 'list'``, names the operation that failed)."""


_BRIEF_FRAMES = 3
"""Program frames :func:`_brief` names: the crash site and the calls that led there (a helper that raises
on an argument of the wrong type is often called with its arguments swapped)."""


def _brief(exc: BaseException | None) -> str:
    """An exception's type name after its innermost program frame, ``line N, in f: Type`` (no source
    lines, no ``__str__`` of the program's), with up to two calling program frames before it, one a line
    (``line M, in g: call``), outermost first: the crash site costs a walk of the traceback's links.
    A built-in exception (exactly one of ``_PLAIN_MESSAGES``) whose only argument is a ``str`` keeps
    its first 120 characters after the name, as ``str`` would give them (a ``KeyError`` quoted)."""
    if exc is None:
        return ""
    frames: list[str] = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == PROGRAM_FILENAME and not code.co_name.startswith("<"):  # a comprehension's: its caller
            frames.append(f"line {tb.tb_lineno}, in {code.co_name}: ")
        tb = tb.tb_next
    where = "call\n".join(frames[-_BRIEF_FRAMES:])
    kind = type(exc)
    message = ""
    if kind in _PLAIN_MESSAGES:   # exact built-in types: their args are the C slot, never program code
        args = BaseException.__getattribute__(exc, "args")
        if len(args) == 1 and type(args[0]) is str:
            message = ": " + (repr(args[0][:120]) if kind is KeyError else args[0][:120])
    return where + kind.__name__ + message


def _tail(exc: BaseException | None, limit: int = 900) -> str:
    """The end of a traceback, keeping the program's own frames (with their source lines)."""
    if exc is None:
        return ""
    if isinstance(exc, StepTimeout):
        return str(exc) or "step timed out"
    try:
        # lines are looked up for the program's frames only: a lookup for any other frame (this module)
        # tries to read a file the worker may not read, which cost ~40 us per frame per exception
        frames = [f for f in traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
                  if f.filename == PROGRAM_FILENAME]
        lines = [f"line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-4:]]
        text = "\n".join(lines + [f"{type(exc).__name__}: {exc}"])
    except Exception:  # a hostile __str__
        text = type(exc).__name__
    return text[-limit:]


def _flatten_forms(forms: Any) -> list[str]:
    if isinstance(forms, dict):
        out: list[str] = []
        for key, value in forms.items():
            if isinstance(value, (list, tuple, set)):
                out.extend(str(v) for v in value)
            else:
                out.append(str(key))
        return out
    if isinstance(forms, (list, tuple, set)):
        return [str(v) for v in forms]
    raise TypeError(f"extract_valid_action_forms returned {type(forms).__name__}, expected dict or list")


def session_call(model: Any, state: dict, request: list, timer: Any,
                 is_fatal: Callable[[BaseException], str | None]) -> list:
    """Serve one model-session request; returns ``["ok", value]`` or ``["error", kind, message]``.

    Beliefs live in ``state["beliefs"]`` by integer handle; ``predict`` and ``correct``
    deep-copy the stored belief first so a handle can be expanded many times (planning).
    ``["predict", handle, action, memory]``: a ``memory`` text (the parent's residual hit)
    replaces the readout.
    """
    op = request[0]
    beliefs = state["beliefs"]

    def store(belief: Any) -> int:
        handle = state["next"]
        state["next"] += 1
        beliefs[handle] = belief
        return handle

    try:
        if op in ("predict", "correct", "summary") and request[1] not in beliefs:
            return ["error", "handle", f"unknown belief handle {request[1]}"]
        if op == "release":
            for h in request[1]:
                beliefs.pop(h, None)
            return ["ok", None]
        timer.start()
        if op == "init":
            value: Any = store(_first_belief(model, request[1]))
        elif op == "predict":
            handle, action = request[1], request[2]
            memory = request[3] if len(request) > 3 else None
            reward = done = None
            if callable(getattr(model, "predict_reward_done", None)):
                reward, done = model.predict_reward_done(copy.deepcopy(beliefs[handle]), action)
                reward, done = (None if reward is None else float(reward)), (None if done is None else bool(done))
            prior = model.predict_belief(copy.deepcopy(beliefs[handle]), action)
            text = memory if memory is not None else _readout(model, prior, action)
            value = [store(prior), text, "" if text.strip() else "empty", "", reward, done]
        elif op == "correct":
            prior = copy.deepcopy(beliefs[request[1]])
            try:
                corrected = model.correct_belief(prior, request[2])
            except Exception:
                corrected = None  # as the reference: keep the prior when correction fails
            value = store(prior if corrected is None else corrected)
        elif op == "summary":
            value = summarize(beliefs[request[1]])
        elif op == "forms":
            value = _flatten_forms(model.extract_valid_action_forms())
        elif op == "parse":
            value = summarize(model.parse_observation(request[1]), 2000)
        else:
            value = None
            raise ValueError(f"unknown request {op!r}")
        timer.stop()
        return ["ok", value]
    except BaseException as exc:  # noqa: BLE001 - classified below
        timer.stop()
        kind = is_fatal(exc) or ("step_timeout" if isinstance(exc, StepTimeout) else "exception")
        return ["error", kind, f"in {op}: " + _tail(exc)]
