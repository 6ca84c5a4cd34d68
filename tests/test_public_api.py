"""The curated public API: every name in ``patchworld.__all__`` resolves, and the issue's API works."""

import subprocess
import sys

import patchworld


def test_every_exported_name_resolves():
    missing = [name for name in patchworld.__all__ if getattr(patchworld, name, None) is None]
    assert missing == []
    assert "replay" in patchworld.__all__ and "Session" in patchworld.__all__


def test_import_is_cheap():
    code = ("import sys, patchworld; "
            "print(sorted(m for m in ('minigrid', 'plotly', 'openai', 'polars') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_issue_api_replays_a_shipped_program(tmp_path):
    trajs = patchworld.load_trajectories("data/trajectories/maze/maze_traj_val.jsonl")[:3]
    program = patchworld.Program.from_file("data/programs/maze_reference.py")
    result = patchworld.replay(program, trajs, mode="teacher", sandbox=True)
    assert result.steps.height == sum(len(t) for t in trajs)
    assert {"token_f1", "exact_match", "bleu4", "coverage", "n_transitions"} <= set(result.metrics)
    assert result.metrics["n_transitions"] == result.steps.height


def test_function_names_are_not_shadowed_by_submodules():
    import patchworld.evaluate  # noqa: F401
    import patchworld.replay  # noqa: F401

    assert callable(patchworld.replay) and callable(patchworld.evaluate)
    assert patchworld.replay.__module__ == "patchworld.replay"


def test_submodule_imported_after_the_package_does_not_shadow_the_function():
    # in a fresh interpreter, so the submodules are first imported after `import patchworld`
    code = """
import importlib, types, patchworld
import patchworld.replay
import patchworld.evaluate as ev
from patchworld import replay
assert callable(patchworld.replay) and patchworld.replay is replay, patchworld.replay
assert callable(ev) and ev.__name__ == "evaluate", ev
assert isinstance(importlib.import_module("patchworld.replay"), types.ModuleType)
from patchworld.replay import Replay
patchworld.other_name = 1   # ordinary attributes are still settable
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
