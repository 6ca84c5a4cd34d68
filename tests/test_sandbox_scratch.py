"""A program may use its scratch directory like a normal temp dir (tempfile, remove, rename, mkdir,
rmdir there), and still nothing outside it: the audit hook allows those calls only on scratch paths,
and the kernel layers stay what they are."""

from pathlib import Path

from patchworld.data import load_trajectories
from patchworld.program import Program
from patchworld.replay import replay

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = '''
import os, tempfile
from patchworld.worldmodel_base import BaseWorldModel

class M(BaseWorldModel):
    def __init__(self):
        d = tempfile.mkdtemp()
        p = os.path.join(d, "x.txt")
        open(p, "w").write("hi")
        os.rename(p, p + ".2")
        os.remove(p + ".2")
        os.rmdir(d)
        outcomes = ["scratch" if d.startswith(os.getcwd()) else "elsewhere"]
        for name, call in (("remove", lambda: os.remove(TARGET)), ("rename", lambda: os.rename(TARGET, TARGET + "x")),
                           ("mkdir", lambda: os.mkdir(TARGET + ".d"))):
            try:
                call()
                outcomes.append(name + " outside: DONE")
            except OSError:
                outcomes.append(name + " outside: refused")
        self.text = "; ".join(outcomes)
    def parse_observation(self, o): return o
    def extract_valid_action_forms(self): return []
    def init_belief(self): return {}
    def correct_belief(self, b, o): return b
    def predict_belief(self, b, a): return b
    def readout_observation(self, b, a=""): return self.text
'''


def test_temp_files_work_in_scratch_and_nothing_outside(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("keep")
    source = PROGRAM.replace("TARGET", repr(str(target)))
    trajs = load_trajectories(ROOT / "data" / "trajectories" / "maze" / "maze_traj_val.jsonl")[:1]
    result = replay(Program.from_source(source), trajs)
    assert result.outcome == "ok", result.detail
    assert result.steps["predicted"][0] == ("scratch; remove outside: refused; rename outside: refused; "
                                            "mkdir outside: refused")
    assert target.read_text() == "keep" and not (tmp_path / "keep.txt.d").exists()
