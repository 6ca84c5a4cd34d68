"""Argument checks shared by the subcommands, run before anything is created or spent.

Each returns ``None`` when all is well, or one line saying what is wrong and what to do, which
the command prints (``patchworld <command>: <line>``) before exiting with code 2. Nothing here
runs a program: a starting program is only compiled (syntax, with line and column).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["positive", "program_problem", "env_problem", "llm_problem", "one_line", "USER_ERRORS", "induce_problem",
           "load_problem", "out_problem"]


def one_line(command: str, problem: object) -> str:
    """``patchworld <command>: <first line of problem>`` (a user error never prints more)."""
    text = " ".join(str(problem).split("\n")[0].split()) or type(problem).__name__
    return f"patchworld {command}: {text}"


def positive(args: argparse.Namespace, *names: str) -> str | None:
    """The first of ``names`` (argparse destinations) whose value is below 1, as a message."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value < 1:
            return f"--{name.replace('_', '-')} must be at least 1 (got {value})"
    return None


def program_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a starting program file cannot be used (missing, unreadable, or a syntax error with line and
    column), or ``None``. Compiles only; the program's code never runs here."""
    p = Path(path)
    if not p.is_file():
        return f"{p}: no such program file"
    try:
        source = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"{p}: cannot read the program: {exc}"
    try:
        compile(source, str(p), "exec", dont_inherit=True)
    except SyntaxError as exc:
        column = f", column {exc.offset}" if exc.offset else ""
        return (f"{p}, line {exc.lineno}{column}: {exc.msg}; the starting program does not parse, "
                "fix it before spending a round")
    except ValueError as exc:   # e.g. a null byte
        return f"{p}: the starting program does not parse: {exc}"
    return None


def out_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot hold a command's output folder (a file is there or on the way to it, or the folder
    cannot be created), or ``None``. Creates the folder, as the command would, so that a long evaluation
    never finishes only to find nowhere to write."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{p} is a file, not a folder: pick a folder for the output"
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{p}: cannot create the output folder: {exc.strerror or exc}"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p}: no permission to write in the output folder"
    return None


def env_problem(env: str, data_dir: str | os.PathLike[str] | None = None, need_simulator: bool = False) -> str | None:
    """Why ``env`` cannot be used: not registered and no trajectories shipped for it (or, with
    ``need_simulator``, not registered at all)."""
    from patchworld.data import split_file_name
    from patchworld.demo import REPO_ROOT
    from patchworld.envs import registered

    known = registered()
    if env in known:
        return None
    folder = Path(data_dir) if data_dir else REPO_ROOT / "data" / "trajectories" / env
    if not need_simulator and (folder / split_file_name(env, "val")).exists():
        return None
    what = "no simulator is registered" if need_simulator else "it is not registered and has no trajectories"
    return f"unknown environment {env!r} ({what}); known: {', '.join(known)}"


def llm_problem(model: str | None, base_url: str | None) -> str | None:
    """Why the LLM proposer cannot start (no model, or no server/key), with the remedy; ``None`` when set."""
    env = os.environ
    model = model or env.get("PATCHWORLD_LLM_MODEL")
    server = base_url or any(env.get(k) for k in ("PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL",
                                                  "PATCHWORLD_LLM_API_KEY", "OPENAI_API_KEY"))
    if model and server:
        return None
    missing = "no LLM model" if not model else "no LLM server"
    return (f"--proposer llm: {missing} configured; set PATCHWORLD_LLM_MODEL and PATCHWORLD_LLM_BASE_URL "
            "(or OPENAI_API_KEY), or pass --model and --base-url; or use --proposer mutation (offline)")


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that describe a user's situation (locked or full run folder, bad data, LLM refusal):
    printed as one line, never as a traceback."""
    from patchworld.runlock import RunLockedError
    from patchworld.store import RunDiskError, RunStoreError

    found: list[type[BaseException]] = [RunLockedError, RunDiskError, RunStoreError, FileExistsError,
                                        FileNotFoundError]
    for module in ("patchworld.proposers.llm", "patchworld.proposers.llm_client"):
        try:
            found.append(__import__(module, fromlist=["LLMError"]).LLMError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


USER_ERRORS = _user_errors


def induce_problem(args: argparse.Namespace) -> str | None:
    """Everything ``patchworld induce`` can refuse before it creates a run folder or spends a round."""
    problem = positive(args, "rounds", "candidates", "counterexamples", "workers", "patience")
    if problem:
        return problem
    if not args.resume:
        if not args.env:
            return "--env is required for a new run"
        problem = env_problem(args.env, args.data_dir)
        if problem:
            return problem
        if args.program:
            problem = program_problem(args.program)
            if problem:
                return problem
    if (args.proposer or ("mutation" if not args.resume else None)) == "llm":
        return llm_problem(args.model, args.base_url)
    return None


def load_problem(session: object, program: str | None) -> str | None:
    """Why the session's starting program does not load (found by its round-0 val replay, in the
    sandbox), or ``None``: refused before any round is spent."""
    replay = session.val_replay()   # type: ignore[attr-defined]
    if getattr(replay, "outcome", "") != "load_error":
        return None
    return f"{program or 'the starting program'} does not load: {replay.detail}"
