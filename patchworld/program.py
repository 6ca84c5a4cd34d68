"""World-model programs: source text with a content hash and provenance, and the loader.

A :class:`Program` is inert data (it never runs anything). :func:`load_world_model`
executes a program's source and finds its one world-model class; it is called inside
sandbox workers for untrusted code, and in-process only when the caller trusts the code.
Load failures come back as a :class:`LoadFailure` value (never an exception) whose
message names the line at fault, so replay can report them as an outcome.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Program", "ProgramLoadError", "LoadFailure", "load_world_model", "compile_program", "find_model_class",
           "PROGRAM_FILENAME"]

PROGRAM_FILENAME = "<program>"
"""The file name tracebacks show for program code (its lines are registered with linecache)."""

_REQUIRED = ("predict_belief", "readout_observation", "correct_belief")


class ProgramLoadError(Exception):
    """A program could not be loaded (raised by ``open_model``; replay reports an outcome instead)."""


@dataclass(frozen=True)
class Program:
    """A world-model program: its source and where it came from.

    ``origin`` says how it was made (``"file:<path>"``, ``"initial"``, ``"mutation"``,
    ``"llm"``, ``"manual"``...), ``parent`` is the parent program's hash.
    """

    source: str
    origin: str = "source"
    parent: str | None = None
    label: str = ""

    @functools.cached_property
    def hash(self) -> str:
        """First 12 hex characters of the SHA-256 of the source: the program's identity (computed once:
        the search asks for it many times per candidate; the dataclass is frozen)."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()[:12]

    @classmethod
    def from_file(cls, path: str | Path, **kw: Any) -> Program:
        """Read a program from a ``.py`` file; ``origin`` defaults to ``file:<path>``."""
        path = Path(path)
        kw.setdefault("origin", f"file:{path}")
        kw.setdefault("label", path.stem)
        return cls(source=path.read_text(encoding="utf-8"), **kw)

    @classmethod
    def from_source(cls, text: str, **kw: Any) -> Program:
        """A program from source text."""
        return cls(source=text, **kw)

    def __repr__(self) -> str:
        return f"Program(hash={self.hash!r}, origin={self.origin!r}, label={self.label!r}, lines={self.source.count(chr(10)) + 1})"


@dataclass(frozen=True)
class LoadFailure:
    """Why a program failed to load: ``kind`` (syntax, import, no_class, several_classes,
    exception, init) and a one-paragraph message with the line number when known."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def _program_lineno(exc: BaseException) -> int | None:
    """The line of the innermost traceback frame that belongs to the program."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == PROGRAM_FILENAME:
            line = frame.lineno
    return line


def _describe(exc: BaseException, what: str) -> str:
    line = _program_lineno(exc)
    where = f" (line {line})" if line else ""
    return f"{what}{where}: {type(exc).__name__}: {exc}"


def find_model_class(namespace: dict[str, Any], module_name: str) -> type | LoadFailure:
    """The one world-model class defined in a program's namespace.

    A candidate is a class defined in the program itself (imported classes are ignored)
    that subclasses ``BaseWorldModel`` or defines predict_belief, readout_observation and
    correct_belief. Candidates that are base classes of other candidates are dropped, so a
    helper base plus its concrete subclass counts as one model.
    """
    from patchworld.worldmodel_base import BaseWorldModel

    candidates = []
    for value in namespace.values():
        if not isinstance(value, type) or value.__module__ != module_name:
            continue
        if issubclass(value, BaseWorldModel) or all(callable(getattr(value, m, None)) for m in _REQUIRED):
            candidates.append(value)
    leaves = [c for c in candidates if not any(o is not c and issubclass(o, c) for o in candidates)]
    if not leaves:
        return LoadFailure(
            "no_class",
            "no world-model class found: define one class subclassing BaseWorldModel or with "
            "predict_belief, correct_belief and readout_observation methods",
        )
    if len(leaves) > 1:
        names = ", ".join(sorted(c.__name__ for c in leaves))
        return LoadFailure("several_classes", f"several world-model classes found ({names}); keep exactly one")
    return leaves[0]


def compile_program(source: str) -> types.CodeType:
    """The code object :func:`load_world_model` runs for ``source`` (raises ``SyntaxError`` or
    ``ValueError`` as ``compile`` does); one definition, so code compiled elsewhere is the same."""
    return compile(source, PROGRAM_FILENAME, "exec")


def load_world_model(source: str, module_name: str = "patchworld_program",
                     code: types.CodeType | None = None) -> Any | LoadFailure:
    """Execute ``source``, find its world-model class and return an instance of it.

    Returns a :class:`LoadFailure` for a syntax error (with line and column), a failing
    import, an exception in the module body or ``__init__``, no model class or several.
    ``BaseException``s other than ``Exception`` (e.g. ``SystemExit``) are reported too;
    only ``KeyboardInterrupt`` and the sandbox's own control exceptions propagate.
    ``code``: ``source`` already compiled by :func:`compile_program` (see
    :mod:`patchworld.sandbox.precompiled`); ``source`` still gives tracebacks their lines.
    """
    try:
        code = code if code is not None else compile_program(source)
    except SyntaxError as exc:
        col = f", column {exc.offset}" if exc.offset else ""
        text = f": {exc.text.strip()}" if exc.text else ""
        return LoadFailure("syntax", f"SyntaxError at line {exc.lineno}{col}: {exc.msg}{text}")
    except ValueError as exc:  # e.g. null bytes in the source
        return LoadFailure("syntax", f"invalid source: {exc}")
    lines = source.splitlines(keepends=True)
    linecache.cache[PROGRAM_FILENAME] = (len(source), None, lines, PROGRAM_FILENAME)
    module = types.ModuleType(module_name)
    module.__file__ = PROGRAM_FILENAME
    sys.modules[module_name] = module  # dataclasses and pickling look the module up here
    try:
        exec(code, module.__dict__)
    except ImportError as exc:
        return LoadFailure("import", _describe(exc, "import failed"))
    except Exception as exc:
        return LoadFailure("exception", _describe(exc, "the module body raised"))
    except SystemExit as exc:
        return LoadFailure("exception", _describe(exc, "the module body called sys.exit"))
    cls = find_model_class(module.__dict__, module_name)
    if isinstance(cls, LoadFailure):
        return cls
    try:
        return cls()
    except Exception as exc:
        return LoadFailure("init", _describe(exc, f"{cls.__name__}() raised"))
    except SystemExit as exc:
        return LoadFailure("init", _describe(exc, f"{cls.__name__}() called sys.exit"))
