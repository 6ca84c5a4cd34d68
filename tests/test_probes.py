"""Predicate switching (patchworld.probes): every condition negated once, the critical ones blended into
localisation, and the search's first round on a program led by them."""

from __future__ import annotations

import ast

import pytest
from planted import no_probes, planted_session, run_until_repaired

from patchworld.gate import score_key
from patchworld.probes import critical_lines, switch_probes
from patchworld.program import Program
from patchworld.screening import SampleReplay, Screened, Survives

SOURCE = '''\
def helper(x):
    def inner(y):
        return y if y > 0 else -y
    while x > 10:
        x -= 1
    return inner(x)


class M:
    def parse_observation(self, text):
        if not text:
            return {}
        elif text.startswith("a"):
            return {"a": 1}
        return {"b": 2} if "b" in text else {"c": 3}
'''


def _children(probes: list) -> dict[int, str]:
    return {p.line: p.child for p in probes}


def test_every_condition_is_negated_once_in_its_own_child():
    probes = switch_probes(Program(SOURCE))
    children = _children(probes)
    assert sorted(children) == [3, 4, 11, 13, 15]          # the nested function's test is not doubled
    assert len(probes) == 5
    assert "return y if not (y > 0) else -y" in children[3]
    assert "while not (x > 10):" in children[4]
    assert "        if (text):" in children[11]            # `not c` becomes `(c)`, not `not (not c)`
    assert 'elif not (text.startswith("a")):' in children[13]
    assert 'if not ("b" in text) else' in children[15]
    for line, child in children.items():
        ast.parse(child)
        changed = [k for k, (a, b) in enumerate(zip(SOURCE.splitlines(), child.splitlines(), strict=True), 1)
                   if a != b]
        assert changed == [line]
    assert {p.function for p in probes} == {"inner", "helper", "parse_observation"}
    assert [p.note for p in probes][-1] == "negate '\"b\" in text'"
    assert switch_probes(Program("def f(:\n")) == []


def test_with_too_many_conditions_the_most_suspicious_lines_are_probed():
    class Suspicion:
        def at(self, line: int) -> float:
            return {11: 0.9, 15: 0.8, 3: 0.1}.get(line, 0.0)

    probes = switch_probes(Program(SOURCE), Suspicion(), k=2)
    assert [p.line for p in probes] == [11, 15]   # the two most suspicious, in source order


def _replay(ids: list[str], preds: list[str], exact: list[bool]) -> SampleReplay:
    return SampleReplay({"id": ids, "predicted": preds, "exact": exact})


def test_a_probe_is_critical_only_when_it_fixes_more_failures_than_it_breaks():
    probe = switch_probes(Program(SOURCE))
    a, b, c, d, e = probe
    # the parent fails f1..f4 and passes p1..p4
    parent = {**{f"f{i}": (False, "bad") for i in range(1, 5)}, **{f"p{i}": (True, "ok") for i in range(1, 5)}}
    ids = [*(f"f{i}" for i in range(1, 5)), *(f"p{i}" for i in range(1, 5))]
    fixes_two = _replay(ids, ["good", "good", "bad", "bad", "ok", "ok", "ok", "ok"],
                        [True, True, False, False, True, True, True, True])
    changes_without_fixing = _replay(ids, ["other"] * 4 + ["ok"] * 4, [False] * 4 + [True] * 4)
    fixes_one_breaks_two = _replay(ids, ["good", "bad", "bad", "bad", "no", "no", "ok", "ok"],
                                   [True, False, False, False, False, False, True, True])
    found = critical_lines(parent, [(a, fixes_two), (b, changes_without_fixing), (c, fixes_one_breaks_two),
                                    (d, RuntimeError("job failed")), (e, None)])
    assert set(found) == {a.line}
    assert 0.6 < found[a.line] <= 1.0
    # a probe screened out, or one that survived its screen, counts by its sample's rows
    assert critical_lines(parent, [(a, Screened(fixes_two, "rejected early", 8))]) == found
    assert critical_lines(parent, [(a, Survives(fixes_two))]) == found
    assert critical_lines(parent, [(a, Survives())]) == {}


@pytest.mark.slow
def test_an_inverted_parser_test_that_the_spectrum_ranks_below_its_readers_is_localised_by_its_probe(tmp_path,
                                                                                                   monkeypatch):
    """Wordle's feedback match negated: every step mispredicts, the parse line runs on every row (0.92) and
    ``predict_belief``'s lines, run on the failures, rank above it (0.94). The probe that negates the test
    back turns the failures exact: round 1 localises with it, ranks ``parse_observation`` first and accepts
    the proposer's negation there (probes are evidence, never candidates). Without probes the same round
    ranks another function first."""
    bug = (("        if _FEEDBACK.match(text):", "        if not (_FEEDBACK.match(text)):"),)
    session, original = planted_session("wordle", bug, tmp_path / "with")
    accepted = run_until_repaired(session, original, rounds=1)
    assert score_key(session.score) >= original
    first = session.store.rounds()[1]
    (suspicion,) = first["suspicion"].values()
    assert suspicion["method"] == "coverage+probes"
    assert max(suspicion["functions"], key=suspicion["functions"].get) == "parse_observation"
    assert [r["note"].split(" ")[0] for r in accepted] == ["parse_observation:27"]
    assert not any(r["origin"].startswith("probe") for r in session.store.candidates())

    no_probes(monkeypatch)
    session, original = planted_session("wordle", bug, tmp_path / "without")
    run_until_repaired(session, original, rounds=1)
    (suspicion,) = session.store.rounds()[1]["suspicion"].values()
    assert suspicion["method"] == "coverage"
    assert max(suspicion["functions"], key=suspicion["functions"].get) != "parse_observation"
