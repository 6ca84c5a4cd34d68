"""Replay speed with the lockstep sandbox vs the reference's evaluator, on the shipped test splits.

Run::

    git clone https://github.com/HKBU-KnowComp/PatchWorld /tmp/pw-reference   # any checkout of it
    python3.11 -m venv /tmp/pw-ref-venv && /tmp/pw-ref-venv/bin/pip install nltk==3.9.1  # its BLEU dependency
    .venv/bin/python benchmarks/replay.py --reference /tmp/pw-reference \
        --reference-python /tmp/pw-ref-venv/bin/python [--runs 5]

For each of ``data/trajectories/{maze,wordle,textcraft,babyai}/*_test.jsonl`` and the program
``data/programs/handwritten/<env>.py``, teacher-forced (RQ1) and rollout (RQ2) replay is timed:

* ``sandbox``: ``replay()`` in a sandboxed worker, lockstep protocol, every metric computed.
  CPU = this process plus the fork server and the workers it reaped (``/proc/<pid>/stat``).
* ``in-process``: ``replay(sandbox=False)``, the same code with no worker.
* ``reference``: the reference's own evaluator (``compute_observation_fit`` for teacher mode,
  ``compute_autoregressive_rollout_token_f1`` for rollout) loading the same program with its own
  loader, in a separate interpreter that imports the reference checkout (nothing of it is copied
  here); timed inside that interpreter, around the evaluator call only. ``--reference-python``
  is an interpreter with the reference's declared ``nltk`` (its BLEU-4); without it the
  reference's BLEU-4 is skipped (free), which favours the reference, and the table says so.

Every figure is the median of ``--runs`` (>= 5) runs, wall and CPU side by side; the ratio is
reference wall / sandbox wall (above 1: the sandbox is faster). No asserts: numbers only.
Teacher mode is like for like (both replay and score every transition). Rollout is not: the
reference rolls each trajectory out for at most 15 steps and computes token F1 at 7 horizons only,
while ``replay(mode="rollout")`` predicts every transition and computes every metric (and the
sandbox's fixed cost per job, a forked and isolated worker, weighs most on such small work).
The machine's load average is printed: on a shared machine wall times stretch with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from patchworld.data import load_trajectories
from patchworld.program import Program
from patchworld.replay import replay
from patchworld.sandbox import shutdown_pool

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("maze", "wordle", "textcraft", "babyai")
_REFERENCE = r'''
import json, sys, time
from pathlib import Path
from patchworld.worldmodel_data import load_trajectories
from patchworld.worldmodel_evaluator import compute_autoregressive_rollout_token_f1, compute_observation_fit
from patchworld.worldmodel_validator import load_model_from_code

program, data, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
trajs = load_trajectories([Path(data)])
code = Path(program).read_text()
out = {}
for mode, fn in (("teacher", compute_observation_fit), ("rollout", compute_autoregressive_rollout_token_f1)):
    rows = []
    for _ in range(runs):
        model, err = load_model_from_code(code)
        assert model is not None, err
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(model, trajs)
        rows.append([time.perf_counter() - wall, time.process_time() - cpu])
    out[mode] = {"runs": rows, "f1": result.get("mean_token_f1", result.get("rollout_auc_token_f1"))}
out["n"] = sum(len(t.transitions) for t in trajs)
import patchworld.worldmodel_evaluator as evaluator
out["bleu"] = evaluator.sentence_bleu is not None
print(json.dumps(out))
'''


def _server_cpu() -> float:
    """CPU seconds of the fork server and the workers it has reaped (0.0 if there is none)."""
    from patchworld.sandbox import pool

    server = pool._POOL.server
    if server is None:
        return 0.0
    try:
        fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def _ours(program: Program, trajs: list, mode: str, sandbox: bool, runs: int) -> tuple[float, float, float]:
    """Median wall, median CPU and token F1 of ``runs`` replays."""
    walls, cpus, f1 = [], [], 0.0
    replay(program, trajs[:2], mode=mode, sandbox=sandbox)  # warm: fork server up, imports done
    for _ in range(runs):
        time.sleep(0.3)  # the previous job's worker is reaped and the spare is up, as between two edits
        server0, cpu0, wall0 = _server_cpu(), time.process_time(), time.perf_counter()
        result = replay(program, trajs, mode=mode, sandbox=sandbox)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        if sandbox:
            time.sleep(0.2)  # let the fork server reap the worker, so its CPU is counted
            cpu += _server_cpu() - server0
        walls.append(wall)
        cpus.append(cpu)
        f1 = result.metrics["token_f1_covered"] if mode == "teacher" else result.metrics["rollout_auc"]
        if result.outcome != "ok":
            print(f"    warning: {result.outcome}: {result.detail[:120]}", file=sys.stderr)
    return statistics.median(walls), statistics.median(cpus), f1


def _reference(checkout: Path, python: str, program: Path, data: Path, runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["PYTHONPATH"] = str(checkout)
    done = subprocess.run([python, "-c", _REFERENCE, str(program), str(data), str(runs)], env=env,
                          capture_output=True, text=True, cwd=str(checkout), timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the reference evaluator failed on {data.name}: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a checkout of HKBU-KnowComp/PatchWorld")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="an interpreter with the reference's dependencies (nltk); default: this one")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5 (medians)")
    if not (args.reference / "patchworld" / "worldmodel_evaluator.py").is_file():
        parser.error(f"--reference {args.reference}: no patchworld/worldmodel_evaluator.py there")
    print(f"median of {args.runs} runs; wall and CPU in ms; ratio = reference wall / sandbox wall; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'env':<10} {'mode':<8} {'n':>5} {'sandbox':>15} {'in-process':>15} {'reference':>15} {'ratio':>6} "
          f"{'F1 ours/ref':>12}")
    for env in ENVS:
        data = next(iter(sorted((ROOT / "data" / "trajectories" / env).glob("*_test.jsonl"))))
        path = ROOT / "data" / "programs" / "handwritten" / f"{env}.py"
        program, trajs = Program.from_file(path), load_trajectories(data)
        ref = _reference(args.reference, args.reference_python, path, data, args.runs)
        if not ref["bleu"]:
            print(f"  ({env}: the reference runs without nltk, so its BLEU-4 costs nothing)")
        for mode in ("teacher", "rollout"):
            sb_wall, sb_cpu, f1 = _ours(program, trajs, mode, True, args.runs)
            ip_wall, ip_cpu, _ = _ours(program, trajs, mode, False, args.runs)
            ref_wall = statistics.median(r[0] for r in ref[mode]["runs"])
            ref_cpu = statistics.median(r[1] for r in ref[mode]["runs"])
            n = sum(len(t.transitions) for t in trajs)
            print(f"{env:<10} {mode:<8} {n:>5} {sb_wall * 1e3:>7.0f} / {sb_cpu * 1e3:<5.0f} "
                  f"{ip_wall * 1e3:>7.0f} / {ip_cpu * 1e3:<5.0f} {ref_wall * 1e3:>7.0f} / {ref_cpu * 1e3:<5.0f} "
                  f"{ref_wall / sb_wall:>6.2f} {f1:>5.3f}/{float(ref[mode]['f1'] or 0):.3f}")
    shutdown_pool()


if __name__ == "__main__":
    main()
