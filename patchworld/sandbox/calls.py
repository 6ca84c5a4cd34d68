"""Calling into a loaded world model: the replay loop and model-session calls.

Shared by sandbox workers (:mod:`patchworld.sandbox.worker`) and in-process mode, so both
produce identical rows. Every call into the program runs under a ``timer`` (a per-call
alarm in workers, a no-op in process) and every failure becomes data: a row's error kind
("exception", "step_timeout") or, for failures that must stop the job (``is_fatal``: out of
memory, output limit, CPU limit), the job's outcome. Stdlib only: workers start fast.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

from patchworld.program import PROGRAM_FILENAME
from patchworld.residual import ResidualMemory

__all__ = ["run_replay", "session_call", "summarize", "StepTimeout", "OutputLimit", "CpuLimit", "MAX_TEXT"]

MAX_TEXT = 200_000
"""Predicted observations are cut to this many characters (real ones are far shorter)."""


class StepTimeout(BaseException):
    """One call to the program took longer than the per-call limit."""


class OutputLimit(BaseException):
    """The program printed more than its output budget."""


class CpuLimit(BaseException):
    """The worker used up its CPU-time budget (SIGXCPU)."""


def run_replay(
    model: Any,
    trajectories: list[list],
    mode: str,
    residual: ResidualMemory | None,
    emit: Callable[[list], None],
    timer: Any,
    max_step_timeouts: int = 3,
    is_fatal: Callable[[BaseException], str | None] = lambda exc: None,
) -> tuple[str, str]:
    """Replay trajectories through a loaded model, emitting one message per trajectory.

    ``trajectories`` is ``[[traj_index, [[observation, action, next_observation], ...]], ...]``.
    Emits ``["cols", traj_index, predicted, error_kind, error, belief, from_memory]``: one list
    per column, one entry per step done (error_kind "", "exception" or "step_timeout"; the
    parent classifies mismatches). A predicted entry is ``None`` when it equals the true next
    observation, so exact matches cost nothing on the wire. Returns the job outcome: ("ok", "")
    or, when the job must stop early, ("timeout" | "memory" | "output_limit", detail) after
    emitting the partial columns. Beliefs are never copied: replay only moves forward.
    """
    rollout = mode == "rollout"
    n_timeouts = 0
    for traj_index, steps in trajectories:
        preds: list[str | None] = []
        kinds: list[str] = []
        errors: list[str] = []
        summaries: list[str] = []
        hits: list[bool] = []
        cols = ["cols", traj_index, preds, kinds, errors, summaries, hits]
        belief: Any = None
        init_error: tuple[str, str] | None = None
        try:
            timer.start()
            first = model.init_belief()
            corrected = model.correct_belief(first, steps[0][0]) if steps else first
            belief = first if corrected is None else corrected
            timer.stop()
        except BaseException as exc:  # noqa: BLE001 - classified below
            timer.stop()
            fatal = is_fatal(exc)
            if fatal:
                emit(cols)
                return fatal, f"{type(exc).__name__}: {exc}"
            kind = "step_timeout" if isinstance(exc, StepTimeout) else "exception"
            n_timeouts += kind == "step_timeout"
            init_error = (kind, "init_belief/correct_belief on the first observation: " + _tail(exc))
        last_text = steps[0][0] if steps else ""
        for observation, action, true_next in steps:
            if init_error is not None:
                preds.append(None if true_next == "" else "")
                kinds.append(init_error[0])
                errors.append(init_error[1])
                summaries.append("")
                hits.append(False)
                continue
            predicted, kind, error, summary, hit = "", "", "", "", False
            prior = belief
            phase = "summary"
            try:  # predict: b' = predict_belief(b, a); o_hat = readout_observation(b', a)
                timer.start()
                summary = summarize(belief)
                memory = residual.lookup(last_text if rollout else observation, action) if residual else None
                phase = "predict_belief"
                prior = model.predict_belief(belief, action)
                if memory is not None:
                    predicted, hit = memory, True
                else:
                    phase = "readout_observation"
                    out = model.readout_observation(prior, action)
                    if out is not None and not isinstance(out, str):
                        raise TypeError(f"readout_observation returned {type(out).__name__}, expected str")
                    predicted = (out or "")[:MAX_TEXT]
                timer.stop()
            except BaseException as exc:  # noqa: BLE001 - classified below
                timer.stop()
                fatal = is_fatal(exc)
                if fatal:
                    emit(cols)
                    return fatal, f"{type(exc).__name__}: {exc}"
                kind = "step_timeout" if isinstance(exc, StepTimeout) else "exception"
                error = f"in {phase}: " + _tail(exc)
                n_timeouts += kind == "step_timeout"
                predicted, hit = "", False
                if phase != "readout_observation":
                    prior = belief  # as the reference: a failed prediction keeps the belief
            phase = "correct_belief"
            try:  # correct: b = correct_belief(b', o_true) (teacher) or correct_belief(b', o_hat) (rollout)
                timer.start()
                corrected = model.correct_belief(prior, predicted if rollout else true_next)
                belief = prior if corrected is None else corrected
                timer.stop()
            except BaseException as exc:  # noqa: BLE001 - classified below
                timer.stop()
                fatal = is_fatal(exc)
                if fatal:
                    emit(cols)
                    return fatal, f"{type(exc).__name__}: {exc}"
                belief = prior  # as the reference: a failed correction keeps the prior
                step_kind = "step_timeout" if isinstance(exc, StepTimeout) else "exception"
                n_timeouts += step_kind == "step_timeout"
                if not kind:
                    kind, error = step_kind, "in correct_belief: " + _tail(exc)
            preds.append(None if predicted == true_next else predicted)
            kinds.append(kind)
            errors.append(error)
            summaries.append(summary)
            hits.append(hit)
            last_text = predicted
            if n_timeouts >= max_step_timeouts > 0:
                emit(cols)
                return "timeout", f"stopped after {n_timeouts} step timeouts (last in {phase})"
        emit(cols)
        if n_timeouts >= max_step_timeouts > 0:
            return "timeout", f"stopped after {n_timeouts} step timeouts"
    return "ok", ""


def _tail(exc: BaseException, limit: int = 900) -> str:
    """The end of a traceback, keeping the program's own frames (with their source lines)."""
    if isinstance(exc, StepTimeout):
        return str(exc) or "step timed out"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == PROGRAM_FILENAME]
    lines = [f"line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames[-4:]]
    text = "\n".join(lines + [f"{type(exc).__name__}: {exc}"])
    return text[-limit:]


_SCALARS = (bool, float, type(None))


def _walk(obj: Any, depth: int, budget: int) -> str:
    """A bounded repr: containers stop adding items once ``budget`` characters are used.

    Exact built-in types (the bulk of most beliefs) take a fast path keyed on ``type``, with
    scalar items formatted inline rather than by a call each; everything else, subclasses
    included, goes through :func:`_walk_any`. Same text either way.
    """
    cls = type(obj)
    if cls is str:
        return repr(obj) if len(obj) <= 60 else repr(obj[:57]) + "..."
    if cls is float or cls is bool or obj is None or (cls is int and obj.bit_length() < 200):
        return repr(obj)
    if cls is tuple:
        return "..." if depth >= 4 else _items(obj, depth, budget, "(", ",)" if len(obj) == 1 else ")")
    if cls is list:
        return "..." if depth >= 4 else _items(obj, depth, budget, "[", "]")
    if cls is dict:
        return "..." if depth >= 4 else _pairs(obj, depth, budget)
    return _walk_any(obj, depth, budget)


def _items(obj: Any, depth: int, budget: int, open_: str, close: str) -> str:
    """An exact list or tuple; scalar items inline."""
    parts = []
    used = len(open_)
    for item in obj:
        if used > budget:
            parts.append("...")
            break
        kind = type(item)
        if kind is str:
            piece = repr(item) if len(item) <= 60 else repr(item[:57]) + "..."
        elif kind is int and item.bit_length() < 200 or kind is float or kind is bool or item is None:
            piece = repr(item)
        else:
            deep = depth >= 3 and (kind is tuple or kind is list or kind is dict)
            piece = "..." if deep else _walk(item, depth + 1, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return open_ + ", ".join(parts) + close


def _pairs(obj: dict, depth: int, budget: int) -> str:
    """An exact dict; string keys and scalar values inline."""
    parts = []
    used = 1
    inner = depth + 1
    for key, value in obj.items():
        if used > budget:
            parts.append("...")
            break
        piece = repr(key) if type(key) is str and len(key) <= 60 else _walk(key, inner, 40)
        kind = type(value)
        if kind is str:
            piece += ": " + (repr(value) if len(value) <= 60 else repr(value[:57]) + "...")
        elif kind is int and value.bit_length() < 200 or kind is float or kind is bool or value is None:
            piece += ": " + repr(value)
        elif inner >= 4 and (kind is tuple or kind is list or kind is dict):
            piece += ": ..."
        else:
            piece += ": " + _walk(value, inner, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return "{" + ", ".join(parts) + "}"


def _walk_any(obj: Any, depth: int, budget: int) -> str:
    """The general case of :func:`_walk`: subclasses, tuples, sets, objects, anything else."""
    if isinstance(obj, str):
        return repr(obj) if len(obj) <= 60 else repr(obj[:57]) + "..."
    if isinstance(obj, _SCALARS) or (isinstance(obj, int) and obj.bit_length() < 200):
        return repr(obj)
    if depth >= 4:
        return "..."
    kind = "items"  # "items": a sequence, "pairs": a mapping, "fields": an object's attributes
    if isinstance(obj, dict):
        items: Any = obj.items()
        open_, close, kind = "{", "}", "pairs"
    elif isinstance(obj, list):
        items, open_, close = obj, "[", "]"
    elif isinstance(obj, tuple):
        items, open_, close = obj, "(", ",)" if len(obj) == 1 else ")"
    elif isinstance(obj, (set, frozenset)):
        items, open_, close = obj, ("{" if obj else "set("), ("}" if obj else ")")
    elif isinstance(getattr(obj, "__dict__", None), dict):
        items, open_, close, kind = vars(obj).items(), type(obj).__name__ + "(", ")", "fields"
    else:
        text = repr(obj)
        return text if len(text) <= 60 else text[:57] + "..."
    parts = []
    used = len(open_)
    for item in items:
        if used > budget:
            parts.append("...")
            break
        if kind == "pairs":
            piece = _walk(item[0], depth + 1, 40) + ": " + _walk(item[1], depth + 1, budget - used)
        elif kind == "fields":
            piece = f"{item[0]}=" + _walk(item[1], depth + 1, budget - used)
        else:
            piece = _walk(item, depth + 1, budget - used)
        parts.append(piece)
        used += len(piece) + 2
    return open_ + ", ".join(parts) + close


def summarize(belief: Any, limit: int = 200) -> str:
    """A short (<= ``limit`` characters) description of a belief for counterexamples.

    Walks containers, dataclasses and plain objects field by field and stops adding items
    once the text is long enough, so a huge belief costs little more than a small one.
    """
    try:
        text = _walk(belief, 0, limit)
    except Exception as exc:  # a hostile __repr__ or a container changing under us
        return f"<{type(belief).__name__}: summary failed: {type(exc).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def session_call(model: Any, state: dict, request: list, residual: ResidualMemory | None, timer: Any,
                 is_fatal: Callable[[BaseException], str | None]) -> list:
    """Serve one model-session request; returns ``["ok", value]`` or ``["error", kind, message]``.

    Beliefs live in ``state["beliefs"]`` by integer handle; ``predict`` and ``correct``
    deep-copy the stored belief first so a handle can be expanded many times (planning).
    """
    op = request[0]
    beliefs, texts = state["beliefs"], state["texts"]

    def store(belief: Any, text: str) -> int:
        handle = state["next"]
        state["next"] += 1
        beliefs[handle], texts[handle] = belief, text
        return handle

    try:
        if op in ("predict", "correct", "summary") and request[1] not in beliefs:
            return ["error", "handle", f"unknown belief handle {request[1]}"]
        if op == "release":
            for h in request[1]:
                beliefs.pop(h, None)
                texts.pop(h, None)
            return ["ok", None]
        timer.start()
        if op == "init":
            first = model.init_belief()
            corrected = model.correct_belief(first, request[1])
            value: Any = store(first if corrected is None else corrected, request[1])
        elif op == "predict":
            handle, action = request[1], request[2]
            reward = done = None
            if callable(getattr(model, "predict_reward_done", None)):
                reward, done = model.predict_reward_done(copy.deepcopy(beliefs[handle]), action)
                reward, done = (None if reward is None else float(reward)), (None if done is None else bool(done))
            prior = model.predict_belief(copy.deepcopy(beliefs[handle]), action)
            memory = residual.lookup(texts[handle], action) if residual else None
            text = memory if memory is not None else model.readout_observation(prior, action)
            text = "" if text is None else text
            if not isinstance(text, str):
                raise TypeError(f"readout_observation returned {type(text).__name__}, expected str")
            text = text[:MAX_TEXT]
            value = [store(prior, text), text, "" if text.strip() else "empty", "", reward, done]
        elif op == "correct":
            prior = copy.deepcopy(beliefs[request[1]])
            try:
                corrected = model.correct_belief(prior, request[2])
            except Exception:
                corrected = None  # as the reference: keep the prior when correction fails
            value = store(prior if corrected is None else corrected, request[2])
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
