"""Gold action sequences for SciWorld tasks: the expert's plan (spec §10, "gold path").

ScienceWorld makes a gold path only when a task is loaded with ``generateGoldPath=True``, which
takes 0.7-43 s and runs extra code inside the JVM. So gold paths never come from the live env's
engine: they are read from ``data/envs/sciworld/gold_paths.json`` (shipped, built by
``python -m patchworld.envs.sciworld_gold``: one fresh engine, tasks in ascending order) and,
for a task not in that table, computed on a separate lazily started engine (the recorder did the
same: a second ``ScienceWorldEnv`` for gold paths, replayed on the AgentGym instance).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache

from patchworld.envs.sciworld_engine import DATA_DIR, Engine, games

__all__ = ["GOLD_FILE", "shipped_gold_paths", "compute_gold_path", "GoldSource"]

GOLD_FILE = DATA_DIR / "gold_paths.json"


@cache
def shipped_gold_paths() -> dict[int, tuple[str, ...]]:
    """The shipped table ``data_idx -> gold actions`` (empty when the file is missing)."""
    if not GOLD_FILE.exists():
        return {}
    raw = json.loads(GOLD_FILE.read_text(encoding="utf-8"))
    return {int(k): tuple(v) for k, v in raw.items()}


def compute_gold_path(engine: Engine, data_idx: int) -> tuple[str, ...]:
    """Load ``data_idx`` with ``generateGoldPath=True`` on ``engine`` and return its gold action sequence."""
    game = games()[data_idx]
    sw = engine.sw
    sw.load(game["taskName"], game["variationIdx"], "", generateGoldPath=True)
    engine.state = None  # the loaded world is not an AgentGym reset
    return tuple(sw.get_gold_action_sequence())


class GoldSource:
    """Gold paths: the shipped table first, else computed on this source's own engine (started on demand)."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._computed: dict[int, tuple[str, ...]] = {}

    def __call__(self, data_idx: int) -> tuple[str, ...]:
        data_idx = data_idx % len(games())
        shipped = shipped_gold_paths().get(data_idx)
        if shipped is not None:
            return shipped
        if data_idx not in self._computed:
            self._engine = self._engine or Engine()
            self._computed[data_idx] = compute_gold_path(self._engine, data_idx)
        return self._computed[data_idx]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def main(argv: list[str] | None = None) -> int:
    """Compute gold paths for the given data_idx values (ascending, one fresh engine) and merge them into GOLD_FILE."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+", type=int, help="data_idx values")
    args = parser.parse_args(argv)
    table = {str(k): list(v) for k, v in shipped_gold_paths().items()}
    engine = Engine()
    try:
        for data_idx in sorted(set(args.tasks)):
            if str(data_idx) not in table:
                table[str(data_idx)] = list(compute_gold_path(engine, data_idx))
                print(f"{data_idx}: {len(table[str(data_idx)])} actions", file=sys.stderr, flush=True)
    finally:
        engine.close()
    ordered = {k: table[k] for k in sorted(table, key=int)}
    GOLD_FILE.write_text(json.dumps(ordered, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
