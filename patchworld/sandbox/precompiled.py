"""Programs compiled once in the trusted process for the several job processes about to load them.

A sharded replay, and a replay with one job per trajectory, load the same program in two to a few
dozen freshly forked job processes. Compiling in each is costly (in a process just forked, every
page the compiler writes is a copy-on-write fault; unmarshalling the compiled code writes far fewer)
and sits on each job's first round. :func:`precompile` compiles once here; the job message then
carries the marshalled code (:func:`code_field`), which the job process loads with :func:`code_of`.
``benchmarks/replay_cost.py --precompiled`` measures the difference.

No new exposure: this process already parses every program it replays (localisation, mutation),
and compiling adds only the code generator. A source longer than :data:`MAX_SOURCE` or one that
does not compile is left to the job process, as before (it reports the syntax error with its line;
a huge source costs the job's CPU, bounded by its limit, not this process's).
"""

from __future__ import annotations

import base64
import marshal
import threading
import types
from collections import OrderedDict
from typing import Any

from patchworld.program import compile_program

__all__ = ["precompile", "code_field", "code_of", "MAX_SOURCE"]

MAX_SOURCE = 256 * 1024
"""Longest source compiled here (characters); longer ones compile in the job process."""

_KEEP = 32
_CACHE: OrderedDict[str, str] = OrderedDict()   # source -> base64 of its marshalled code, newest last
_LOCK = threading.Lock()


def precompile(source: str) -> None:
    """Compile ``source`` for the jobs about to load it (kept for the :data:`_KEEP` latest sources)."""
    if len(source) > MAX_SOURCE:
        return
    with _LOCK:
        if source in _CACHE:
            _CACHE.move_to_end(source)
            return
    try:
        code = compile_program(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return   # the job process reports it, as for any program
    blob = base64.b64encode(marshal.dumps(code)).decode("ascii")
    with _LOCK:
        _CACHE[source] = blob
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)


def code_field(source: str) -> dict[str, str]:
    """``{"code": ...}`` for a job message when ``source`` was precompiled, else ``{}``."""
    with _LOCK:
        blob = _CACHE.get(source)
    return {"code": blob} if blob is not None else {}


def code_of(job: dict[str, Any]) -> types.CodeType | None:
    """In the job process: the job's precompiled code, or None (absent or unreadable: compile the source)."""
    blob = job.get("code")
    if type(blob) is not str:
        return None
    try:
        code = marshal.loads(base64.b64decode(blob))
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None
