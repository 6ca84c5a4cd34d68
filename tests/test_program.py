"""Programs: hashing, provenance, and the loader's outcomes."""

from __future__ import annotations

from pathlib import Path

from patchworld.program import LoadFailure, Program, load_world_model
from patchworld.worldmodel_base import BaseWorldModel, GraphState

HOSTILE = Path(__file__).parent / "hostile"


def test_hash_is_content_based_and_provenance_is_kept() -> None:
    a = Program.from_source("x = 1\n", origin="manual", parent="abc")
    assert a.hash == Program.from_source("x = 1\n").hash and len(a.hash) == 12
    assert a.hash != Program.from_source("x = 2\n").hash
    assert (a.origin, a.parent) == ("manual", "abc")
    f = Program.from_file(HOSTILE / "good_maze.py")
    assert f.origin.startswith("file:") and f.label == "good_maze"


def test_reference_style_program_loads_and_runs() -> None:
    model = load_world_model(Program.from_file(HOSTILE / "good_maze.py").source)
    assert isinstance(model, BaseWorldModel) and type(model).__name__ == "MazeWorldModel"
    belief = model.init_belief_from_observation("The goal is at position 2, 1. Your current position is at position 1, 1.")
    assert isinstance(belief, GraphState)
    assert model.predict_observation(belief, "move down") == "Success"


def test_helper_base_and_imported_classes_are_not_extra_models() -> None:
    source = '''
from collections import OrderedDict
from patchworld.worldmodel_base import BaseWorldModel, GraphState

class _Common(BaseWorldModel):
    def correct_belief(self, b, o):
        return b

class Model(_Common):
    def predict_belief(self, b, a):
        return b
    def readout_observation(self, b, a=""):
        return "ok"
'''
    model = load_world_model(source)
    assert type(model).__name__ == "Model"


def _failure(name: str) -> LoadFailure:
    result = load_world_model((HOSTILE / f"{name}.py").read_text())
    assert isinstance(result, LoadFailure), result
    return result


def test_load_failures_are_values_with_locations() -> None:
    syntax = _failure("syntax_error")
    assert syntax.kind == "syntax" and "line 4" in syntax.message
    assert _failure("no_class").kind == "no_class"
    two = _failure("two_classes")
    assert two.kind == "several_classes" and "Model, OtherModel" in two.message
    missing = _failure("missing_import")
    assert missing.kind == "import" and "line 3" in missing.message
    init = load_world_model("class M:\n    def __init__(self):\n        raise RuntimeError('nope')\n"
                            "    def predict_belief(self, b, a): return b\n    def correct_belief(self, b, o): return b\n"
                            "    def readout_observation(self, b, a=''): return ''\n")
    assert isinstance(init, LoadFailure) and init.kind == "init" and "line 3" in init.message
