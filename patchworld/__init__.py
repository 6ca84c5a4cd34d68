"""PatchWorld workbench: induce executable world models of text agents by local patches.

The public API is re-exported here lazily (PEP 562), so ``import patchworld`` stays cheap
and notebooks can pull only what they use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    "Transition": "patchworld.data",
    "Trajectory": "patchworld.data",
    "TrajectoryFormatError": "patchworld.data",
    "load_trajectories": "patchworld.data",
    "save_trajectories": "patchworld.data",
    "to_frame": "patchworld.data",
    # environments
    "make_env": "patchworld.envs",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name == "make_env":
        return importlib.import_module("patchworld.envs").make
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patchworld' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
