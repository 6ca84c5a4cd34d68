"""Planning: goal scorers, choosers, agents (no privileged reads), the LLM paths, live episodes.

Every registered env is covered by the per-env tests; SciWorld's JVM is slow to start, so the
module shares one SciWorld env (``live`` fixture) and its cases use short gold paths."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from stub_llm import Reply, stub_llm  # noqa: F401  (pytest fixture)

from patchworld.agents import ExpertAgent, LookaheadAgent, RandomAgent, ReActAgent, SearchAgent, candidate_actions
from patchworld.baselines import null_source
from patchworld.envs import base, make, spec
from patchworld.envs.base import default_goal_score, goal_scorer
from patchworld.planning import (
    Candidate,
    ChoiceContext,
    GoalChooser,
    LLMChooser,
    LLMSettings,
    PerfectWorldModel,
    ProgressChooser,
    open_world_model,
    run_episodes,
)
from patchworld.program import Program

HANDWRITTEN = Path(__file__).resolve().parents[1] / "data" / "programs" / "handwritten"
ENVS = ["maze", "wordle", "textcraft", "babyai", "alfworld", "webshop", "sciworld"]
FIRST_TASK = {"maze": 0, "wordle": 0, "textcraft": 183, "babyai": 0, "alfworld": 0, "webshop": 0, "sciworld": 4428}
TWO_TASKS = {"maze": [0, 9], "wordle": [0, 1], "textcraft": [183, 2], "babyai": [0, 1], "alfworld": [0, 5],
             "webshop": [0, 7], "sciworld": [4428, 3698]}  # sciworld: the shortest shipped gold paths (4, 8 steps)
SHOWS_DONE = set(ENVS) - {"sciworld"}  # SciWorld's text never says the task is done (the score is the reward)


def test_every_registered_env_is_covered() -> None:
    assert sorted(ENVS) == base.registered()


@pytest.fixture(scope="module")
def live():
    """``live(name)``: a fresh env, except one SciWorld env (one JVM) shared by the module."""
    shared: dict[str, object] = {}

    def get(name: str) -> object:
        if name != "sciworld":
            return make(name)
        if name not in shared:
            shared[name] = make(name)
        return shared[name]

    yield get
    for env in shared.values():
        close = getattr(env, "close", None) or env.engine.close
        close()


def _expert_progress(name: str, task: int, max_steps: int = 40) -> tuple[list[float], bool]:
    env = make(name)
    expert = spec(name).expert
    obs = env.reset(task)
    values = [env.progress(task, obs)]
    for _ in range(max_steps):
        step = env.step(expert(env))
        values.append(env.progress(task, step.observation))
        if step.done:
            break
    return values, env.is_success()


@pytest.mark.parametrize(("name", "tasks"), [("maze", [0, 4, 9, 13, 21]), ("wordle", [0, 1, 2, 3]),
                                             ("textcraft", [0, 183, 300, 450, 540]),
                                             ("babyai", [0, 1, 2, 3, 4, 40, 44, 81])])
def test_progress_is_monotone_along_expert_trajectories(name: str, tasks: list[int]) -> None:
    # babyai: the single-goal GoTo levels (0-4); multi-stage levels are not monotone by nature
    for task in tasks:
        values, success = _expert_progress(name, task)
        assert success, f"{name} task {task}: the expert did not solve it"
        assert all(b >= a - 1e-9 for a, b in zip(values, values[1:], strict=False)), (name, task, values)
        assert values[-1] == pytest.approx(1.0), (name, task, values)
        assert 0.0 <= min(values) and values[0] < 1.0


@pytest.mark.parametrize("name", ENVS)
def test_goal_scorers_read_text_only_and_score_the_solved_step_highest(name: str, live) -> None:
    score = goal_scorer(name)
    assert score is not default_goal_score
    env = live(name)
    goal = env.reset(FIRST_TASK[name])
    values = [score(goal, goal)]
    while True:
        step = env.step(spec(name).expert(env))
        values.append(score(goal, step.observation))
        if step.done:
            break
    assert env.is_success() and all(0.0 <= v <= 1.0 for v in values), values
    if name in SHOWS_DONE:
        assert values[-1] == 1.0 and max(values[:-1]) < 1.0
    else:  # SciWorld: a partial text match at most (0.5 for focusing on a named object), never "done"
        assert max(values) <= 0.5 and score(goal, "No known action matches that input.") == 0.0, values
    assert score(goal, "") == 0.0 and score(goal, "garbage text") == 0.0


def test_maze_goal_score_is_manhattan_from_the_goal_text() -> None:
    goal = "The goal is at position 8, 6. Your current position is at position 1, 1."
    assert make("maze").goal_score(goal, "Your current position is at position 8, 4. ") == pytest.approx(0.9)
    assert make("maze").goal_score("no goal here", "Your current position is at position 8, 4. ") == 0.0


def test_goal_chooser_uses_the_model_outcome_and_revisits() -> None:
    chooser = GoalChooser(lambda goal, obs: {"a": 0.5, "b": 0.5, "c": 0.2}.get(obs, 0.0))
    cands = [Candidate("x", "a"), Candidate("y", "b"), Candidate("z", "c")]
    assert chooser.choose(ChoiceContext("g", 0, "", cands)) == 0
    assert chooser.choose(ChoiceContext("g", 0, "", cands, Counter({"a": 1}))) == 1
    assert chooser.choose(ChoiceContext("g", 0, "", cands + [Candidate("w", "c", reward=1.0, done=True)])) == 3
    privileged = ProgressChooser(lambda task, obs: 1.0 if obs == "c" else 0.0)
    assert privileged.choose(ChoiceContext("", 0, "", cands)) == 2


def test_lookahead_and_search_with_perfect_model_solve_maze() -> None:
    env = make("maze")
    for agent in (LookaheadAgent(PerfectWorldModel(env)), SearchAgent(PerfectWorldModel(env), depth=2)):
        frame = run_episodes(env, agent, env.tasks, max_steps=30)
        assert frame["success"].mean() == 1.0, agent.name


class _Tripwire:
    """A live env whose every attribute raises while ``armed`` (the agent is choosing)."""

    def __init__(self, env: object) -> None:
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "armed", False)

    def __getattr__(self, name: str) -> object:
        if object.__getattribute__(self, "armed"):
            raise AssertionError(f"planning read env.{name}")
        return getattr(object.__getattribute__(self, "_env"), name)


class _Armed:
    """An agent wrapper that arms the tripwire around every ``act``."""

    def __init__(self, agent: object, wire: _Tripwire) -> None:
        self.agent, self.wire, self.name = agent, wire, agent.name

    def reset(self, task: int, observation: str, env: object = None) -> None:
        self.agent.reset(task, observation, env=env)

    def act(self, observation: str, actions: list[str]) -> str:
        object.__setattr__(self.wire, "armed", True)
        try:
            return self.agent.act(observation, actions)
        finally:
            object.__setattr__(self.wire, "armed", False)

    def stats(self) -> dict[str, int]:
        return self.agent.stats()


@pytest.mark.parametrize("name", ENVS)
def test_no_planning_path_reads_the_expert_hidden_state_or_true_next_observation(name: str, monkeypatch,
                                                                               live) -> None:
    """While an agent chooses, the live env (its state, clone, step, progress) and the expert are off limits."""
    live = live(name)

    def forbidden(*_a: object, **_k: object) -> None:
        raise AssertionError("planning called a privileged function")

    monkeypatch.setitem(base._REGISTRY, name, dataclasses.replace(spec(name), expert=forbidden))
    monkeypatch.setattr(type(live), "progress", forbidden)  # run_episodes' final_progress then reads NaN
    wire = _Tripwire(live)
    tasks = TWO_TASKS[name]
    with open_world_model(Program.from_file(HANDWRITTEN / f"{name}.py"), sandbox=False) as model:
        for agent in (LookaheadAgent(model), SearchAgent(model, depth=2, beam=2)):
            frame = run_episodes(wire, _Armed(agent, wire), tasks, max_steps=8)
            assert frame.height == 2 and frame["error"].to_list() == ["", ""], frame
            assert agent.model_errors == 0


def test_a_model_that_predicts_nothing_does_not_plan() -> None:
    env = make("maze")
    with open_world_model(Program.from_source(null_source()), sandbox=False) as model:
        frame = run_episodes(env, SearchAgent(model, depth=2), env.tasks[:12], max_steps=15)
    assert frame["success"].mean() <= 0.2


def test_handwritten_maze_program_plans_through_the_sandbox() -> None:
    env = make("maze")
    with open_world_model(Program.from_file(HANDWRITTEN / "maze.py"), sandbox=True) as model:
        agent = SearchAgent(model, depth=2)
        frame = run_episodes(env, agent, [0, 9, 13], max_steps=30)
    assert frame["success"].all()
    assert agent.model_errors == 0


def test_run_episodes_columns_and_lenient_rule() -> None:
    env = make("wordle")
    frame = run_episodes(env, RandomAgent(seed=3), list(range(6)), max_steps=8)
    assert frame.columns == ["env", "task", "agent", "steps", "total_reward", "success", "lenient_success", "done",
                             "final_progress", "error", "chooser_calls", "chooser_fallbacks", "model_errors",
                             "actions"]
    assert frame["actions"].list.len().to_list() == frame["steps"].to_list()
    unsolved = frame.filter(~frame["success"])  # the reference's lenient rule counts a finished 0-reward episode
    assert unsolved.height > 0 and unsolved["lenient_success"].all()
    assert (frame.filter(frame["success"])["total_reward"] > 0).all()
    assert run_episodes(env, ExpertAgent(), [0, 1], max_steps=8)["success"].all()


def test_candidate_actions_put_the_proposal_first_dedupe_and_cap() -> None:
    out = candidate_actions(["a", "b", "a"], ["c", "go to <obj>", "b", "d"], proposed="p", limit=4)
    assert out == ["p", "a", "b", "c"]
    assert candidate_actions(["a"], ["b"], None, None) == ["a", "b"]
    with pytest.raises(ValueError):
        SearchAgent(PerfectWorldModel(make("maze")), depth=0)


def _settings(url: str) -> LLMSettings:
    return LLMSettings.resolve(base_url=url, api_key="test", model="stub", max_retries=0, timeout=5)


def test_llm_chooser_parses_actions_and_counts_failed_choices(stub_llm) -> None:  # noqa: F811
    stub_llm.script("Thought: east looks right.\nAction: go east", "Choice: 3", "no idea", Reply(status=500))
    chooser = LLMChooser(_settings(stub_llm.url))
    ctx = ChoiceContext("Goal: reach the exit", 0, "You are in a room.",
                        [Candidate("go north", "first"), Candidate("go east", "second"), Candidate("go west", "third")])
    assert chooser.choose(ctx) == 1
    prompt = stub_llm.requests[0]["messages"][-1]["content"]
    for text in ("Goal: reach the exit", "You are in a room.", "go east", "'second'"):
        assert text in prompt
    assert chooser.choose(ctx) == 2
    assert chooser.choose(ctx) == 0  # unparseable: a failed choice plays candidate 0 (the LLM's own proposal)
    assert chooser.choose(ctx) == 0  # HTTP error: the same
    assert (chooser.calls, chooser.fallbacks) == (4, 2)


def test_llm_lookahead_offers_the_proposal_first_and_counts_fallbacks(stub_llm) -> None:  # noqa: F811
    stub_llm.default = "I cannot decide."  # proposals and choices both unparseable
    env = make("maze")
    agent = LookaheadAgent(PerfectWorldModel(env), chooser=LLMChooser(_settings(stub_llm.url)),
                           llm=_settings(stub_llm.url))
    frame = run_episodes(env, agent, [13], max_steps=3)
    assert frame["chooser_fallbacks"][0] == frame["chooser_calls"][0] == 3
    assert frame["actions"][0].to_list() == ["move left"] * 3  # no proposal: candidate 0 = first available action
    stub_llm.default = None
    stub_llm.script("Action: move down", "Action: move down")
    env.reset(17)
    agent.reset(17, "x", env=env)
    assert agent.act("x", env.available_actions()) == "move down"
    assert "move down" in stub_llm.requests[-1]["messages"][-1]["content"].split("[1] ACTION:")[1][:12]


def test_react_agent_against_stub(stub_llm) -> None:  # noqa: F811
    stub_llm.script("Thought: down.\nAction: move down", "move down please")
    env = make("maze")
    frame = run_episodes(env, ReActAgent(_settings(stub_llm.url)), [17], max_steps=2)
    assert frame["actions"][0].to_list() == ["move down", ""]
    assert (frame["chooser_calls"][0], frame["chooser_fallbacks"][0]) == (2, 1)
    assert "Available actions: move left" in stub_llm.requests[0]["messages"][-1]["content"]
    assert not LLMSettings(base_url=None, model="m").configured


def test_agents_release_beliefs_between_episodes() -> None:
    env = make("maze")
    for agent in (LookaheadAgent(PerfectWorldModel(env)), SearchAgent(PerfectWorldModel(env), depth=3)):
        run_episodes(env, agent, [0, 1, 2, 3], max_steps=15)
        assert len(agent.model._beliefs) <= 2, agent.name  # only the last episode's belief and pending


def test_alfworld_and_webshop_candidates_are_what_the_page_shows() -> None:
    """ALFWorld: the admissible list the client prints after ``AVAILABLE ACTIONS:``; WebShop: search keywords
    from the instruction on the page and clicks on what the page text lists (SciWorld, TextCraft: their own tests)."""
    alf = make("alfworld")
    for task in (0, 5, 30):
        obs = alf.reset(task)
        assert alf.available_actions() == obs.split("\nAVAILABLE ACTIONS: ", 1)[1].split(",")
    shop, kinds = make("webshop"), Counter()
    for task in (0, 7, 300):
        obs = shop.reset(task)
        for _ in range(6):
            words = set(obs.lower().replace("[sep]", " ").split())
            for action in shop.available_actions():
                verb, _, arg = action.partition("[")
                inside = arg.removesuffix("]")
                assert verb in ("search", "click"), action
                shown = set(inside.split()) <= words if verb == "search" else inside in obs.lower()
                assert shown, (task, action, obs[:200])
                kinds[verb] += 1
            step = shop.step(spec("webshop").expert(shop))
            if step.done:
                break
            obs = step.observation
    assert kinds["search"] >= 3 and kinds["click"] >= 20, kinds  # search, results and item pages were checked
