"""`make demo-llm`: `induce --proposer llm` on the maze demo against a real model served by llama.cpp here.

Starts llama-cpp-python's server on 127.0.0.1 (a free port) with ``--model-file``, runs induce, stops the
server, and prints what the LLM did, per round and in total: replies usable (after re-asks), patches
applied, accepted, val token F1 before and after, seconds per round (and how many of them were spent
waiting for the LLM). Replies are cached (``--cache-dir``), so a second run replays without the server's
time. Opt-in (not in CI): a 1.5B model on 2 CPU cores takes minutes per round.

    python benchmarks/llm_demo.py --server-python PY --model-file GGUF --out runs/demo-llm [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


def summary(run: Path) -> str:
    """A Markdown table of one induce run folder: per round and in total."""
    cands = _lines(run / "candidates.jsonl")
    rounds = {r["round"]: r for r in _lines(run / "rounds.jsonl")}
    before = rounds.get(0, {}).get("val_token_f1")
    rows = ["| round | replies | usable | applied | accepted | val token F1 after | seconds (LLM wait) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    total = {"n": 0, "usable": 0, "applied": 0, "accepted": 0}
    for r in sorted(k for k in rounds if k > 0):
        mine = [c for c in cands if c["round"] == r]
        usable = sum(1 for c in mine if not c["reason"].startswith("no patch"))
        applied = sum(1 for c in mine if c["child"])
        accepted = sum(1 for c in mine if c["accepted"])
        for key, value in (("n", len(mine)), ("usable", usable), ("applied", applied), ("accepted", accepted)):
            total[key] += value
        info = rounds[r]
        rows.append(f"| {r} | {len(mine)} | {usable} | {applied} | {accepted} | {info['val_token_f1']:.3f} | "
                    f"{info.get('seconds', 0):.0f} ({info.get('propose_seconds', 0):.0f}) |")
    after = rounds[max(rounds)]["val_token_f1"] if rounds else None
    rows.append(f"| total | {total['n']} | {total['usable']} | {total['applied']} | {total['accepted']} | "
                f"{before if before is None else f'{before:.3f}'} -> {after if after is None else f'{after:.3f}'} | |")
    reasons = [c["reason"][:110] for c in cands if c["reason"].startswith("no patch")]
    if reasons:
        rows.append("\nunusable replies (first reasons):\n" + "\n".join(f"- {r}" for r in reasons[:8]))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server-python", required=True, help="python of the venv with llama_cpp.server")
    ap.add_argument("--model-file", required=True, help="the GGUF to serve")
    ap.add_argument("--alias", default="qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--out", default="runs/demo-llm")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=2)
    ap.add_argument("--counterexamples", type=int, default=6)
    ap.add_argument("--edit-format", default="auto")
    ap.add_argument("--threads", type=int, default=None,
                    help="llama.cpp threads (default 2, or 1 when other jobs already fill the CPU: its threads spin-wait)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="--llm-timeout (a whole-file reply on a CPU is slow)")
    ap.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "patchworld" / "llm"))
    args = ap.parse_args(argv)
    if args.threads is None:
        args.threads = 2 if os.getloadavg()[0] < (os.cpu_count() or 2) else 1
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    port = _free_port()
    log = out.parent / f"{out.name}-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [args.server_python, "-m", "llama_cpp.server", "--model", args.model_file, "--model_alias", args.alias,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", str(args.threads)]
    with log.open("w") as f:
        server = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    print(f"llm_demo: the server did not start (see {log})", file=sys.stderr)
                    return 2
                time.sleep(1)
        start = time.perf_counter()
        induce = [sys.executable, "-m", "patchworld.cli", "induce", "--env", "maze", "--proposer", "llm",
                  "--program", str(ROOT / "data" / "programs" / "maze_flawed.py"), "--out", str(out),
                  "--model", args.alias, "--base-url", url, "--cache-dir", args.cache_dir,
                  "--rounds", str(args.rounds), "--patience", str(args.rounds), "--candidates", str(args.candidates),
                  "--counterexamples", str(args.counterexamples), "--workers", "1",
                  "--llm-edit-format", args.edit_format, "--llm-max-malformed", "0", "--llm-timeout", str(args.timeout)]
        env = {**os.environ, "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", "none-needed")}
        done = subprocess.run(induce, env=env, text=True, capture_output=True)
        print(done.stdout)
        if done.returncode:
            print(done.stderr, file=sys.stderr)
        print(f"model {args.alias} ({Path(args.model_file).name}), {args.threads} threads, "
              f"{time.perf_counter() - start:.0f} s in all\n")
        print(summary(out))
        return done.returncode
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
