"""From one reply's text to a usable child program, or the reason it is not usable.

:func:`interpret` parses a reply (:mod:`.llm_edits`), applies its edits flexibly
(:mod:`.llm_match`) or checks its whole module without running it (and, when the sandbox is
available, by loading it there), and returns an :class:`Outcome`: the child source and how it
was matched, or a reason written for the model (the re-ask sends it back verbatim).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from patchworld.proposers.llm_edits import parse_reply
from patchworld.proposers.llm_match import EditFailed, module_problems, resolve

__all__ = ["Outcome", "interpret", "sandbox_load_error"]


@dataclass
class Outcome:
    """What one reply gave: ``child`` (a full source) or ``reason``; plus its format and match tiers."""

    child: str | None
    kind: str                  # search_replace | whole_module | malformed
    format: str
    note: str
    reason: str = ""
    tiers: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.child is not None


def sandbox_load_error(source: str) -> str:
    """Load ``source`` in the sandbox; the load error, or "" (also when no sandbox can be reached)."""
    try:
        from patchworld.program import Program, ProgramLoadError
        try:
            from patchworld.sandbox import open_model  # type: ignore[attr-defined]
        except ImportError:
            from patchworld.sandbox_client import open_model  # type: ignore[no-redef]
    except ImportError:
        return ""
    try:
        with open_model(Program(source), sandbox=True):
            return ""
    except ProgramLoadError as exc:
        return f"the module does not load: {' '.join(str(exc).split())[:400]}"
    except Exception:  # noqa: BLE001 (an unavailable sandbox must not reject a reply)
        return ""


def module_error(source: str, load: bool = True) -> str:
    """Why a whole module would cost a replay for nothing ("" when it looks loadable)."""
    return module_problems(source) or (sandbox_load_error(source) if load else "")


def interpret(parent: str, text: str, load: bool = True) -> Outcome:
    """Turn reply ``text`` into a child of ``parent`` (a whole module only when it loads)."""
    parsed = parse_reply(text)
    if parsed.edits:
        try:
            child, tiers = resolve(parent, parsed.edits)
        except EditFailed as exc:
            return Outcome(None, "malformed", parsed.format, parsed.note, str(exc), repairs=parsed.repairs)
        problem = module_problems(child)
        if problem and problem != module_problems(parent):
            return Outcome(None, "malformed", parsed.format, parsed.note, f"after the edits, {problem}",
                           tiers, parsed.repairs)
        return Outcome(child, "search_replace", parsed.format, parsed.note, "", tiers, parsed.repairs)
    if parsed.module is not None:
        if parsed.module == parent or parsed.module.strip() == parent.strip():
            return Outcome(None, "malformed", "whole_module", parsed.note, "the reply repeats the current program "
                           "unchanged")
        problem = module_error(parsed.module, load)
        if problem:
            return Outcome(None, "malformed", "whole_module", parsed.note, problem)
        return Outcome(parsed.module, "whole_module", "whole_module", parsed.note)
    return Outcome(None, "malformed", parsed.format, parsed.note, parsed.error, repairs=parsed.repairs)
