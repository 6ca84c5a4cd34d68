"""Replay speed, like for like: the lockstep sandbox vs the reference's evaluator on the shipped test splits.

Run::

    git clone https://github.com/HKBU-KnowComp/PatchWorld /tmp/pw-reference   # any checkout of it
    python3.11 -m venv /tmp/pw-ref-venv && /tmp/pw-ref-venv/bin/pip install nltk==3.9.1  # its BLEU dependency
    .venv/bin/python benchmarks/replay.py --reference /tmp/pw-reference \\
        --reference-python /tmp/pw-ref-venv/bin/python [--runs 5]

Programs ``data/programs/handwritten/<env>.py``, data ``data/trajectories/<env>/*_test.jsonl`` for
maze, wordle, textcraft and babyai. Every side is timed from the program's source text to the final
metrics (program load included everywhere; trajectories already loaded). What each side does:

Teacher-forced (RQ1), every transition of the split:

* ``sandbox``: ``replay(program, trajs)``. The program is loaded in a worker forked by the fork
  server and isolated (fds, own uid, no new privileges, Landlock, seccomp, audit hook; a pre-forked
  spare when one is ready), driven in lockstep rounds: predict_belief, readout_observation, then
  correct_belief with the true observation (sent only after the prediction), a belief summary per
  step. This process scores: token F1, exact match, BLEU-4, coverage per transition, the steps
  frame, the reference's headline numbers. Shards: the default (two workers only when a core is idle).
* ``in-process``: the same with ``sandbox=False`` (no worker, no limits).
* ``reference`` (like for like; the ratio's denominator): the reference's own functions
  (``load_model_from_code``, ``_init_belief_from_first_observation``, ``_predict_belief_prior``,
  ``_readout_observation_from_belief``, ``_correct_belief_with_observation``,
  ``_is_non_error_prediction``, ``_token_f1``, ``_safe_bleu4`` = nltk BLEU-4) in the loop of its
  ``compute_observation_fit``, computing only what ours computes: token F1, BLEU-4, exact match,
  coverage. Ours does more (belief summaries, error kinds, the frame).
* ``ref. as shipped``: ``load_model_from_code`` + ``compute_observation_fit`` unchanged: the
  reference's evaluator itself. Besides the numbers above it reads out again after each correction
  (post-correction F1), takes belief diagnostics, and parses both observations of each covered step
  (state match).
* ``sandbox +post``: ``replay(program, trajs, post_correction=True)``: the sandbox side plus the
  post-correction readout and its F1, so both sides report token F1, BLEU-4, exact match,
  coverage, post-correction F1 and a per-step look at the belief (our summaries, its diagnostics);
  only the state-match parses are the reference's alone.

Rollout (RQ2), as the reference does it: the first 15 transitions of each trajectory (its
``max_horizon``), the model fed its own predictions:

* ``sandbox`` / ``in-process``: ``replay(program, trajs, mode="rollout", max_steps=15, lean=True)``:
  token F1 and exact match of every prediction, the horizon table (1, 2, 3, 5, 8, 10, 15) and
  ``rollout_auc``; ``lean``: no belief summaries and no BLEU-4 (the reference computes neither).
* ``reference``: ``load_model_from_code`` + ``compute_autoregressive_rollout_token_f1`` unchanged
  (token F1 at the 7 horizons, placeholder checks on every prediction). Same work, bar our extra
  per-step F1 and exact match.

CPU: ``sandbox`` = this process (``time.process_time``) + the job's workers (their CPU from fork
to exit as the fork server reports it on reaping them, so a spare's isolation counts for the job
that uses it) + the fork server's own CPU (``/proc/<pid>/schedstat``); the reference's is
``time.process_time`` in its own interpreter (nothing of the reference is copied here; it runs
from its checkout). Before each of our runs the BLEU-4 memo is cleared (nltk has none).

Runs are interleaved: run k times every side once, in an order rotated each run, after a pause
(the previous job's worker is reaped and a spare is up, as between two edits). Figures are
medians [min-max] of ``--runs`` (>= 5) runs in ms; ``ratio`` = like-for-like reference median /
sandbox median and, in teacher mode, ``ratio as shipped`` = the shipped evaluator's median /
sandbox median and ``ratio vs evaluator`` = the shipped evaluator's median / ``sandbox +post``
median (the evaluator itself against our replay computing what it reports; above 1: ours is
faster), in wall time and in CPU time; ``paired wall``: the median [min-max] of the run-by-run wall
ratios (each run's sides ran within a second of each other, so the machine's drift cancels). ``--scale K``
repeats each test split K times for every side: the ratio once a job's fixed cost (fork,
isolation, program load: milliseconds) is spread over K times the transitions. The load average is printed
before and after: on a shared machine wall times stretch with it, CPU times much less. The
F1 columns (ours / the reference's, same definition) show both sides computed the same thing.
No asserts: numbers only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from patchworld.data import load_trajectories
from patchworld.metrics import bleu4
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import pool, shutdown_pool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402  (benchmarks/machine.py)

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("maze", "wordle", "textcraft", "babyai")
HORIZON = 15  # the reference's max_horizon for rollout
_REFERENCE = r'''
import json, sys, time
from pathlib import Path
import patchworld.worldmodel_evaluator as E
from patchworld.worldmodel_data import load_trajectories
from patchworld.worldmodel_validator import load_model_from_code


def same_work(code, trajs):
    """compute_observation_fit's loop with only token F1, BLEU-4, exact match and coverage."""
    model, err = load_model_from_code(code)
    assert model is not None, err
    covered = exact = 0
    f1_sum = bleu_sum = 0.0
    for traj in trajs:
        if not traj.transitions:
            continue
        belief = E._init_belief_from_first_observation(model, traj.transitions[0].observation)
        for step in traj.transitions:
            try:
                prior = E._predict_belief_prior(model, belief, step.action)
            except Exception:
                prior, predicted = belief, ""
            else:
                try:
                    predicted = E._readout_observation_from_belief(model, prior, step.action)
                except Exception:
                    predicted = ""
            if E._is_non_error_prediction(predicted):
                covered += 1
                f1_sum += E._token_f1(predicted, step.next_observation)
                bleu_sum += E._safe_bleu4(predicted, step.next_observation)
                exact += predicted == step.next_observation
            try:
                belief = E._correct_belief_with_observation(model, prior, step.next_observation)
            except Exception:
                belief = prior
    return round(f1_sum / covered, 4) if covered else 0.0


def shipped(code, trajs, fn):
    model, err = load_model_from_code(code)
    assert model is not None, err
    result = fn(model, trajs)
    return result.get("mean_token_f1", result.get("rollout_auc_token_f1"))


cases = {}
for line in sys.stdin:
    env, side, program, data = line.split("\t")
    key = (program, data.strip())
    if key not in cases:
        cases[key] = (Path(program).read_text(), load_trajectories([Path(data.strip())]))
    code, trajs = cases[key]
    run = {"same": lambda: same_work(code, trajs),
           "shipped": lambda: shipped(code, trajs, E.compute_observation_fit),
           "rollout": lambda: shipped(code, trajs, E.compute_autoregressive_rollout_token_f1)}[side]
    wall, cpu = time.perf_counter(), time.process_time()
    f1 = run()
    print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, f1,
                      E.sentence_bleu is not None]), flush=True)
'''


class Reference:
    """The reference's evaluator in its own interpreter, timing one case per request."""

    def __init__(self, checkout: Path, python: str):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(checkout)
        self.proc = subprocess.Popen([python, "-c", _REFERENCE], env=env, cwd=str(checkout), text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, env: str, side: str, program: Path, data: Path) -> tuple[float, float, float, bool]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{env}\t{side}\t{program}\t{data}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference evaluator failed on {env} ({side}); its error is above")
        wall, cpu, f1, bleu = json.loads(line)
        return wall, cpu, float(f1 or 0.0), bool(bleu)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _server_cpu() -> float:
    """CPU seconds of the fork server itself and of the job processes it has reaped (0.0 if none)."""
    server = pool._POOL.server
    if server is None:
        return 0.0
    try:
        own = int(Path(f"/proc/{server.proc.pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        own = 0.0
    return own + server.reaped_cpu()


def _ours(program: Program, trajs: list, mode: str, sandbox: bool, post: bool = False) -> tuple[float, float, float]:
    """Wall, CPU and F1 of one replay (CPU of the workers and the fork server included)."""
    kw: dict = {"max_steps": HORIZON, "lean": True} if mode == "rollout" else {"post_correction": post}
    bleu4.cache_clear()
    server0, cpu0, wall0 = _server_cpu(), time.process_time(), time.perf_counter()
    result = replay(program, trajs, mode=mode, sandbox=sandbox, **kw)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if sandbox:
        time.sleep(0.25)  # the fork server reaps the job's worker and reports its CPU
        cpu += _server_cpu() - server0
    if result.outcome != "ok":
        print(f"    warning: {result.outcome}: {result.detail[:120]}", file=sys.stderr)
    return wall, cpu, result.metrics["token_f1_ref" if mode == "teacher" else "rollout_auc"]


def _fmt(values: list[float]) -> str:
    ms = [v * 1e3 for v in values]
    return f"{statistics.median(ms):6.0f} [{min(ms):.0f}-{max(ms):.0f}]"


def _paired(ref: list[float], ours: list[float]) -> str:
    """Median [min-max] of the run-by-run ratios (run k's two sides ran within a second of each other,
    so a drift of the machine's speed between runs cancels out)."""
    ratios = [r / o for r, o in zip(ref, ours, strict=True) if o > 0]
    return f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]" if ratios else "-"


def _ratio(ref: list[float], ours: list[float]) -> str:
    return f"{statistics.median(ref) / statistics.median(ours):5.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of HKBU-KnowComp/PatchWorld")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="an interpreter with the reference's dependencies (nltk); default: this one")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--envs", default=",".join(ENVS), help="comma-separated subset of " + ",".join(ENVS))
    parser.add_argument("--scale", type=int, default=1,
                        help="use the test split repeated K times (every side the same data): how the ratio "
                             "moves once a job's fixed cost is spread over more transitions; default 1")
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (medians)")
    if not (args.reference / "patchworld" / "worldmodel_evaluator.py").is_file():
        parser.error(f"--reference {args.reference}: no patchworld/worldmodel_evaluator.py there")
    envs = [e for e in args.envs.split(",") if e]
    if not envs or any(e not in ENVS for e in envs):
        parser.error(f"--envs: choose from {','.join(ENVS)}")
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    ref = Reference(args.reference, args.reference_python)
    scratch = Path(tempfile.mkdtemp(prefix="pw-replay-bench-"))
    print(f"medians [min-max] of {args.runs} interleaved runs, ms; ratio = reference / sandbox (wall, CPU); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start"
          + (f"; test splits repeated {args.scale}x" if args.scale > 1 else ""))
    print(f"{'env':<9} {'mode':<7} {'n':>4} {'side':<16} {'wall':>18} {'CPU':>18}   F1")
    try:
        for env in envs:
            data = _scaled(next(iter(sorted((ROOT / "data" / "trajectories" / env).glob("*_test.jsonl")))),
                           args.scale, scratch)
            path = ROOT / "data" / "programs" / "handwritten" / f"{env}.py"
            with warnings.catch_warnings():  # a repeated split shares ids (told apart by line): expected
                warnings.simplefilter("ignore")
                program, trajs = Program.from_file(path), load_trajectories(data)
            for mode in ("teacher", "rollout"):
                _compare(env, mode, program, trajs, ref, path, data, args.runs)
    finally:
        ref.close()
        shutdown_pool()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print(machine_line(), "  (our sharded replay runs two workers beside this process; the reference, one process)")


def _scaled(data: Path, scale: int, scratch: Path) -> Path:
    """``data`` itself, or a copy in ``scratch`` with its trajectories repeated ``scale`` times."""
    if scale == 1:
        return data
    lines = [line for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    copy = scratch / data.name
    copy.write_text("\n".join(lines * scale) + "\n", encoding="utf-8")
    return copy


def _compare(env: str, mode: str, program: Program, trajs: list, ref: Reference, path: Path, data: Path,
             runs: int) -> None:
    """Time every side of one (env, mode) ``runs`` times, interleaved, and print its rows."""
    sides = {
        "sandbox": lambda: _ours(program, trajs, mode, True),
        "in-process": lambda: _ours(program, trajs, mode, False),
        "reference": lambda: ref.run(env, "same" if mode == "teacher" else "rollout", path, data)[:3],
    }
    if mode == "teacher":
        sides["sandbox +post"] = lambda: _ours(program, trajs, mode, True, post=True)
        sides["ref. as shipped"] = lambda: ref.run(env, "shipped", path, data)[:3]
    if not ref.run(env, "same" if mode == "teacher" else "rollout", path, data)[3]:
        print(f"  ({env}: the reference runs without nltk, so its BLEU-4 costs nothing)")
    for run in sides.values():  # warm: fork server up, imports done, caches of the interpreters filled
        run()
    got: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
    names = list(sides)
    for k in range(runs):
        for name in names[k % len(names):] + names[: k % len(names)]:
            time.sleep(0.3)
            got[name].append(sides[name]())
    n = sum(min(len(t.transitions), HORIZON) if mode == "rollout" else len(t.transitions) for t in trajs)
    for name, rows in got.items():
        walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
        print(f"{env:<9} {mode:<7} {n:>4} {name:<16} {_fmt(walls):>18} {_fmt(cpus):>18}   {rows[-1][2]:.4f}")
    for label, name, mine in (("ratio", "reference", "sandbox"), ("ratio as shipped", "ref. as shipped", "sandbox"),
                              ("ratio vs evaluator", "ref. as shipped", "sandbox +post")):
        if name in got:
            base, ours = got[name], got[mine]
            print(f"{env:<9} {mode:<7} {'':>4} {label:<16} "
                  f"{'wall ' + _ratio([r[0] for r in base], [r[0] for r in ours]):>18} "
                  f"{'CPU ' + _ratio([r[1] for r in base], [r[1] for r in ours]):>18}   "
                  f"paired wall {_paired([r[0] for r in base], [r[0] for r in ours])}")


if __name__ == "__main__":
    main()
