"""The README's Python tour runs as written (paths relative to the repository root)."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python block"
    code = blocks[0].replace('"runs/mine"', repr(str(tmp_path / "run")))
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["result"].metrics["n_transitions"] == namespace["result"].steps.height
    assert namespace["verdict"].accepted, namespace["verdict"].reason
    assert os.path.exists(tmp_path / "run" / "candidates.jsonl")
