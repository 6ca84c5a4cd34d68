"""Every prompt renders for every env with all its parts: env rules, failure table, counterexamples,
the answer format with its worked example; re-asks carry the reason."""

from __future__ import annotations

import pytest

from patchworld.counterexamples import Counterexample
from patchworld.data import Trajectory, Transition
from patchworld.program import Program
from patchworld.proposers.base import ProposalRequest
from patchworld.proposers.llm import LLMProposer
from patchworld.proposers.llm_prompts import (
    EDIT_FORMATS,
    ENVS_WITH_GUIDANCE,
    PROMPT_DIR,
    env_guidance,
    failure_table,
    load_prompt,
    render,
    text_difference,
)

SRC = "class Model:\n    def readout_observation(self, belief, action=''):\n        return 'x'\n"
CXS = [Counterexample("e/0/0", 0, "obs A", "move up", "{}", "pred", "true A", "mismatch", ""),
       Counterexample("e/0/1", 1, "obs B", "move up", "{}", "pred", "true B", "mismatch", ""),
       Counterexample("e/1/0", 0, "obs C", "craft 1 stick", "{}", "", "", "exception", "KeyError: 'x'")]


def _proposer(tmp_path, fmt: str) -> LLMProposer:
    return LLMProposer(model="m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path, edit_format=fmt)


@pytest.mark.parametrize("env", ENVS_WITH_GUIDANCE)
@pytest.mark.parametrize("fmt", EDIT_FORMATS)
def test_patch_prompt_has_every_part_for_every_env(env: str, fmt: str, tmp_path) -> None:
    prompt = _proposer(tmp_path, fmt).patch_prompt(ProposalRequest(env=env, program=Program(SRC),
                                                                   counterexamples=CXS, n=1))
    guidance = (PROMPT_DIR / "envs" / f"{env}.md").read_text().strip()
    assert len(guidance.splitlines()) >= 5 and guidance in prompt
    assert f'"{env}"' in prompt and SRC.strip() in prompt and Program(SRC).hash in prompt
    assert "| mismatch | move | 2 |" in prompt and "| exception | craft | 1 |" in prompt
    assert "### Counterexample 1 (e/1/0#0, exception)" in prompt   # most severe first
    assert "KeyError: 'x'" in prompt and "'true A'" in prompt
    assert load_prompt(f"format_{fmt}").strip() in prompt
    assert "{{" not in prompt and "}}" not in prompt
    if fmt == "search_replace":   # one worked example of the format
        assert prompt.count("<<<<<<< SEARCH") == 2 and "Worked example" in prompt


@pytest.mark.parametrize("env", ENVS_WITH_GUIDANCE)
def test_initial_prompt_has_every_part_for_every_env(env: str, tmp_path) -> None:
    obs, nxt = "You are at A.", "You are at B."
    train = [Trajectory(env, 0, 0, 0, "train", True, 1.0, (Transition(obs, "go b", nxt, 0, False),))]
    prompt = _proposer(tmp_path, "whole").initial_prompt(env, train)
    assert env_guidance(env) in prompt and "'go b'" in prompt and repr(nxt) in prompt
    assert "predict_belief" in prompt and "import everything it uses" in prompt
    assert "{{" not in prompt


def test_every_env_has_rules_and_an_unknown_env_gets_a_generic_note() -> None:
    for env in ENVS_WITH_GUIDANCE:
        text = env_guidance(env)
        assert "latent" in text.lower() or "hidden" in text.lower(), env
        assert "observation format" in text.lower() or "format" in text.lower(), env
        assert "not invent" in text.lower() or "never" in text.lower() or "do not" in text.lower(), env
    assert "No rules are written" in env_guidance("no-such-env")


def test_failure_table_counts_kind_by_action_and_folds_the_tail() -> None:
    table = failure_table(CXS)
    assert table.splitlines()[2] == "| mismatch | move | 2 |"
    many = [Counterexample(f"t/{i}", 0, "o", f"act{i} x", "{}", "", "", "mismatch", "") for i in range(20)]
    folded = failure_table(many, limit=5)
    assert "(15 more groups) | 15 |" in folded and failure_table([]) == "(no failures)"


def test_reask_and_retry_prompts_carry_the_reason() -> None:
    text = render(load_prompt("reask"), error="edit 1 of 1: the SEARCH part is not in the program",
                  format_hint="Copy SEARCH lines exactly.")
    assert "not in the program" in text and "Copy SEARCH lines exactly." in text
    retry = render(load_prompt("initial_retry"), error="SyntaxError at line 3")
    assert "SyntaxError at line 3" in retry and "```python" in retry
    with pytest.raises(KeyError, match="error"):
        render(load_prompt("reask"), format_hint="x")


def test_the_grammar_file_describes_the_search_replace_format() -> None:
    grammar = load_prompt("search_replace.gbnf")
    assert "root" in grammar and "<<<<<<< SEARCH" in grammar and ">>>>>>> REPLACE" in grammar


def test_the_failure_table_counts_the_whole_replay_when_given(tmp_path) -> None:
    class Replay:   # what a caller passes as request.replay: anything with counterexamples()
        def counterexamples(self) -> list[Counterexample]:
            return CXS * 50

    request = ProposalRequest(env="maze", program=Program(SRC), counterexamples=CXS[:1], n=1)
    shown_only = _proposer(tmp_path, "whole").patch_prompt(request)
    assert "| mismatch | move | 1 |" in shown_only and "counted over the 1 counterexamples below" in shown_only
    request.replay = Replay()
    whole = _proposer(tmp_path, "whole").patch_prompt(request)
    assert "| mismatch | move | 100 |" in whole and "| exception | craft | 50 |" in whole
    assert "counted over the" not in whole


def test_counterexamples_say_where_the_prediction_differs(tmp_path) -> None:
    assert text_difference("goal at 6, 8. you at 4, 3.", "goal at 8, 6. you at 5, 3.") == \
        "'6, 8.' should be '8, 6.'; '4,' should be '5,'"
    assert text_difference("a  b", "a b") == "an extra space" and text_difference("x", "x y") == "missing 'y'"
    assert text_difference("same", "same") == ""
    prompt = _proposer(tmp_path, "whole").patch_prompt(ProposalRequest(env="maze", program=Program(SRC),
                                                                        counterexamples=CXS, n=1))
    assert "DIFFERENCE: 'pred' should be 'true A'" in prompt
    assert prompt.count("DIFFERENCE:") == 2   # mismatches only, not the exception
