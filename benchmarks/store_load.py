"""How long ``load_run`` takes on a run folder with thousands of candidates (the wide search writes ~64 a round).

Runs one real round of the wide search on maze (``maze_flawed.py``, mutation proposer, 64 candidates)
into a temporary run folder, then grows its logs to ``--candidates`` candidate lines (the round's lines
repeated with fresh ids, one round record per 64) and times :func:`patchworld.store.load_run` on it:
median [min-max] of ``--runs`` loads, wall seconds, in this process after a first warm load.

    .venv/bin/python benchmarks/store_load.py [--candidates 5000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from patchworld.data import load_trajectories  # noqa: E402
from patchworld.program import Program  # noqa: E402
from patchworld.proposers.mutation import MutationProposer  # noqa: E402
from patchworld.store import load_run  # noqa: E402
from patchworld.synthesis import Session  # noqa: E402


def _grow(run: Path, n: int) -> None:
    """Repeat the run's candidate lines (fresh ids, a round per 64) until there are ``n``."""
    lines = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines() if line.strip()]
    rounds = [json.loads(line) for line in (run / "rounds.jsonl").read_text().splitlines() if line.strip()]
    out, round_records = [], [rounds[0]]
    while len(out) < n:
        r = len(round_records)
        for record in lines[: n - len(out)]:
            out.append({**record, "round": r, "candidate_id": f"r{r:04d}c{len(out):05d}", "accepted": False})
        round_records.append({**rounds[-1], "round": r, "accepted": False})
    (run / "candidates.jsonl").write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in out))
    (run / "rounds.jsonl").write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in round_records))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = ROOT / "data" / "trajectories" / "maze"
    train, val = (load_trajectories(folder / f"maze_traj_{s}.jsonl") for s in ("train", "val"))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_flawed.py")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        session = Session("maze", train, val, program=program, proposer=MutationProposer(seed=0), run_dir=run,
                          n_candidates=64, search="beam")
        session.step()
        session.close()
        _grow(run, args.candidates)
        load_run(run)   # warm: imports, page cache
        walls, loaded = [], None
        for _ in range(args.runs):
            start = time.perf_counter()
            loaded = load_run(run)
            walls.append(time.perf_counter() - start)
    assert loaded is not None
    print(f"load_run on {loaded.candidates.height} candidates in {loaded.rounds.height} rounds: "
          f"{statistics.median(walls):.3f} s [{min(walls):.3f}-{max(walls):.3f}] (median [min-max] of {args.runs})")


if __name__ == "__main__":
    main()
