"""Escape: leave a directory tree 1,500 levels deep in scratch (mkdir, chdir, repeat): the parent removing
the scratch directory with shutil.rmtree recursed once per level and died with RecursionError (replay
raised, and the tree stayed behind in /tmp)."""
import os


def _escape():
    depth = 0
    try:
        while depth < 1500:
            os.mkdir("d")
            os.chdir("d")
            depth += 1
        return f"tree ok {depth} deep"
    except OSError as exc:
        return f"tree blocked at {depth}: {exc}"
