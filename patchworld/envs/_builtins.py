"""Imports every built-in env module so each registers itself."""

import importlib

for _module in ("maze", "wordle", "textcraft", "babyai"):
    try:
        importlib.import_module(f"patchworld.envs.{_module}")
    except ModuleNotFoundError as exc:  # an env module not written yet, during development
        if exc.name != f"patchworld.envs.{_module}":
            raise
