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
           "save_manual_edit", "split_path", "available_envs", "default_run_folder", "RunPlan", "plan_run",
           "run_folders"]

PROPOSERS = ("mutation", "llm")


def preload_step_modules() -> None:
    """Import what a synthesis step and its round curve need (the session, the sandboxed replay, the
    mutation proposer, plotly's figure classes: ~0.25 s of CPU). The synthesis notebook calls this once
    its Step button is on screen, so neither the first view nor the first step waits for these imports."""
    import importlib

    for name in ("patchworld.synthesis", "patchworld.replay", "patchworld.proposers.mutation", "patchworld.viz",
                 "plotly.graph_objects"):
        importlib.import_module(name)


def available_proposers() -> list[str]:
    """The proposers a notebook may offer: mutation always, llm when the environment configures one."""
    from patchworld.proposers.llm_settings import configured

    if not configured():   # checked first: the LLM proposer's modules are only imported when it may be offered
        return ["mutation"]
    try:
        import patchworld.proposers.llm  # noqa: F401
    except ImportError:  # the openai client is optional for everything but the LLM path
        return ["mutation"]
    return ["mutation", "llm"]


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
    """``<traj_dir>/<env>/<env>_traj_<split>.jsonl``, where the shipped data keeps each split.

    The name is :func:`patchworld.data.split_file_name`'s (a test keeps the two equal), spelled out here
    because importing the data module imports polars: ~0.1 s before the synthesis notebook's first view."""
    return Path(traj_dir) / env / f"{env}_traj_{split}.jsonl"


def available_envs(traj_dir: str | os.PathLike[str]) -> list[str]:
    """What an env picker offers: every registered env plus every env with trajectories in ``traj_dir``
    (an env of one's own needs only its data), sorted, ``maze`` first when present."""
    from patchworld.envs import registered

    shipped = {p.name for p in Path(traj_dir).glob("*") if any(p.glob(f"{p.name}_traj_val.jsonl"))}
    names = sorted(set(registered()) | shipped)
    return sorted(names, key=lambda n: (n != "maze", n))


def has_trajectories(traj_dir: str | os.PathLike[str], env: str) -> bool:
    """Whether ``traj_dir`` holds the train and val splits of ``env``."""
    return all(split_path(traj_dir, env, s).exists() for s in ("train", "val"))


def run_folders(runs_dir: str | os.PathLike[str]) -> list[str]:
    """Run folders (with a header) under ``runs_dir``, newest first."""
    found = [p.parent for p in Path(runs_dir).glob("*/header.json")]
    return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)]


SEARCH_LABELS = {"greedy": "greedy", "wide (beam)": "beam"}
"""The notebooks' search choices -> ``Session(search=...)``: greedy (every candidate on all of val, one
incumbent) or the wide search (:mod:`patchworld.population`: screened pools, a beam, fault localisation
whose suspicion per line the candidate view shows)."""


def default_run_folder(runs_dir: str | os.PathLike[str], env: str, variant: str, proposer: str,
                       program_file: str | os.PathLike[str] | None, n_candidates: int, search: str = "greedy") -> Path:
    """The notebook's default folder: its name follows every setting that shapes a run (env, variant,
    proposer, starting program, candidates per round, search), so a default never resumes another run."""
    stem = Path(program_file).stem if program_file and Path(program_file).is_file() else "llm-written"
    tail = "" if search == "greedy" else f"-{search}"
    return Path(runs_dir) / f"notebook-{env}-{variant}-{proposer}-{stem}-c{int(n_candidates)}{tail}"


@dataclass
class RunPlan:
    """What pressing Step will do with a folder, found without creating or locking anything."""

    folder: Path
    resumes: bool
    note: str
    ignored: list[str]
    holder: dict[str, Any] | None = None
    problem: str = ""


def plan_run(run_dir: str | os.PathLike[str], env: str, traj_dir: str | os.PathLike[str], variant: str = "simple",
             proposer: str = "mutation", program_file: str | os.PathLike[str] | None = None,
             n_candidates: int = 4, own: Any | None = None, search: str = "greedy") -> RunPlan:
    """Describe, without side effects, what :func:`open_session` would do: start a new run or resume the
    existing one (listing each picker setting the resumed run ignores), and who holds the folder if
    another session writes it (:func:`patchworld.runlock.lock_holder`); ``own`` (this notebook's open
    session) holding it is not "another session"."""
    from patchworld.runlock import lock_holder

    folder = Path(run_dir).expanduser()
    holder = lock_holder(folder)
    store = getattr(own, "store", None)
    if holder and store is not None and store.locked and Path(store.path).resolve() == folder.resolve():
        holder = None   # this notebook's own session writes it: Step continues that session
    busy = (f" **In use:** pid {holder.get('pid')} on host {holder.get('host')} writes this folder "
            f"({holder.get('what') or 'another session'}); Step will refuse until it is closed.") if holder else ""
    if not (folder / "header.json").exists():
        if not has_trajectories(traj_dir, env):
            return RunPlan(folder, False, "", [], holder, problem=(
                f"No trajectories for {env} in {traj_dir}: make them with `patchworld generate --env {env} "
                f"--out {Path(traj_dir) / env}`, or pick another env."))
        start = Path(program_file).name if program_file and Path(program_file).is_file() else "a program the LLM writes"
        how = "greedy search" if search == "greedy" else "wide search"
        return RunPlan(folder, False, f"**Step** starts a new run in **{folder}** (env {env}, variant {variant}, "
                                      f"{proposer} proposer, {how}, {n_candidates} candidates per round, from "
                                      f"{start})."
                       + busy, [], holder)
    from patchworld.program import Program  # only an existing run needs these (the store imports polars)
    from patchworld.store import RunStore, RunStoreError

    try:
        h = RunStore(folder).header
    except RunStoreError as exc:
        return RunPlan(folder, True, "", [], holder, problem=str(exc))
    ignored = []
    for name, mine, theirs in (("env", env, h.get("env")), ("variant", variant, h.get("variant", "simple")),
                               ("candidates per round", int(n_candidates), h.get("n_candidates")),
                               ("search", search, h.get("search", "greedy"))):
        if theirs is not None and mine != theirs:
            ignored.append(f"{name} {mine} (the run uses {theirs})")
    if program_file and Path(program_file).is_file():
        picked = Program.from_file(program_file).hash
        if picked != h.get("initial_program"):
            ignored.append(f"starting program {Path(program_file).name} (the run started from {h.get('initial_program')})")
    saved = (h.get("proposer") or {}).get("name")
    swap = f" The {proposer} proposer is used in place of the run's {saved} proposer." if saved and saved != proposer \
        else ""
    note = (f"**Step** resumes **{folder}** (env {h.get('env')}, variant {h.get('variant', 'simple')}, "
            f"{h.get('search', 'greedy')} search, {h.get('n_candidates')} candidates per round)."
            + (" Picker settings it ignores: " + "; ".join(ignored) + "." if ignored else "") + swap + busy)
    return RunPlan(folder, True, note, ignored, holder)


@dataclass
class OpenedSession:
    """A session and one line saying what happened (new run or resumed, with where and what)."""

    session: Any
    note: str
    resumed: bool


def executor_for(name: str, address: str, held: dict) -> tuple[Any, str]:
    """The executor the pickers ask for (``None`` for local threads) and a note saying where candidate
    replays run. ``held`` (the notebook's own dict) keeps one live executor across steps; a different
    choice closes the old one. A Dask cluster is started (or reached) only when a step needs it."""
    from patchworld.executors import make_executor

    key = (name, (address or "").strip())
    if held.get("key") != key:
        if held.get("executor") is not None:
            held["executor"].close()
        held.update(key=key, executor=None if name == "local" else make_executor(name, key[1] or None))
    executor = held["executor"]
    if executor is None:
        return None, "Candidate replays run on this machine."
    return executor, f"Candidate replays run on a Dask cluster ({executor.workers} workers, {key[1] or 'local'})."


def open_session(run_dir: str | os.PathLike[str], env: str, traj_dir: str | os.PathLike[str],
                 variant: str = "simple", proposer: str = "mutation", program_file: str | os.PathLike[str] | None = None,
                 n_candidates: int = 4, seed: int = 0, previous: Any | None = None,
                 executor: Any | None = None, search: str = "greedy") -> OpenedSession:
    """Resume ``run_dir`` if it holds a run (its own env, variant and data win over the arguments; the
    note lists what was ignored), else start a new run there on ``traj_dir``'s train and val splits of
    ``env``, from ``program_file`` (``None`` or a missing file: the proposer writes the first program).
    ``previous`` (this notebook's earlier session) is closed first, giving its folder's lock back.
    Raises ``OSError``/``ValueError`` with the reason when the folder or data cannot be used, and
    :class:`patchworld.runlock.RunLockedError` naming the holder when another session writes the folder.
    ``executor`` (:func:`executor_for`) is where candidate replays run (default: local threads); ``search``:
    ``"greedy"`` or ``"beam"`` (:data:`SEARCH_LABELS`; a resumed run keeps its own)."""
    from patchworld.program import Program
    from patchworld.synthesis import Session

    if previous is not None:
        previous.close()
    folder = Path(run_dir).expanduser()
    if (folder / "header.json").exists():
        plan = plan_run(folder, env, traj_dir, variant, proposer, program_file, n_candidates, search=search)
        session = Session.resume(folder, proposer=make_proposer(proposer, seed), executor=executor)
        note = f"Resumed **{folder}** (env {session.env}, variant {session.variant}, round {session.round})." + (
            " Ignored: " + "; ".join(plan.ignored) + "." if plan.ignored else "")
        return OpenedSession(session, note, True)
    path = Path(program_file) if program_file else None
    session = Session(env, train=split_path(traj_dir, env, "train"), val=split_path(traj_dir, env, "val"),
                      program=Program.from_file(path) if path is not None and path.is_file() else None,
                      proposer=make_proposer(proposer, seed), variant=variant, run_dir=folder,
                      n_candidates=int(n_candidates), seed=seed, executor=executor, search=search)
    return OpenedSession(session, f"New run in **{folder}** (env {env}, variant {variant}, {search} search).", False)


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
    try:
        verdict = session.submit(source, origin="manual")
    finally:
        session.close()   # a hand edit is one write: give the folder's lock back at once
    note = "" if parent == loaded.hash else (
        f"The gate compared the edit with the run's current program {parent}, not with the loaded program "
        f"{loaded.hash}: the patch is recorded against {parent}.")
    return ManualSave(verdict, session.store.path, note)


class EditTarget:
    """A program to hand-edit and what it is replayed on: its env, the val trajectories, the test
    split's path (replayed only on demand) and the run it came from (``None`` for a file).

    ``val`` is read on first use, so a notebook can show the program (its editor) before the data
    (and polars) are loaded; a missing or malformed val file raises there, as ``load_trajectories`` does."""

    def __init__(self, env: str, program: Any, val: Any, test_path: Path, run_dir: Path | None = None) -> None:
        self.env, self.program, self.test_path, self.run_dir = env, program, test_path, run_dir
        self._val = val   # the trajectories, or a function of no arguments that reads them

    @property
    def val(self) -> Any:
        if callable(self._val):
            self._val = self._val()
        return self._val


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
    from patchworld.program import Program

    if run_dir is not None:
        from patchworld.store import RunStore

        store = RunStore(run_dir)
        run_env = store.header["env"]
        program = store.load_program(program_hash or store.last_accepted() or store.header["initial_program"])
        return EditTarget(run_env, program, lambda: store.load_data("val"), split_path(traj_dir, run_env, "test"),
                          Path(run_dir))
    if path is None:
        raise ValueError("load_edit_target needs run_dir or path")
    val_path = split_path(traj_dir, env, "val")

    def read_val() -> Any:
        from patchworld.data import load_trajectories  # imports polars: only when the data are needed

        return load_trajectories(val_path)

    return EditTarget(env, Program.from_file(path), read_val, split_path(traj_dir, env, "test"))
