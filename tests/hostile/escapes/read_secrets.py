"""Escape: read ~/.ssh, the LLM cache, the trajectories and the parents' environments."""
# ruff: noqa: F821  (TOKEN, REPO, TEST_PID... are set by tests/test_escapes.py, which splices this file)
import os


def _escape():
    out = []
    paths = [os.path.join(HOME_DIR, ".ssh", "id_rsa"), os.path.join(CACHE_DIR, "entry.json"),
             f"/proc/{os.getppid()}/environ", f"/proc/{TEST_PID}/environ", "/proc/self/../1/environ",
             os.path.join(REPO, "data", "trajectories", "maze", "maze_traj_test.jsonl")]
    for path in paths:
        try:
            with open(path, "rb") as fh:
                out.append(f"read {path}: " + fh.read(400).decode("utf-8", "replace"))
        except Exception as exc:
            out.append(f"read blocked {type(exc).__name__}: {str(exc)[:50]}")
    out.append("env " + ",".join(f"{k}={v}" for k, v in os.environ.items()))
    return "; ".join(out)
