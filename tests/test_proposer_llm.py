"""LLM proposer end to end against the local stub server: parsing, retries, timeouts, cache, tokens,
concurrent samples and the order they come back in."""

from __future__ import annotations

import json
import threading

import pytest
from stub_llm import HOLD_LIMIT, Reply, StubLLM, stub_llm  # noqa: F401  (stub_llm is a fixture)

from patchworld.counterexamples import Counterexample
from patchworld.data import Trajectory, Transition
from patchworld.patches import PatchError, apply_patch
from patchworld.program import Program
from patchworld.proposers.base import ProposalRequest
from patchworld.proposers.llm import MAX_CONCURRENCY, LLMError, LLMProposer, MalformedRepliesError
from patchworld.proposers.llm_prompts import contrastive_examples, parse_reply

SRC = '''class Model:
    def predict_belief(self, belief, action):
        x, y = belief["pos"]
        if action == "move down":
            y += 1
        return {"pos": (x, y)}

    def readout_observation(self, belief, action=""):
        return f"at {belief['pos'][0]}, {belief['pos'][1]}"

    def correct_belief(self, belief, obs):
        return belief
'''
FIXED = SRC.replace("            y += 1\n", "            x += 1\n")
GOOD = """The down move changes the wrong coordinate.
```python
<<<<<<< SEARCH
        if action == "move down":
            y += 1
=======
        if action == "move down":
            x += 1
>>>>>>> REPLACE
```
"""
NO_MATCH = """Fix the up move.
<<<<<<< SEARCH
        if action == "move up":
            y -= 1
=======
        if action == "move up":
            x -= 1
>>>>>>> REPLACE
"""
WHOLE = "Here is the whole module.\n```python\n" + FIXED.replace("at {", "now at {") + "```\n"
GARBAGE = "I am not sure what to do here, sorry."
GOOD2 = GOOD.replace("x += 1", "x += 1  # down")
GOOD3 = GOOD.replace("x += 1", "x = x + 1")

CX = Counterexample("maze/0/0", 2, "at 1, 1", "move down", "{'pos': (1, 1)}", "at 1, 2", "at 2, 1", "mismatch", "")


def _request(n: int) -> ProposalRequest:
    return ProposalRequest(env="maze", program=Program(SRC), counterexamples=[CX], n=n, round=1)


def _proposer(stub: StubLLM, tmp_path, **kw) -> LLMProposer:
    kw = {"timeout": 0.5, "backoff": 0.01, "max_retries": 3, **kw}
    return LLMProposer(model="stub-model", base_url=stub.url, api_key="test-key", cache_dir=tmp_path / "cache", **kw)


def test_scripted_replies_all_proceed_then_replay_from_cache(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD, NO_MATCH, WHOLE, GARBAGE, Reply(status=429, content="slow down"), GOOD2,
                    Reply(content=GOOD, delay=1.5), GOOD3)
    proposer = _proposer(stub_llm, tmp_path, concurrency=1)  # the script maps onto samples in order
    proposals = proposer.propose(_request(6))
    assert [p.kind for p in proposals] == ["search_replace", "search_replace", "whole_module", "malformed",
                                           "search_replace", "search_replace"]
    assert stub_llm.calls == 8 and proposer.http_calls == 8  # one retry after the 429, one after the timeout
    assert stub_llm.pending == 0

    good, nomatch, whole, garbage, after429, aftertimeout = proposals
    assert apply_patch(SRC, good.patch).source == FIXED
    assert good.patch.origin == "llm" and good.patch.parent == Program(SRC).hash
    assert good.patch.counterexample_ids == (CX.id,)
    assert good.patch.note == "The down move changes the wrong coordinate."
    with pytest.raises(PatchError) as info:  # the proposal carries the patch; application fails loudly
        apply_patch(SRC, nomatch.patch)
    assert 'if action == "move down":' in str(info.value) and "nearest block" in str(info.value)
    assert whole.patch.origin == "llm:whole_module"
    assert apply_patch(SRC, whole.patch).source == FIXED.replace("at {", "now at {")
    assert garbage.patch is None and "no SEARCH/REPLACE" in garbage.error and garbage.response == GARBAGE
    assert "# down" in apply_patch(SRC, after429.patch).source
    assert "x = x + 1" in apply_patch(SRC, aftertimeout.patch).source

    # tokens come from the server's usage; the prompt holds the program and the counterexample
    assert all(p.prompt_tokens > 100 and p.completion_tokens > 0 for p in proposals)
    assert proposer.prompt_tokens == sum(p.prompt_tokens for p in proposals)
    assert proposer.completion_tokens == sum(p.completion_tokens for p in proposals)
    assert not any(p.cached for p in proposals)
    prompt = stub_llm.requests[0]["messages"][1]["content"]
    assert SRC.strip() in prompt and "'at 2, 1'" in prompt and "<<<<<<< SEARCH" in prompt
    assert stub_llm.requests[0]["model"] == "stub-model"

    # a rerun (fresh proposer, same cache) replays every sample with zero HTTP calls
    again = _proposer(stub_llm, tmp_path)
    replay = again.propose(_request(6))
    assert stub_llm.calls == 8 and again.http_calls == 0
    assert all(p.cached for p in replay)
    assert [p.kind for p in replay] == [p.kind for p in proposals]
    assert [p.patch.id if p.patch else None for p in replay] == [p.patch.id if p.patch else None for p in proposals]
    assert [p.prompt_tokens for p in replay] == [p.prompt_tokens for p in proposals]
    assert again.prompt_tokens == 0  # nothing spent live


def test_samples_are_distinct_cache_entries(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD, GOOD2)
    proposer = _proposer(stub_llm, tmp_path)
    first = proposer.propose(_request(2))
    assert first[0].patch.id != first[1].patch.id
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2
    stub_llm.script(GOOD3)  # a third sample of the same request is new: one more call only
    third = _proposer(stub_llm, tmp_path).propose(_request(3))
    assert stub_llm.calls == 3 and [p.cached for p in third] == [True, True, False]


def test_consecutive_malformed_replies_raise(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GARBAGE, "", GARBAGE)
    proposer = _proposer(stub_llm, tmp_path, max_consecutive_malformed=3)
    with pytest.raises(MalformedRepliesError, match="3 consecutive malformed"):
        proposer.propose(_request(3))


def test_exhausted_retries_give_an_error_proposal_and_others_proceed(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(status=500), Reply(status=503), GOOD)
    proposer = _proposer(stub_llm, tmp_path, max_retries=1, concurrency=1)
    first, second = proposer.propose(_request(2))
    assert first.kind == "error" and first.patch is None and "2 attempts" in first.error
    assert second.kind == "search_replace"
    assert stub_llm.calls == 3


def test_auth_errors_are_not_retried(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(status=401, content="bad key"))
    with pytest.raises(LLMError, match="HTTP 401"):
        _proposer(stub_llm, tmp_path).propose(_request(1))
    assert stub_llm.calls == 1


def _train() -> list[Trajectory]:
    obs = "The goal is at position 8, 6. Your current position is at position 1, 1."
    moved = "The goal is at position 8, 6. Your current position is at position 1, 2."
    steps = (Transition(obs, "move right", moved, 0, False), Transition(moved, "jump", moved, 0, False))
    return [Trajectory("maze", 0, 0, 0, "train", True, 1.0, steps),
            Trajectory("maze", 1, 1, 0, "train", False, 0.0, steps[:1])]


def test_initial_program_is_a_patch_against_the_empty_program(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(WHOLE)
    proposal = _proposer(stub_llm, tmp_path).initial_program("maze", _train())
    assert proposal.kind == "whole_module" and proposal.patch.parent == Program("").hash
    assert apply_patch("", proposal.patch).source.startswith("class Model:")
    prompt = stub_llm.requests[0]["messages"][1]["content"]
    assert "move right" in prompt and "'jump'" in prompt and "episode failed" in prompt
    assert "predict_belief" in prompt and "{{" not in prompt
    stub_llm.script(GARBAGE)
    bad = _proposer(stub_llm, tmp_path / "other").initial_program("maze", _train())
    assert bad.kind == "malformed" and bad.patch is None


def test_configured_reads_the_environment(monkeypatch) -> None:
    for name in ("PATCHWORLD_LLM_MODEL", "PATCHWORLD_LLM_BASE_URL", "OPENAI_BASE_URL", "PATCHWORLD_LLM_API_KEY",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert not LLMProposer.configured()
    with pytest.raises(LLMError, match="no LLM model"):
        LLMProposer()
    monkeypatch.setenv("PATCHWORLD_LLM_MODEL", "m")
    assert not LLMProposer.configured()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert LLMProposer.configured()
    assert LLMProposer(use_cache=False).base_url == "http://127.0.0.1:9/v1"


def test_parse_reply_variants() -> None:
    two = GOOD + "\nand also\n" + GOOD2.split("```python\n", 1)[1]
    assert len(parse_reply(two).edits) == 2
    assert parse_reply(WHOLE).module.startswith("class Model")
    assert parse_reply(GARBAGE).error and not parse_reply(GARBAGE).edits
    unterminated = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
    assert parse_reply(unterminated).edits == [] and parse_reply(unterminated).error


def test_contrastive_examples_cover_actions_and_outcomes() -> None:
    text = contrastive_examples(_train(), k=3)
    assert text.count("### Example") == 3
    assert "'jump'" in text and "episode succeeded" in text and "episode failed" in text


def _cached_contents(cache_dir) -> dict[int, str]:
    """Sample index -> reply text, read back from the on-disk cache entries."""
    records = [json.loads(f.read_text()) for f in cache_dir.rglob("*.json")]
    return {r["sample"]: r["content"] for r in records}


def test_samples_run_concurrently_and_come_back_by_sample_index(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    replies = [GOOD, GOOD2, GOOD3, WHOLE]
    stub_llm.script(Reply(status=429), *(Reply(content=r, delay=0.5) for r in replies))
    proposer = _proposer(stub_llm, tmp_path, timeout=10.0)
    proposals = proposer.propose(_request(4))
    assert stub_llm.max_in_flight > 1  # the stub served overlapping requests
    assert stub_llm.calls == 5 and proposer.http_calls == 5  # the 429 was retried by one sample only
    assert sorted(p.response for p in proposals) == sorted(replies)
    assert [p.extra["sample"] for p in proposals] == [0, 1, 2, 3]
    contents = _cached_contents(tmp_path / "cache")
    assert [p.response for p in proposals] == [contents[i] for i in range(4)]
    # counters updated from several threads add up
    assert proposer.prompt_tokens == sum(p.prompt_tokens for p in proposals) > 0
    assert proposer.completion_tokens == sum(p.completion_tokens for p in proposals) > 0


def test_propose_iter_streams_in_arrival_order_then_replays_from_cache(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    # the first request to arrive is held until two proposals have been yielded: it must come back last
    release = threading.Event()
    stub_llm.script(Reply(content=GOOD, release=release), GOOD2, GOOD3)
    proposer = _proposer(stub_llm, tmp_path, timeout=HOLD_LIMIT + 5)
    streamed = []
    for p in proposer.propose_iter(_request(3)):
        streamed.append(p)
        if len(streamed) == 2:
            release.set()
    assert stub_llm.max_in_flight >= 2 and stub_llm.calls == 3
    assert streamed[-1].response == GOOD and {p.response for p in streamed[:2]} == {GOOD2, GOOD3}
    assert sorted(p.extra["sample"] for p in streamed) == [0, 1, 2]
    by_sample = {p.extra["sample"]: p.response for p in streamed}
    assert by_sample == _cached_contents(tmp_path / "cache")

    # a rerun replays from the cache: zero HTTP calls, yielded at once in sample order
    again = _proposer(stub_llm, tmp_path)
    replay = list(again.propose_iter(_request(3)))
    assert stub_llm.calls == 3 and again.http_calls == 0 and again.prompt_tokens == 0
    assert all(p.cached for p in replay)
    assert [p.extra["sample"] for p in replay] == [0, 1, 2]
    assert [p.response for p in replay] == [by_sample[i] for i in range(3)]
    assert [p.response for p in again.propose(_request(3))] == [by_sample[i] for i in range(3)]


def test_concurrency_is_bounded(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(*(Reply(content=r, delay=0.2) for r in (GOOD, GOOD2, GOOD3, WHOLE, GOOD)))
    proposer = _proposer(stub_llm, tmp_path, concurrency=2, timeout=10.0)
    assert len(proposer.propose(_request(5))) == 5
    assert stub_llm.calls == 5 and 1 <= stub_llm.max_in_flight <= 2
    assert proposer.workers(5) == 2
    default = _proposer(stub_llm, tmp_path)
    assert default.workers(4) == 4 and default.workers(1) == 1 and default.workers(50) == MAX_CONCURRENCY == 8
    with pytest.raises(ValueError, match="concurrency"):
        _proposer(stub_llm, tmp_path, concurrency=0)


def _held_proposer(tmp_path, replies: dict[int, str], held: int, release: threading.Event, **kw) -> LLMProposer:
    """A proposer whose sample ``held`` answers only once ``release`` is set (the others answer at once)."""
    proposer = LLMProposer(model="stub-model", base_url="http://127.0.0.1:9/v1", api_key="k",
                           cache_dir=tmp_path / "cache", **kw)

    def fake_fetch(body: dict, sample: int) -> tuple[dict, str]:
        if sample == held:
            assert release.wait(10), "released too late: samples are not concurrent"
        return {"content": replies[sample], "prompt_tokens": 1, "completion_tokens": 1}, ""

    proposer._fetch_safe = fake_fetch  # type: ignore[method-assign]
    return proposer


def test_malformed_streak_counts_in_sample_order_not_arrival_order(tmp_path) -> None:
    # index order: malformed, ok, malformed -> a streak of 1, no stop (arrival order 0, 2, 1 would stop at 2)
    release = threading.Event()
    proposer = _held_proposer(tmp_path, {0: GARBAGE, 1: GOOD, 2: GARBAGE}, held=1, release=release,
                              max_consecutive_malformed=2)
    got = []
    for p in proposer.propose_iter(_request(3)):
        got.append(p)
        if len(got) == 2:
            release.set()
    assert [p.extra["sample"] for p in got][-1] == 1 and proposer.malformed_streak == 1
    assert sorted(p.kind for p in got) == ["malformed", "malformed", "search_replace"]

    # index order: ok, malformed, malformed -> stops, but only once sample 0 is known (arrival: 1, 2, 0)
    release = threading.Event()
    proposer = _held_proposer(tmp_path / "b", {0: GOOD, 1: GARBAGE, 2: "still nothing"}, held=0, release=release,
                              max_consecutive_malformed=2)
    got = []
    with pytest.raises(MalformedRepliesError, match="2 consecutive malformed"):
        for p in proposer.propose_iter(_request(3)):
            got.append(p)
            if len(got) == 2:
                release.set()
    assert sorted(p.extra["sample"] for p in got) == [1, 2] and all(p.kind == "malformed" for p in got)
