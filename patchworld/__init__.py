"""PatchWorld workbench: induce executable world models of text agents by local patches.

The public API is re-exported here lazily (PEP 562): ``import patchworld`` stays cheap and
notebooks pull in only what they use (BabyAI's minigrid, plotly, the openai client).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "patchworld.data": ("Transition", "Trajectory", "TrajectoryFormatError", "load_trajectories",
                        "save_trajectories", "to_frame"),
    "patchworld.envs": ("make", "registered"),
    "patchworld.program": ("Program", "ProgramLoadError"),
    "patchworld.worldmodel_base": ("BaseWorldModel", "GraphState"),
    "patchworld.replay": ("replay", "Replay"),
    "patchworld.sandbox": ("Limits", "open_model", "ModelClient", "Prediction"),
    "patchworld.residual": ("ResidualMemory",),
    "patchworld.counterexamples": ("Counterexample", "select_counterexamples"),
    "patchworld.metrics": ("token_f1", "exact_match", "bleu4"),
    "patchworld.patches": ("Edit", "Patch", "PatchError", "apply_patch", "patch_from_sources", "unified_diff",
                           "side_by_side_html"),
    "patchworld.proposers": ("Proposer", "ProposalRequest", "Proposal", "MutationProposer", "LLMProposer",
                             "ManualProposer", "manual_patch"),
    "patchworld.synthesis": ("Session",),
    "patchworld.gate": ("Verdict", "RoundResult", "compare"),
    "patchworld.store": ("RunStore", "Run", "load_run"),
    "patchworld.report": ("write_report",),
    "patchworld.demo": ("run_demo",),
    "patchworld.planning": ("run_episodes", "PerfectWorldModel", "ProgressChooser", "LLMChooser"),
    "patchworld.agents": ("LookaheadAgent", "SearchAgent"),
    "patchworld.evaluate": ("evaluate", "save_results", "load_results"),
    "patchworld.viz": ("pareto_figure", "horizon_figure", "round_curve", "results_table"),
    "patchworld.export": ("export_figures",),
    "patchworld.views": ("CandidateView", "candidate_view", "candidates_table", "counterexample_rows",
                         "counterexamples_html", "metric_deltas"),
    "patchworld.workbench": ("open_session", "save_manual_edit", "load_edit_target", "make_proposer"),
}
_ALIASES = {"make_env": ("patchworld.envs", "make"), "registered_envs": ("patchworld.envs", "registered")}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names if module != "patchworld.envs"}

__all__ = sorted([*_WHERE, *_ALIASES, "__version__"])

# `replay` and `evaluate` are both a submodule and a function. Importing a submodule binds it on the
# package (``setattr(patchworld, "replay", <module>)``), which would shadow the function; the package's
# class refuses exactly that binding, so ``patchworld.replay`` is always the function, resolved lazily
# (importing them eagerly cost every ``import patchworld`` polars: ~0.2 s before a notebook's first view).
# To get the modules themselves, use importlib.import_module("patchworld.replay").
_FUNCTIONS_NAMED_LIKE_SUBMODULES = frozenset({"replay", "evaluate"})


class _Package(types.ModuleType):
    """This package's module type: submodule bindings never replace a public function of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_NAMED_LIKE_SUBMODULES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    if name in _ALIASES:
        module, attr = _ALIASES[name]
        return getattr(importlib.import_module(module), attr)
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'patchworld' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
