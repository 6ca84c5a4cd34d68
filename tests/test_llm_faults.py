"""Every LLM server fault ends as an outcome, never a traceback: a bounded retry, an error proposal,
or one line naming the server, the status and the remedy (exit code 2, a resumable run folder).
Each test here is a row of the README's "LLM faults" and "OpenAI-compatible servers" tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from stub_llm import Reply, StubLLM, stub_llm  # noqa: F401  (stub_llm is a fixture)

from patchworld.counterexamples import Counterexample
from patchworld.program import Program
from patchworld.proposers.base import ProposalRequest
from patchworld.proposers.llm import ContextOverflow, LLMError, LLMProposer
from patchworld.proposers.llm_client import ChatClient, RequestFailed, RetryBudget

SRC = '''class Model:
    def predict_belief(self, belief, action):
        return belief

    def readout_observation(self, belief, action=""):
        return "at 1"

    def correct_belief(self, belief, obs):
        return belief
'''
GOOD = "Fix.\n<<<<<<< SEARCH\n        return \"at 1\"\n=======\n        return \"at 2\"\n>>>>>>> REPLACE\n"
CX = Counterexample("maze/0/0", 0, "o", "move up", "{}", "at 1", "at 2", "mismatch", "")
ROOT = Path(__file__).resolve().parents[1]
FLAWED = ROOT / "data" / "programs" / "maze_flawed.py"


def _request(n: int = 1) -> ProposalRequest:
    return ProposalRequest(env="maze", program=Program(SRC), counterexamples=[CX], n=n, round=1)


def _proposer(stub: StubLLM, tmp_path: Path, **kw) -> LLMProposer:
    kw = {"timeout": 5.0, "backoff": 0.01, "max_retries": 2, "edit_format": "search_replace", "reask": 0, **kw}
    return LLMProposer(model="stub-model", base_url=stub.url, api_key="test-key", cache_dir=tmp_path / "cache", **kw)


def _cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("*")) if (tmp_path / "cache").exists() else []


# -- bad 200 bodies: retried, then an error proposal; never cached ---------------------------------
BAD_BODIES = {
    "html_body": Reply(raw="<html><body>502 Bad Gateway</body></html>"),
    "non_json_body": Reply(raw="upstream timed out"),
    "content_int": Reply(message={"role": "assistant", "content": 42}),
    "no_choices": Reply(choices=[]),
    "empty_content": Reply(content=""),
    "reasoning_only": Reply(message={"role": "assistant", "content": None, "reasoning_content": "thinking..."}),
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("fault", sorted(BAD_BODIES))
def test_bad_bodies_are_retried_and_never_cached(stub_llm: StubLLM, tmp_path, fault: str, stream: bool) -> None:  # noqa: F811
    stub_llm.script(BAD_BODIES[fault], GOOD)
    proposer = _proposer(stub_llm, tmp_path, stream=stream)
    (proposal,) = proposer.propose(_request())
    assert proposal.kind == "search_replace" and stub_llm.calls == 2
    assert proposer.stats.bad_replies == 1 and proposer.stats.retries == 1
    stub_llm.script(BAD_BODIES[fault], BAD_BODIES[fault], BAD_BODIES[fault])
    other = _proposer(stub_llm, tmp_path / "b", stream=stream)
    (failed,) = other.propose(_request())
    assert failed.kind == "error" and "unusable reply" in failed.error and stub_llm.url in failed.error
    assert _cache_files(tmp_path / "b") == [] and stub_llm.calls == 5


def test_odd_but_usable_answers_are_read(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    parts = Reply(message={"role": "assistant", "content": [{"type": "text", "text": GOOD[:20]},
                                                            {"type": "text", "text": GOOD[20:]}]})
    strings = Reply(content=GOOD, usage={"prompt_tokens": "120", "completion_tokens": "30"})
    tools = Reply(message={"role": "assistant", "content": None,
                           "tool_calls": [{"type": "function", "function": {"name": "edit", "arguments": GOOD}}]})
    think = Reply(content="<think>the readout is off by one</think>\n" + GOOD)
    stub_llm.script(parts, strings, tools, think)
    proposals = _proposer(stub_llm, tmp_path, stream=False).propose(_request(4))
    assert [p.kind for p in proposals] == ["search_replace"] * 4
    assert proposals[1].prompt_tokens == 120 and proposals[1].completion_tokens == 30
    assert "<think>" not in proposals[3].response


def test_missing_usage_is_estimated_and_flagged(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    """llama-cpp-python streams without usage (it ignores stream_options): the completion is counted
    from the stream's events (one token each there), the prompt estimated; both are flagged."""
    stub_llm.script(Reply(content=GOOD, usage=None), Reply(content=GOOD, usage=None))
    proposer = _proposer(stub_llm, tmp_path)
    (proposal,) = proposer.propose(_request())
    pieces = len([w for w in GOOD.replace("\n", "\n\0").replace(" ", " \0").split("\0") if w])  # the stub's events
    assert proposal.prompt_tokens > 50 and proposal.completion_tokens == pieces
    assert proposer.stats.estimated_tokens == proposal.prompt_tokens
    assert "estimated" in proposer.usage_line()
    whole = _proposer(stub_llm, tmp_path / "w", stream=False)   # a whole body without usage: both estimated
    (other,) = whole.propose(_request())
    assert whole.stats.estimated_tokens == other.prompt_tokens + other.completion_tokens


def test_lone_surrogates_are_cached_without_orphan_temp_files(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD.replace("Fix.", "Fix \ud800 it."))
    proposer = _proposer(stub_llm, tmp_path)
    (proposal,) = proposer.propose(_request())
    assert proposal.kind == "search_replace" and "\ud800" not in proposal.response and "\ufffd" in proposal.response
    files = _cache_files(tmp_path)
    assert [f.suffix for f in files if f.is_file()] == [".json"]   # no .tmp left behind
    record = json.loads(next(f for f in files if f.is_file()).read_text())
    assert "\ufffd" in record["content"]
    again = _proposer(stub_llm, tmp_path)
    assert again.propose(_request())[0].cached and stub_llm.calls == 1


def test_a_secret_never_reaches_the_server_or_the_cache(stub_llm: StubLLM, tmp_path, monkeypatch) -> None:  # noqa: F811
    canary = "canary-secret-0123456789"
    monkeypatch.setenv("PATCHWORLD_CANARY_API_KEY", canary)
    stub_llm.script(GOOD.replace("Fix.", f"Fix {canary}."))
    src = SRC.replace('return "at 1"', f'return "at 1"  # {canary}')
    request = ProposalRequest(env="maze", program=Program(src), counterexamples=[CX], n=1, round=1)
    proposal = _proposer(stub_llm, tmp_path).propose(request)[0]
    assert canary not in json.dumps(stub_llm.requests) and canary not in proposal.prompt
    assert all(canary not in f.read_text() for f in _cache_files(tmp_path) if f.is_file())


# -- HTTP statuses -----------------------------------------------------------------------------------
@pytest.mark.parametrize("status,remedy", [(401, "PATCHWORLD_LLM_API_KEY"), (403, "PATCHWORLD_LLM_API_KEY"),
                                           (404, "--base-url"), (422, "--model")])
def test_fatal_statuses_are_one_line_errors_with_a_remedy(stub_llm: StubLLM, tmp_path, status: int,  # noqa: F811
                                                          remedy: str) -> None:
    stub_llm.script(Reply(status=status, content="nope"))
    with pytest.raises(LLMError) as info:
        _proposer(stub_llm, tmp_path).propose(_request())
    message = str(info.value)
    assert "\n" not in message and f"HTTP {status}" in message and stub_llm.url in message and remedy in message
    assert stub_llm.calls == 1


def test_context_overflow_is_a_clean_error_with_a_remedy(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.emulate_llama_cpp, stub_llm.context = True, 200
    with pytest.raises(ContextOverflow, match="--counterexamples"):
        _proposer(stub_llm, tmp_path).propose(_request())
    assert stub_llm.calls == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_statuses_are_retried_with_backoff(stub_llm: StubLLM, tmp_path, status: int) -> None:  # noqa: F811
    sleeps: list[float] = []
    stub_llm.script(Reply(status=status, headers={"Retry-After": "7"}), GOOD)
    proposer = _proposer(stub_llm, tmp_path, sleep=sleeps.append, max_backoff=5.0)
    assert proposer.propose(_request())[0].kind == "search_replace"
    assert stub_llm.calls == 2 and sleeps == [5.0]   # Retry-After honoured, capped at max_backoff


def test_429_forever_costs_a_bounded_number_of_calls_per_round(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.default = None
    stub_llm.script(*[Reply(status=429)] * 50)
    proposer = _proposer(stub_llm, tmp_path, max_retries=3, round_retries=4)
    proposals = proposer.propose(_request(4))
    # 4 first attempts + 4 retries shared by the round, not 4 x (1 + 3)
    assert stub_llm.calls == 8 and all(p.kind == "error" for p in proposals)
    assert any("retry budget is spent" in p.error for p in proposals)
    assert isinstance(proposer.stopped, LLMError) and "no reply in a whole round" in str(proposer.stopped)
    with pytest.raises(LLMError, match="no reply in a whole round"):
        proposer.propose(_request(1))


def test_a_timed_out_stream_is_cancelled_at_the_server(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    slow = Reply(content=" ".join(["word"] * 80), chunk_delay=0.1)   # ~8 s of generation
    stub_llm.script(slow, GOOD)
    client = ChatClient("stub-model", stub_llm.url, "k", timeout=1.5, max_retries=1, backoff=3.0)
    reply = client.complete(client.body([{"role": "user", "content": "x"}], 64, 0.0), RetryBudget(3))
    assert "at 2" in reply.content and stub_llm.calls == 2
    assert stub_llm.cancelled == 1   # the server saw the hang-up and stopped generating
    assert stub_llm.busy_at_arrival[1] == 0   # the retry did not queue behind its own orphan


def test_slow_first_token_times_out_and_is_bounded(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(content=GOOD, delay=3.0), Reply(content=GOOD, delay=3.0))
    client = ChatClient("stub-model", stub_llm.url, "k", timeout=1.0, max_retries=1, backoff=0.01)
    with pytest.raises(RequestFailed, match="--llm-timeout 1 s"):
        client.complete(client.body([{"role": "user", "content": "x"}], 64, 0.0))
    assert stub_llm.calls == 2


def test_a_server_slower_than_the_timeout_costs_two_timeouts_a_round(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(*[Reply(content=GOOD, delay=2.5)] * 8)
    proposer = _proposer(stub_llm, tmp_path, timeout=1.0, max_retries=3)
    proposals = proposer.propose(_request(4))
    assert stub_llm.calls == 2 and all(p.kind == "error" for p in proposals)   # not 4 x (1 + 3) timeouts
    assert "raise --llm-timeout" in proposals[-1].error
    assert isinstance(proposer.stopped, LLMError)


@pytest.mark.parametrize("fault", ["stall", "hang_up"])
def test_a_stream_that_breaks_midway_is_retried(stub_llm: StubLLM, tmp_path, fault: str) -> None:  # noqa: F811
    broken = Reply(content=GOOD, chunk_delay=4.0) if fault == "stall" else Reply(content=GOOD, drop_after=3)
    stub_llm.script(broken, GOOD)
    client = ChatClient("stub-model", stub_llm.url, "k", timeout=1.5, max_retries=1, backoff=0.01)
    reply = client.complete(client.body([{"role": "user", "content": "x"}], 64, 0.0))
    assert "at 2" in reply.content and stub_llm.calls == 2 and client.stats.retries == 1


def test_connection_refused_is_retried_then_reported(tmp_path) -> None:
    client = ChatClient("m", "http://127.0.0.1:9/v1", "k", timeout=2.0, max_retries=1, backoff=0.01)
    with pytest.raises(RequestFailed, match="connection failed"):
        client.complete(client.body([{"role": "user", "content": "x"}], 8, 0.0))
    assert client.stats.calls == 2


def test_requests_fit_llama_cpp(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    """One sample per call (no n), no seed, max_tokens, no json_schema (llama.cpp answers it with 500);
    the opt-in grammar goes as llama.cpp's own `grammar` field."""
    stub_llm.emulate_llama_cpp = True
    stub_llm.script(GOOD, GOOD.replace("at 2", "at 3"), GOOD)
    assert len(_proposer(stub_llm, tmp_path).propose(_request(2))) == 2
    assert stub_llm.calls == 2
    for body in stub_llm.requests:
        assert "n" not in body and "seed" not in body and "max_completion_tokens" not in body
        assert body["max_tokens"] == 4096 and "response_format" not in body
    _proposer(stub_llm, tmp_path / "g", grammar=True).propose(_request(1))
    assert "<<<<<<< SEARCH" in stub_llm.requests[-1]["grammar"] and stub_llm.calls == 3


# -- the command: exit code 2, one line, a resumable run folder ----------------------------------------
def _induce(stub: StubLLM, out: Path, cache: Path, *extra: str) -> int:
    from patchworld.cli import main

    return main(["induce", "--env", "maze", "--proposer", "llm", "--program", str(FLAWED), "--out", str(out),
                 "--model", "stub-model", "--base-url", stub.url, "--cache-dir", str(cache), "--candidates", "2",
                 "--workers", "1", "--llm-reask", "0", "--llm-retries", "1", "--llm-edit-format", "search_replace",
                 "--llm-timeout", "30", *extra])


def _rounds(out: Path) -> list[int]:
    """The patch rounds logged in a run folder (round 0 is the starting program)."""
    lines = (out / "rounds.jsonl").read_text().splitlines()
    return [r["round"] for r in map(json.loads, filter(str.strip, lines)) if r["round"] > 0]


def test_induce_faults_end_in_one_line_and_a_resumable_folder(stub_llm: StubLLM, tmp_path, capsys,  # noqa: F811
                                                              monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    out, cache = tmp_path / "run", tmp_path / "cache"
    stub_llm.script(Reply(status=401, content="invalid api key"))
    assert _induce(stub_llm, out, cache, "--rounds", "2") == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert (out / "header.json").exists()

    # malformed replies: the round finishes and is logged, then the run stops with exit 2
    stub_llm.script("no idea", "still no idea")
    assert _induce(stub_llm, out, cache, "--resume", "--rounds", "3", "--llm-max-malformed", "2") == 2
    captured = capsys.readouterr()
    assert "2 consecutive malformed" in captured.err and "--resume" in captured.err
    assert "LLM: 2 calls" in captured.out
    assert _rounds(out) == [1]

    # a budget stops cleanly (exit 0); resume continues within a new budget
    stub_llm.script(GOOD, GOOD)
    assert _induce(stub_llm, out, cache, "--resume", "--rounds", "3", "--max-calls", "2", "--patience", "5") == 0
    captured = capsys.readouterr()
    assert "budget reached" in captured.err and "--max-calls 2" in captured.err and stub_llm.pending == 0
    assert _rounds(out) == [1, 2]


def test_the_readme_tables_name_tests_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Using an LLM"):text.index("## Environments")]
    names = set(re.findall(r"`(?:tests/[\w/]+\.py::)?(test_\w+)", section))
    assert len(names) >= 15
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert names <= defined, f"README names tests that do not exist: {sorted(names - defined)}"
