"""LLM proposer end to end against the local stub server: parsing, re-asks, retries, timeouts, cache,
tokens, concurrent samples and the order they come back in, malformed limits and budgets."""

from __future__ import annotations

import json
import threading

import pytest
from stub_llm import HOLD_LIMIT, Reply, StubLLM, stub_llm  # noqa: F401  (stub_llm is a fixture)

from patchworld.counterexamples import Counterexample
from patchworld.data import Trajectory, Transition
from patchworld.patches import apply_patch
from patchworld.program import Program
from patchworld.proposers.base import ProposalRequest
from patchworld.proposers.llm import (
    MAX_CONCURRENCY,
    BudgetExhausted,
    LLMError,
    LLMProposer,
    MalformedRepliesError,
    default_edit_format,
)
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


def _request(n: int, src: str = SRC) -> ProposalRequest:
    return ProposalRequest(env="maze", program=Program(src), counterexamples=[CX], n=n, round=1)


def _proposer(stub: StubLLM, tmp_path, **kw) -> LLMProposer:
    kw = {"timeout": 5.0, "backoff": 0.01, "max_retries": 3, "edit_format": "search_replace", **kw}
    return LLMProposer(model="stub-model", base_url=stub.url, api_key="test-key", cache_dir=tmp_path / "cache", **kw)


def test_scripted_replies_all_proceed_then_replay_from_cache(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD, NO_MATCH, WHOLE, GARBAGE, Reply(status=429, content="slow down"), GOOD2,
                    Reply(content=GOOD, delay=4.0), GOOD3)
    proposer = _proposer(stub_llm, tmp_path, concurrency=1, reask=0, timeout=1.5)  # the script maps onto samples in order
    proposals = proposer.propose(_request(6))
    assert [p.kind for p in proposals] == ["search_replace", "malformed", "whole_module", "malformed",
                                           "search_replace", "search_replace"]
    assert stub_llm.calls == 8 and proposer.http_calls == 8  # one retry after the 429, one after the timeout
    assert stub_llm.pending == 0

    good, nomatch, whole, garbage, after429, aftertimeout = proposals
    assert apply_patch(SRC, good.patch).source == FIXED
    assert good.patch.origin == "llm" and good.patch.parent == Program(SRC).hash
    assert good.patch.counterexample_ids == (CX.id,)
    assert good.patch.note == "The down move changes the wrong coordinate."
    # a SEARCH that is not in the program is no patch: the reason quotes the closest lines
    assert nomatch.patch is None and "not in the program" in nomatch.error and 'if action == "move down"' in nomatch.error
    assert whole.patch.origin == "llm:whole_module"
    assert apply_patch(SRC, whole.patch).source == FIXED.replace("at {", "now at {")
    assert garbage.patch is None and "no SEARCH/REPLACE" in garbage.error and garbage.response == GARBAGE
    assert garbage.extra["attempts"][0]["usable"] is False
    assert "# down" in apply_patch(SRC, after429.patch).source
    assert "x = x + 1" in apply_patch(SRC, aftertimeout.patch).source

    # tokens come from the server's usage; the prompt holds the program and the counterexample
    assert all(p.prompt_tokens > 100 and p.completion_tokens > 0 for p in proposals)
    assert proposer.prompt_tokens == sum(p.prompt_tokens for p in proposals)
    assert proposer.completion_tokens == sum(p.completion_tokens for p in proposals)
    assert not any(p.cached for p in proposals)
    body = stub_llm.requests[0]
    prompt = body["messages"][1]["content"]
    assert SRC.strip() in prompt and "'at 2, 1'" in prompt and "<<<<<<< SEARCH" in prompt
    assert body["model"] == "stub-model" and body["stream"] is True
    # one sample per call: no n, no seed, max_tokens (not max_completion_tokens)
    assert "n" not in body and "seed" not in body and body["max_tokens"] == 4096
    assert "max_completion_tokens" not in body

    # a rerun (fresh proposer, same cache) replays every sample with zero HTTP calls
    again = _proposer(stub_llm, tmp_path, reask=0)
    replay = again.propose(_request(6))
    assert stub_llm.calls == 8 and again.http_calls == 0 and again.stats.cache_hits == 6
    assert all(p.cached for p in replay)
    assert [p.kind for p in replay] == [p.kind for p in proposals]
    assert [p.patch.id if p.patch else None for p in replay] == [p.patch.id if p.patch else None for p in proposals]
    assert [p.prompt_tokens for p in replay] == [p.prompt_tokens for p in proposals]
    assert again.prompt_tokens == 0  # nothing spent live


def test_an_unusable_reply_is_sent_back_once_with_its_reason(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(NO_MATCH, GOOD, GARBAGE, "still no code")
    proposer = _proposer(stub_llm, tmp_path)
    fixed, bad = proposer.propose(_request(2))
    assert fixed.kind == "search_replace" and apply_patch(SRC, fixed.patch).source == FIXED
    reask = stub_llm.requests[1]["messages"]
    assert [m["role"] for m in reask] == ["system", "user", "assistant", "user"]
    assert reask[2]["content"] == NO_MATCH and "not in the program" in reask[3]["content"]
    assert 'if action == "move down":' in reask[3]["content"]  # the closest lines are quoted for the model
    assert [a["usable"] for a in fixed.extra["attempts"]] == [False, True]
    assert NO_MATCH in fixed.response and GOOD in fixed.response and "not usable" in fixed.response
    assert bad.kind == "malformed" and len(bad.extra["attempts"]) == 2 and stub_llm.calls == 4
    assert proposer.malformed_streak == 1  # a sample counts as malformed only after its re-ask


def test_samples_are_distinct_cache_entries(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD, GOOD2)
    proposer = _proposer(stub_llm, tmp_path)
    first = proposer.propose(_request(2))
    assert first[0].patch.id != first[1].patch.id
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2
    stub_llm.script(GOOD3)  # a third sample of the same request is new: one more call only
    third = _proposer(stub_llm, tmp_path).propose(_request(3))
    assert stub_llm.calls == 3 and [p.cached for p in third] == [True, True, False]


def test_consecutive_malformed_replies_stop_after_the_round(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GARBAGE, "no idea", GARBAGE, GOOD)
    proposer = _proposer(stub_llm, tmp_path, max_consecutive_malformed=3, reask=0)
    proposals = proposer.propose(_request(4))  # the round is not lost: all four come back
    assert [p.kind for p in proposals][:3] == ["malformed"] * 3
    assert isinstance(proposer.stopped, MalformedRepliesError)
    with pytest.raises(MalformedRepliesError, match="3 consecutive malformed"):
        proposer.propose(_request(1))
    unlimited = _proposer(stub_llm, tmp_path / "b", max_consecutive_malformed=0, reask=0)
    stub_llm.script(GARBAGE, GARBAGE, GARBAGE)
    assert len(unlimited.propose(_request(3))) == 3 and unlimited.stopped is None


def test_exhausted_retries_give_an_error_proposal_and_others_proceed(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(status=500), Reply(status=503), GOOD)
    proposer = _proposer(stub_llm, tmp_path, max_retries=1, concurrency=1)
    first, second = proposer.propose(_request(2))
    assert first.kind == "error" and first.patch is None and "HTTP 503" in first.error and stub_llm.url in first.error
    assert second.kind == "search_replace"
    assert stub_llm.calls == 3 and proposer.stopped is None


def test_auth_errors_are_not_retried(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(status=401, content="bad key"))
    with pytest.raises(LLMError, match="HTTP 401.*PATCHWORLD_LLM_API_KEY"):
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
    assert stub_llm.requests[0]["temperature"] == 0.2
    stub_llm.script(GARBAGE)
    bad = _proposer(stub_llm, tmp_path / "other", initial_retries=0).initial_program("maze", _train())
    assert bad.kind == "malformed" and bad.patch is None


def test_a_first_program_that_does_not_load_is_sent_back_with_its_error(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    no_import = "```python\n" + SRC.replace("return belief\n", "return json.loads('{}') or belief\n") + "```"
    raises = "```python\nclass Model:\n    raise ValueError('boom')\n```"
    stub_llm.script(no_import, GARBAGE, raises, WHOLE)
    proposal = _proposer(stub_llm, tmp_path, initial_retries=5).initial_program("maze", _train())
    assert proposal.kind == "whole_module" and stub_llm.calls == 4
    reasons = [a["reason"] for a in proposal.extra["attempts"]]
    assert "json (line" in reasons[0] and "no fenced Python module" in reasons[1] and "ValueError" in reasons[2]
    assert reasons[3] == ""
    assert "json (line" in stub_llm.requests[1]["messages"][-1]["content"]  # the error goes back to the model
    stub_llm.script(*[GARBAGE] * 3)
    gave_up = _proposer(stub_llm, tmp_path / "b", initial_retries=2).initial_program("maze", _train())
    assert gave_up.kind == "malformed" and "3 attempts" in gave_up.error and stub_llm.calls == 7


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


def test_edit_format_is_chosen_per_model() -> None:
    assert default_edit_format("qwen2.5-coder-1.5b-instruct") == "whole"
    assert default_edit_format("SmolLM2-135M-Instruct") == "whole"
    assert default_edit_format("gpt-4o") == "search_replace"
    assert default_edit_format("Qwen2.5-Coder-32B-Instruct") == "search_replace"


def test_parse_reply_variants() -> None:
    two = GOOD + "\nand also\n" + GOOD2.split("```python\n", 1)[1]
    assert len(parse_reply(two).edits) == 2
    assert parse_reply(WHOLE).module.startswith("class Model")
    assert parse_reply(GARBAGE).error and not parse_reply(GARBAGE).edits
    unterminated = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
    assert parse_reply(unterminated).edits == [] and "markers without a complete block" in parse_reply(unterminated).error


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
    proposer = _proposer(stub_llm, tmp_path, timeout=10.0, concurrency=4)
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
    proposer = _proposer(stub_llm, tmp_path, timeout=HOLD_LIMIT + 5, concurrency=3)
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


def test_concurrency_is_bounded_and_one_by_default(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(*(Reply(content=r, delay=0.2) for r in (GOOD, GOOD2, GOOD3, WHOLE, GOOD)))
    proposer = _proposer(stub_llm, tmp_path, concurrency=2, timeout=10.0)
    assert len(proposer.propose(_request(5))) == 5
    assert stub_llm.calls == 5 and 1 <= stub_llm.max_in_flight <= 2
    assert proposer.workers(5) == 2
    default = _proposer(stub_llm, tmp_path)   # a one-slot CPU server: one request at a time
    assert default.workers(4) == 1
    wide = _proposer(stub_llm, tmp_path, concurrency=None)
    assert wide.workers(4) == 4 and wide.workers(50) == MAX_CONCURRENCY == 8
    with pytest.raises(ValueError, match="concurrency"):
        _proposer(stub_llm, tmp_path, concurrency=0)
    for bad in ({"timeout": 0}, {"max_tokens": 0}, {"max_retries": -1}, {"round_timeouts": 0}, {"reask": -1}):
        with pytest.raises(ValueError, match=f"LLMProposer {next(iter(bad))} must be"):
            _proposer(stub_llm, tmp_path, **bad)


def _held_proposer(tmp_path, replies: dict[int, str], held: int, release: threading.Event, **kw) -> LLMProposer:
    """A proposer whose sample ``held`` answers only once ``release`` is set (the others answer at once)."""
    proposer = LLMProposer(model="stub-model", base_url="http://127.0.0.1:9/v1", api_key="k", reask=0,
                           cache_dir=tmp_path / "cache", concurrency=3, edit_format="search_replace", **kw)

    def fake_reply(body: dict, sample: int, retries) -> tuple[dict, bool]:
        if sample == held:
            assert release.wait(10), "released too late: samples are not concurrent"
        return {"content": replies[sample], "prompt_tokens": 1, "completion_tokens": 1}, False

    proposer._reply = fake_reply  # type: ignore[method-assign]
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
    assert proposer.stopped is None

    # index order: ok, malformed, malformed -> stops, but only once sample 0 is known (arrival: 1, 2, 0)
    release = threading.Event()
    proposer = _held_proposer(tmp_path / "b", {0: GOOD, 1: GARBAGE, 2: "still nothing"}, held=0, release=release,
                              max_consecutive_malformed=2)
    got = []
    for p in proposer.propose_iter(_request(3)):
        got.append(p)
        if len(got) == 2:
            assert proposer.stopped is None   # samples 1 and 2 are not counted before sample 0 is known
            release.set()
    assert isinstance(proposer.stopped, MalformedRepliesError) and "2 consecutive malformed" in str(proposer.stopped)


def test_a_budget_stops_cleanly_and_a_new_budget_continues(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(GOOD, GOOD2, GOOD3)
    proposer = _proposer(stub_llm, tmp_path, max_calls=2)
    proposals = proposer.propose(_request(3))
    assert [p.kind for p in proposals] == ["search_replace", "search_replace", "error"]
    assert "budget" in proposals[2].error and stub_llm.calls == 2
    with pytest.raises(BudgetExhausted, match="--max-calls 2"):
        proposer.propose(_request(3))
    # a new process (resume) with a new budget: the two answered samples come from the cache
    fresh = _proposer(stub_llm, tmp_path, max_calls=5)
    again = fresh.propose(_request(3))
    assert [p.cached for p in again] == [True, True, False] and stub_llm.calls == 3
    assert "3 calls" not in fresh.usage_line() and "1 calls" in fresh.usage_line() and "2 cache hits" in fresh.usage_line()
    tokens = _proposer(stub_llm, tmp_path / "t", max_total_tokens=1)
    stub_llm.script(GOOD)
    tokens.propose(_request(1))
    with pytest.raises(BudgetExhausted, match="--max-tokens 1"):
        tokens.propose(_request(2))


def test_usage_line_prices_tokens(stub_llm: StubLLM, tmp_path) -> None:  # noqa: F811
    stub_llm.script(Reply(content=GOOD, prompt_tokens=1000, completion_tokens=500))
    proposer = _proposer(stub_llm, tmp_path, price_in=2.0, price_out=10.0)
    proposer.propose(_request(1))
    line = proposer.usage_line()
    assert "1000 prompt + 500 completion tokens" in line and "cost 0.0070" in line  # (1000*2 + 500*10) / 1e6


def test_starting_programs_carry_no_description_of_their_bugs(tmp_path) -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data" / "programs"
    proposer = LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)
    for name in ("maze_flawed.py", "maze_flawed_hard.py", "wordle_flawed.py"):
        program = Program.from_file(root / name)
        prompt = proposer.patch_prompt(ProposalRequest(env=name.split("_")[0], program=program,
                                                       counterexamples=[CX], n=1))
        lowered = prompt.lower()
        for leak in ("bug", "flawed", "planted", "swapped", "column first", "inverted"):
            assert leak not in lowered, f"{name}: the prompt says {leak!r}"


def test_limits_come_from_the_environment_unless_given(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATCHWORLD_LLM_TIMEOUT", "42")
    monkeypatch.setenv("PATCHWORLD_LLM_CONCURRENCY", "3")
    monkeypatch.setenv("PATCHWORLD_LLM_MAX_MALFORMED", "0")
    monkeypatch.setenv("PATCHWORLD_LLM_EDIT_FORMAT", "udiff")
    proposer = LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)
    assert (proposer.timeout, proposer.concurrency, proposer.max_consecutive_malformed) == (42.0, 3, 0)
    assert proposer.edit_format == "udiff" and proposer.client.timeout == 42.0
    explicit = LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path, timeout=7.0)
    assert explicit.timeout == 7.0
    monkeypatch.setenv("PATCHWORLD_LLM_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="PATCHWORLD_LLM_TIMEOUT='soon'"):
        LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)


def test_from_settings_keeps_the_saved_limits(tmp_path) -> None:
    from patchworld.store import proposer_settings

    first = LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path, timeout=33.0,
                        max_consecutive_malformed=0, reask=2, max_calls=5)
    saved = proposer_settings(first)["settings"]
    again = LLMProposer.from_settings(saved, max_calls=9)
    assert (again.timeout, again.max_consecutive_malformed, again.reask, again.max_calls) == (33.0, 0, 2, 9)
    assert "key" not in " ".join(saved)
