"""A crash is blamed back to where its value was stored: the writers of the belief keys the crash
line read (patchworld.dataflow), and the search repairs an inverted test found that way."""

from __future__ import annotations

from pathlib import Path

from patchworld.dataflow import KeyFlow, crash_writers

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''\
class M:
    def parse(self, text):
        return {"description": text if "room" in text else None,
                "goal": text[:4]}

    def correct(self, belief, text):
        parsed = self.parse(text)
        new = dict(belief)
        if parsed["description"] is None:
            new["description"] = parsed["description"]
        new["other"] = 1
        return new

    def predict(self, belief, action):
        desc = belief.get("description", "")
        n = belief["other"]
        return desc + "!"
'''


def test_the_writers_of_a_key_read_through_a_local_name_and_their_guard_are_found():
    flow = KeyFlow(SOURCE)
    crash = SOURCE.splitlines().index('        return desc + "!"') + 1
    assert flow.keys_at(crash) == {"description"}           # desc = belief.get("description", ""); not "other"
    writers = flow.writers(crash)
    line = {text.strip(): k + 1 for k, text in enumerate(SOURCE.splitlines())}
    assert line['if parsed["description"] is None:'] in writers        # the guard of the write
    assert line['new["description"] = parsed["description"]'] in writers
    assert line['return {"description": text if "room" in text else None,'] in writers   # a dict literal's key
    assert line['new["other"] = 1'] not in writers and line['"goal": text[:4]}'] not in writers
    assert crash_writers("def broken(:\n", [1]) == {}


def test_an_inverted_test_upstream_of_a_crash_is_localised_and_repaired(tmp_path):
    from patchworld.data import load_trajectories
    from patchworld.gate import score, score_key
    from patchworld.localise import localise
    from patchworld.program import Program
    from patchworld.proposers.mutation import MutationProposer
    from patchworld.replay import replay
    from patchworld.synthesis import Session

    source = (ROOT / "data/programs/handwritten/babyai.py").read_text(encoding="utf-8")
    guard = '        if parsed["description"] is not None:\n'
    assert source.count(guard) == 1
    buggy = Program(source.replace(guard, guard.replace("is not", "is")))   # stores None; predict_belief crashes
    folder = ROOT / "data/trajectories/babyai"
    train, val = (load_trajectories(folder / f"babyai_traj_{s}.jsonl") for s in ("train", "val"))
    original = score_key(score(replay(Program(source), val)))
    parent = replay(buggy, val, lean=True, trace_lines=True)
    assert "exception" in parent.steps.get_column("error_kind").to_list()
    guard_line = source[:source.index(guard)].count("\n") + 1
    susp = localise(buggy.source, parent.steps, parent.lines)
    crash_line = source[:source.index('new["pred"] = desc + (')].count("\n") + 1   # where it raises
    (lo, hi), = susp.spans["correct_belief"]
    writers = KeyFlow(buggy.source).writers(crash_line)
    others = [v for n, v in susp.lines.items() if lo < n <= hi and n not in writers]
    assert susp.at(guard_line) >= 0.99 > max(others)   # as blamed as the crash site, above its neighbours
    assert max(susp.functions, key=susp.functions.get) == "predict_belief"   # the function that crashed
    session = Session("babyai", train, val, program=buggy, proposer=MutationProposer(seed=0), run_dir=tmp_path / "run",
                      n_candidates=64, search="beam")
    res = session.step()
    session.close()
    assert res.accepted is not None and res.accepted.note.startswith(f"correct_belief:{guard_line} "), \
        res.accepted and res.accepted.note
    assert score_key(session.score) >= original
