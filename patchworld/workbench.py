"""Opening sessions the way the notebooks' pickers describe them, and saving hand edits.

The stepper notebooks (marimo and Jupyter) and the hand-edit notebook call these with the
values of their widgets, so that what "open or resume this folder" and "save as manual patch"
mean is defined (and tested) once. No notebook imports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PROPOSERS", "make_proposer", "available_proposers", "open_session", "OpenedSession", "ManualSave",
           "save_manual_edit", "split_path"]

PROPOSERS = ("mutation", "llm")


def available_proposers() -> list[str]:
    """The proposers a notebook may offer: mutation always, llm when the environment configures one."""
    try:
        from patchworld.proposers.llm import configured
    except ImportError:  # the openai client is optional for everything but the LLM path
        return ["mutation"]
    return ["mutation", "llm"] if configured() else ["mutation"]


def make_proposer(name: str, seed: int = 0) -> Any:
    """A proposer by its picker name: ``"mutation"`` (offline, seeded) or ``"llm"`` (from the environment)."""
    if name == "llm":
        from patchworld.proposers.llm import LLMProposer

        return LLMProposer()
    if name == "mutation":
        from patchworld.proposers.mutation import MutationProposer

        return MutationProposer(seed=seed)
    raise ValueError(f"unknown proposer {name!r}: expected one of {', '.join(PROPOSERS)}")


def split_path(traj_dir: str | os.PathLike[str], env: str, split: str) -> Path:
    """``<traj_dir>/<env>/<env>_traj_<split>.jsonl``, where the shipped data keeps each split."""
    from patchworld.data import split_file_name

    return Path(traj_dir) / env / split_file_name(env, split)


@dataclass
class OpenedSession:
    """A session and one line saying what happened (new run or resumed, with where and what)."""

    session: Any
    note: str
    resumed: bool


def open_session(run_dir: str | os.PathLike[str], env: str, traj_dir: str | os.PathLike[str],
                 variant: str = "simple", proposer: str = "mutation", program_file: str | os.PathLike[str] | None = None,
                 n_candidates: int = 4, seed: int = 0) -> OpenedSession:
    """Resume ``run_dir`` if it holds a run (its own env, variant and data win over the arguments),
    else start a new run there on ``traj_dir``'s train and val splits of ``env``, from
    ``program_file`` (``None`` or a missing file: the proposer writes the first program).
    Raises ``OSError``/``ValueError`` with the reason when the folder or data cannot be used."""
    from patchworld.program import Program
    from patchworld.synthesis import Session

    folder = Path(run_dir).expanduser()
    if (folder / "header.json").exists():
        session = Session.resume(folder, proposer=make_proposer(proposer, seed))
        note = f"Resumed **{folder}** (env {session.env}, variant {session.variant}, round {session.round})."
        return OpenedSession(session, note, True)
    path = Path(program_file) if program_file else None
    session = Session(env, train=split_path(traj_dir, env, "train"), val=split_path(traj_dir, env, "val"),
                      program=Program.from_file(path) if path is not None and path.is_file() else None,
                      proposer=make_proposer(proposer, seed), variant=variant, run_dir=folder,
                      n_candidates=int(n_candidates), seed=seed)
    return OpenedSession(session, f"New run in **{folder}** (env {env}, variant {variant}).", False)


@dataclass
class ManualSave:
    """Where a hand edit went and what the gate said; ``note`` flags a gate parent other than the
    program the edit started from."""

    verdict: Any
    run_dir: Path
    note: str = ""


def save_manual_edit(source: str, loaded: Any, env: str, val: Any, train: Any, run_dir: str | os.PathLike[str] | None,
                     runs_dir: str | os.PathLike[str]) -> ManualSave:
    """Send an edited program through the acceptance gate (``Session.submit``) and record it.

    ``run_dir`` given: the edit goes into that run. Otherwise into ``<runs_dir>/manual-<env>-<hash of
    loaded>``, created with ``loaded`` as its first program (``train``/``val``: trajectories or paths)
    or resumed. The gate compares against the run's current program; when that is not ``loaded``
    (an older program of the run was edited, or an earlier hand edit was accepted) ``note`` says so.
    """
    from patchworld.synthesis import Session

    folder = Path(run_dir) if run_dir is not None else Path(runs_dir) / f"manual-{env}-{loaded.hash}"
    if (folder / "header.json").exists():
        try:
            session = Session.resume(folder)
        except ValueError:  # the run's proposer cannot be rebuilt here; a hand edit needs none
            session = Session.resume(folder, proposer=make_proposer("mutation"))
    else:
        session = Session(env, train=train, val=val, program=loaded, proposer=None, run_dir=folder)
    parent = session.current.hash
    verdict = session.submit(source, origin="manual")
    note = "" if parent == loaded.hash else (
        f"The gate compared the edit with the run's current program {parent}, not with the loaded program "
        f"{loaded.hash}: the patch is recorded against {parent}.")
    return ManualSave(verdict, session.store.path, note)


@dataclass
class EditTarget:
    """A program to hand-edit and what it is replayed on: its env, the val trajectories, the test
    split's path (replayed only on demand) and the run it came from (``None`` for a file)."""

    env: str
    program: Any
    val: Any
    test_path: Path
    run_dir: Path | None = None


def env_of_program_file(name: str, traj_dir: str | os.PathLike[str], default: str) -> str:
    """The env a program file is for, from its name's prefix (``maze_flawed.py`` -> ``maze``) when
    ``traj_dir`` has data for that env; else ``default``."""
    prefix = Path(name).name.split("_")[0]
    return prefix if "_" in Path(name).name and (Path(traj_dir) / prefix).is_dir() else default


def load_edit_target(traj_dir: str | os.PathLike[str], *, run_dir: str | os.PathLike[str] | None = None,
                     program_hash: str | None = None, path: str | os.PathLike[str] | None = None,
                     env: str = "maze") -> EditTarget:
    """What the hand-edit notebook loads: program ``program_hash`` of the run in ``run_dir`` (with the
    run's own env and val copy), or the program file ``path`` for ``env`` on ``traj_dir``'s val split."""
    from patchworld.data import load_trajectories
    from patchworld.program import Program
    from patchworld.store import RunStore

    if run_dir is not None:
        store = RunStore(run_dir)
        run_env = store.header["env"]
        program = store.load_program(program_hash or store.last_accepted() or store.header["initial_program"])
        return EditTarget(run_env, program, store.load_data("val"), split_path(traj_dir, run_env, "test"), Path(run_dir))
    if path is None:
        raise ValueError("load_edit_target needs run_dir or path")
    return EditTarget(env, Program.from_file(path), load_trajectories(split_path(traj_dir, env, "val")),
                      split_path(traj_dir, env, "test"))
