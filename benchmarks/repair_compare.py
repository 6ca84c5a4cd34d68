"""Paired comparison of two repair benchmark runs: which planted-bug programs each version repaired.

Two runs of ``benchmarks/repair.py --json`` with the same command (same seed, programs and sizes)
plant the same bugs, so the programs can be matched one by one (by env, bug labels and, when one
file holds the same bugs twice, their order). Totals hide how a search change works: a change that
repairs two new programs and loses two others prints the same count. This prints, per number of
bugs, programs repaired by both, by A only, by B only and by neither; the median rounds and wall
seconds to repair over the programs both repaired (the same programs, so the medians compare);
then every program only one side repaired, with the rounds each took. Programs in one file only
(different commands) are counted and named, never paired.

    .venv/bin/python benchmarks/repair_compare.py base.json new.json [--names base,new]

A file that is missing, not JSON or has a row without a field this needs gets a one-line error
naming the file and the row; the exit status is then 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FIELDS = ("env", "bugs", "n_bugs", "repaired", "rounds", "seconds")
Key = tuple[str, str, int]


class InputError(Exception):
    """A run file this script cannot read (the message names the file and the row)."""


def load_rows(path: Path) -> dict[Key, dict[str, Any]]:
    """The rows of one ``repair.py --json`` file by (env, bug labels, occurrence)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(rows, list):
        raise InputError(f"{path}: line 1: expected a list of rows (repair.py --json), got {type(rows).__name__}")
    out: dict[Key, dict[str, Any]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    for k, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InputError(f"{path}: row {k}: expected an object, got {type(row).__name__}")
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise InputError(f"{path}: row {k}: missing field {missing[0]!r}")
        pair = (str(row["env"]), str(row["bugs"]))
        out[(*pair, seen[pair])] = row
        seen[pair] += 1
    return out


def compare(a: dict[Key, dict[str, Any]], b: dict[Key, dict[str, Any]], names: tuple[str, str]) -> list[str]:
    """The report's lines (see the module docstring)."""
    na, nb = names
    lines = []
    shared = [key for key in a if key in b]
    for n in sorted({a[key]["n_bugs"] for key in shared}):
        group = [key for key in shared if a[key]["n_bugs"] == n]
        both = [key for key in group if a[key]["repaired"] and b[key]["repaired"]]
        only_a = [key for key in group if a[key]["repaired"] and not b[key]["repaired"]]
        only_b = [key for key in group if b[key]["repaired"] and not a[key]["repaired"]]
        neither = len(group) - len(both) - len(only_a) - len(only_b)
        line = (f"{n}-bug programs: {len(group)} paired; repaired by both {len(both)}, {na} only {len(only_a)}, "
                f"{nb} only {len(only_b)}, neither {neither} ({na} {len(both) + len(only_a)}, "
                f"{nb} {len(both) + len(only_b)})")
        if both:
            line += (f"; over the {len(both)} both repaired, median rounds {_median(a, both, 'rounds')} vs "
                     f"{_median(b, both, 'rounds')}, median seconds {_median(a, both, 'seconds')} vs "
                     f"{_median(b, both, 'seconds')}")
        lines.append(line)
        for who, keys in ((na, only_a), (nb, only_b)):
            for key in keys:
                lines.append(f"  {who} only: {key[0]:9} {na} {_outcome(a[key])}, {nb} {_outcome(b[key])}  {key[1]}")
    for who, mine, other in ((na, a, b), (nb, b, a)):
        alone = [key for key in mine if key not in other]
        if alone:
            lines.append(f"{len(alone)} programs only in {who}'s file (not paired), e.g. {alone[0][0]} {alone[0][1]}")
    return lines


def _median(rows: dict[Key, dict[str, Any]], keys: list[Key], field: str) -> str:
    return f"{statistics.median(float(rows[key][field]) for key in keys):g}"


def _outcome(row: dict[str, Any]) -> str:
    return f"{'repaired' if row['repaired'] else 'not repaired'} after {row['rounds']} rounds"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path, help="repair.py --json file of version A")
    ap.add_argument("b", type=Path, help="repair.py --json file of version B")
    ap.add_argument("--names", default="A,B", help="two names for the report, comma-separated")
    args = ap.parse_args(argv)
    names = tuple(args.names.split(","))
    if len(names) != 2 or not all(names):
        ap.error(f"--names {args.names!r}: expected two names separated by one comma")
    try:
        a, b = load_rows(args.a), load_rows(args.b)
    except InputError as exc:
        print(f"repair_compare: {exc}", file=sys.stderr)
        return 2
    for line in compare(a, b, (names[0], names[1])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
