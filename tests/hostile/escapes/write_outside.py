"""Escape: write into the repository, the run folder, the LLM cache and the home directory."""
# ruff: noqa: F821  (TOKEN, REPO, TEST_PID... are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    out = []
    for folder in (REPO, os.path.join(REPO, "patchworld"), RUN_DIR, CACHE_DIR, HOME_DIR):
        target = os.path.join(folder, f"escaped_{TOKEN}.py")
        for what, call in (("open", lambda t=target: open(t, "w").write("backdoor")),
                           ("mkdir", lambda t=target: os.mkdir(t + ".d")),
                           ("mkfifo", lambda t=target: os.mkfifo(t + ".fifo")),
                           ("utime", lambda f=folder: os.utime(f)),
                           ("sqlite", lambda t=target: __import__("sqlite3").connect(t + ".db").execute(
                               "create table x(y)"))):
            try:
                call()
                out.append(f"{what} {folder} ok")
            except Exception as exc:
                out.append(f"{what} blocked {type(exc).__name__}: {str(exc)[:50]}")
    for existing in (os.path.join(RUN_DIR, "candidates.jsonl"), os.path.join(CACHE_DIR, "entry.json")):
        try:
            with open(existing, "a") as fh:
                fh.write('{"accepted": true}\n')
            out.append("append ok")
        except Exception as exc:
            out.append(f"append blocked {type(exc).__name__}: {str(exc)[:50]}")
    return "; ".join(out)
