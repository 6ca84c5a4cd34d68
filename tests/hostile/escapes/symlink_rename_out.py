"""Escape: leave scratch through names it creates: a symlink to the repository written through, a
scratch file renamed into the run folder, a directory renamed over the cache."""
# ruff: noqa: F821  (REPO, RUN_DIR, CACHE_DIR, TOKEN are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    out = []
    try:
        os.symlink(os.path.join(REPO, "patchworld"), "pkg")
        with open(os.path.join("pkg", f"escaped_{TOKEN}.py"), "w") as fh:
            fh.write("backdoor")
        out.append("symlink write ok")
    except OSError as exc:
        out.append(f"symlink write blocked {exc}")
    open("line.jsonl", "w").write('{"accepted": true}\n')
    for target in (os.path.join(RUN_DIR, "candidates.jsonl"), os.path.join(CACHE_DIR, f"escaped_{TOKEN}")):
        try:
            os.rename("line.jsonl", target)
            out.append(f"rename {target} ok")
        except OSError as exc:
            out.append(f"rename blocked {exc}")
    return "; ".join(out)
