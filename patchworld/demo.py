"""The offline demo: a few mutation rounds repairing the deliberately flawed maze program.

``make demo`` runs ``patchworld demo``: maze data from ``data/trajectories/maze/``, starting
program ``data/programs/maze_flawed.py``, the offline mutation proposer, a few rounds. It
prints a per-round table, the final val and test fidelity (test is read only here, after
the loop, for reporting), writes a self-contained HTML report and ends with the line
``demo: val token_f1 <before> -> <after> (<n> rounds, run folder <path>)``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "split_path", "run_demo", "DemoResult", "round_table"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def split_path(env: str, split: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<data_dir or data/trajectories/<env>>/<env>_traj_<split>.jsonl``, with a clear error if absent."""
    from patchworld.data import split_file_name

    folder = Path(data_dir) if data_dir else REPO_ROOT / "data" / "trajectories" / env
    path = folder / split_file_name(env, split)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {split} trajectories for {env} (run `patchworld generate --env {env}`)")
    return path


@dataclass
class DemoResult:
    run_dir: Path
    report: Path | None
    val_before: float
    val_after: float
    test_before: float
    test_after: float
    rounds: int
    seconds: float


def round_table(results: list[Any], baseline_f1: float) -> str:
    """The per-round table the demo prints (round, candidates, accepted, val token F1, fixed, broken)."""
    lines = [f"{'round':>5}  {'candidates':>10}  {'accepted':>8}  {'val token_f1':>12}  {'fixed':>5}  {'broken':>6}",
             f"{0:>5}  {'-':>10}  {'-':>8}  {baseline_f1:>12.3f}  {'-':>5}  {'-':>6}"]
    for res in results:
        lines.append(f"{res.round:>5}  {res.candidates:>10}  {'yes' if res.accepted else 'no':>8}  "
                     f"{res.val_token_f1:>12.3f}  {res.fixed:>5}  {res.broken:>6}")
    return "\n".join(lines)


def run_demo(rounds: int = 6, n_candidates: int = 4, workers: int = 2, out: str | os.PathLike[str] | None = None,
             env: str = "maze", program: str | os.PathLike[str] | None = None, seed: int = 0,
             data_dir: str | os.PathLike[str] | None = None, patience: int = 3, sandbox: bool = True,
             report: bool = True, echo: Callable[[str], None] = print,
             progress: Callable[[int, int, str], None] | None = None) -> DemoResult:
    """Run the demo end to end and return its numbers (``echo`` receives every printed line)."""
    from patchworld.candidate_jobs import default_run_dir
    from patchworld.data import load_trajectories
    from patchworld.gate import score
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    start = time.perf_counter()
    train = load_trajectories(split_path(env, "train", data_dir))
    val = load_trajectories(split_path(env, "val", data_dir))
    program_path = Path(program) if program else REPO_ROOT / "data" / "programs" / f"{env}_flawed.py"
    initial = Program.from_file(program_path)
    run_dir = Path(out) if out else default_run_dir(f"demo-{env}", REPO_ROOT / "runs")
    session = Session(env, train, val, program=initial, proposer=MutationProposer(seed=seed), run_dir=run_dir,
                      n_candidates=n_candidates, seed=seed, workers=workers, sandbox=sandbox)
    echo(f"demo: {env}, {len(train)} train / {len(val)} val trajectories, starting program {program_path.name} "
         f"({initial.hash}), mutation proposer, up to {rounds} rounds of {n_candidates} candidates")
    before = session.score
    results = session.run(rounds, patience=patience, progress=progress)
    after = session.score
    echo(round_table(results, before["token_f1"]))
    # test is read only now, after the loop, for reporting: the gate never saw it
    test = load_trajectories(split_path(env, "test", data_dir))
    test_before = score(replay(initial, test, sandbox=sandbox))
    test_after = score(replay(session.current, test, sandbox=sandbox))
    echo(f"final val:  token_f1 {before['token_f1']:.3f} -> {after['token_f1']:.3f}, "
         f"exact match {before['exact_match']:.3f} -> {after['exact_match']:.3f}")
    echo(f"final test: token_f1 {test_before['token_f1']:.3f} -> {test_after['token_f1']:.3f}, "
         f"exact match {test_before['exact_match']:.3f} -> {test_after['exact_match']:.3f}")
    report_path = None
    if report:
        from patchworld.report import write_report

        summary = {"val token F1": f"{before['token_f1']:.3f} -> {after['token_f1']:.3f}",
                   "val exact match": f"{before['exact_match']:.3f} -> {after['exact_match']:.3f}",
                   "test token F1 (reported after the loop)": f"{test_before['token_f1']:.3f} -> "
                                                              f"{test_after['token_f1']:.3f}",
                   "test exact match": f"{test_before['exact_match']:.3f} -> {test_after['exact_match']:.3f}",
                   "rounds": len(results), "seconds": f"{time.perf_counter() - start:.1f}"}
        report_path = write_report(session.store.path, summary=summary, title=f"PatchWorld demo: {env}")
        echo(f"report: {report_path}")
    result = DemoResult(session.store.path, report_path, before["token_f1"], after["token_f1"],
                        test_before["token_f1"], test_after["token_f1"], len(results), time.perf_counter() - start)
    echo(f"demo: val token_f1 {result.val_before:.3f} -> {result.val_after:.3f} "
         f"({result.rounds} rounds, run folder {result.run_dir})")
    return result
