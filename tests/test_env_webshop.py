"""WebShop-lite against the original's 48 recorded episodes, its data, reward rules and the protocol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchworld.data import load_trajectories
from patchworld.envs import base
from patchworld.envs.base import EnvError
from patchworld.envs.checker import check_env
from patchworld.envs.generate import GenerationConfig, generate
from patchworld.envs.webshop import FINISHED, WebShopEnv, expert_action, goal_score, search_keywords
from patchworld.envs.webshop_catalogue import DATA_DIR, load_catalogue
from patchworld.envs.webshop_gen import generate_catalogue
from patchworld.envs.webshop_reward import COLOR_SET, normalize_color, option_matches, token_set_ratio
from patchworld.envs.webshop_search import tokenize

DATA_ROOT = Path(__file__).resolve().parents[1] / "data" / "trajectories" / "webshop"
FIXTURE = Path(__file__).parent / "fixtures" / "webshop_episodes.jsonl"
EPISODES = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def env() -> WebShopEnv:
    return WebShopEnv()


def _replay(episode: dict, env: WebShopEnv) -> list[str]:
    bad = []
    first, expected = env.reset(episode["task"]), episode["reset_response"]
    if first != expected["observation"] or env.server_available_actions() != expected["available_actions"]:
        bad.append(f"task {episode['task']}: reset differs")
    if env.instruction_text() != expected["instruction_text"]:
        bad.append(f"task {episode['task']}: instruction text differs")
    for i, rec in enumerate(episode["steps"]):
        step, exp = env.step(rec["action"]), rec["response"]
        got = {"observation": step.observation, "reward": step.reward, "done": step.done}
        if got != exp or type(step.reward) is not type(exp["reward"]):
            bad.append(f"task {episode['task']} step {i} {rec['action']!r}: {got} != {exp}")
        if env.server_available_actions() != rec["available_actions"]:
            bad.append(f"task {episode['task']} step {i}: available actions {env.server_available_actions()}")
    return bad


def test_fixture_is_complete() -> None:
    assert len(EPISODES) == 48
    assert sum(len(e["steps"]) for e in EPISODES) == 407


def test_replay_every_recorded_episode_exactly(env: WebShopEnv) -> None:
    mismatches = [problem for episode in EPISODES for problem in _replay(episode, env)]
    assert mismatches == []


def test_catalogue_reproduces_goals_and_search_documents() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.products) == 390
    goals = [json.loads(line) for line in (DATA_DIR / "goals.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [{"task": i, **g} for i, g in enumerate(catalogue.goals)] == goals
    documents = [json.loads(line) for line in (DATA_DIR / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    assert catalogue.documents == documents


def test_search_rules(env: WebShopEnv) -> None:
    assert tokenize("  BODY LOTION!! x-large") == ["body", "lotion", "x", "large"]
    env.reset(0)
    page = env.step("search[zzzqqq xyzzy]").observation
    assert "Page 1 (Total results: 0) [SEP] Next >" in page and page.endswith("Next >")
    grocery = env.step("search[<c> grocery]").observation  # the original's category filter: no cap at 50
    assert "(Total results: 78)" in grocery
    with pytest.raises(EnvError, match="'NoneType' object is not subscriptable"):
        env.step("search[<a> gluten free]")  # AgentGym passes no attribute table: a server error upstream
    twin = env.clone()
    assert env.step("search[<r>]").observation == twin.step("search[<r>]").observation  # seeded here


def test_reward_rules() -> None:
    assert normalize_color("navy blue") == "blue" and normalize_color(("color", "navy blue")) == ("color", "navy blue")
    assert COLOR_SET.index("blue") < COLOR_SET.index("navy")
    assert token_set_ratio("large", ("size", "large")) == 100 and token_set_ratio("x-large", ("size", "large")) == 83
    assert option_matches(["black | white"], {"color": "black"}) == 1
    assert option_matches(["peppered"], {"flavor name": "peppered"}) == 0  # 'peppered' contains 'red' (upstream)
    assert option_matches([], {"color": "red", "size": "large"}) == 0


def test_bad_input_and_step_after_done(env: WebShopEnv) -> None:
    fresh = WebShopEnv()
    with pytest.raises(EnvError, match="reset"):
        fresh.step("search[x]")
    assert fresh.available_actions() == []
    first = env.reset(154)
    with pytest.raises(EnvError, match="list index out of range"):
        env.reset(len(env.tasks))
    with pytest.raises(EnvError, match="int session id"):
        env.reset("5")  # type: ignore[arg-type]
    for action in ["", "jump", "search[]", "click[]", "click[search]", "search [x]", "click[back to search"]:
        step = env.step(action)
        assert (step.observation, step.reward, step.done) == (first, 0.0, False)  # the page is unchanged
    with pytest.raises(EnvError, match="string"):
        env.step(None)  # type: ignore[arg-type]
    env.step("search[elara luxury cotton bath towel set for bathroom]")
    env.step("click[b0gnpwbsre]")
    assert env.step("click[buy now]").done and env.available_actions() == []
    with pytest.raises(EnvError) as err:
        env.step("search[towels]")
    assert str(err.value) == FINISHED
    server = WebShopEnv(continue_after_done=True)  # the original keeps executing after Buy Now
    server.reset(154)
    server.step("search[towels]")
    server.step(server.available_actions()[2])
    assert server.step("click[buy now]").done
    again = server.step("search[towels]")
    assert again.observation.startswith("Instruction:") and (again.reward, again.done) == (0.0, False)


def test_expert_solves_every_task_with_monotone_progress(env: WebShopEnv) -> None:
    unreachable = 0
    for task in env.tasks:
        previous = env.progress(task, env.reset(task))
        assert previous == 0.0
        for _ in range(12):
            step = env.step(expert_action(env))
            score = env.progress(task, step.observation)
            assert score >= previous, (task, step.observation)
            previous = score
            if step.done:
                break
        assert step.done, task
        if not env.is_success():  # only goals whose option value hides a colour word ('peppered' -> 'red')
            assert any(normalize_color(v) != v for v in env.goal["goal_options"].values()), task
            unreachable += 1
        assert (previous == 1.0) == env.is_success()
    assert unreachable < 20


def test_available_actions_are_what_the_server_offers(env: WebShopEnv) -> None:
    env.reset(331)
    assert env.available_actions() == ["search[wet hair hair brushes]"]
    assert search_keywords("Find me machine wash long sleeve women's t-shirts with relaxed fit with color: red, and "
                           "size: large, and price lower than 30.00 dollars") == [
        "machine wash long sleeve women's t-shirts with relaxed fit", "machine wash long sleeve women's t-shirts"]
    env.step("search[wet hair hair brushes]")
    clicks = env.server_available_actions()["clickables"]
    assert env.available_actions() == [f"click[{c}]" for c in clicks]
    for action in env.available_actions():
        env.clone().step(action)  # never raises


def test_goal_score_reads_text_only(env: WebShopEnv) -> None:
    first = env.reset(154)
    scores = [goal_score(first, first)]
    while True:
        step = env.step(expert_action(env))
        scores.append(goal_score(first, step.observation))
        if step.done:
            break
    assert scores[0] == 0.0 and scores[-1] == 1.0 and 0.0 < scores[1] < scores[-2] < 1.0
    assert goal_score("garbage", step.observation) == 1.0  # the done page shows its score
    assert goal_score(first, "Instruction: [SEP] x [SEP] Back to Search [SEP] < Prev [SEP] text") == 0.3
    assert WebShopEnv.goal_score is not None and base.goal_scorer("webshop")(first, first) == 0.0


def test_contract_checker_passes() -> None:
    assert check_env("webshop", n_tasks=4, max_steps=20) == []


def test_registered_with_description() -> None:
    entry = base.spec("webshop")
    assert entry.factory is WebShopEnv and entry.expert is expert_action
    assert "search[" in entry.description and "click[" in entry.description and len(entry.description) > 500


def test_generator_reproduces_the_shipped_catalogue_and_makes_bigger_ones(tmp_path: Path) -> None:
    out = generate_catalogue(tmp_path / "c390", 390)
    for name in ("items_shuffle.json", "items_ins.json", "title_nouns.json"):
        assert (out / name).read_bytes() == (DATA_DIR / name).read_bytes(), name
    big = WebShopEnv(catalogue=generate_catalogue(tmp_path / "c1000", 1000))
    assert len(big.catalogue.products) == 1000 and len(big.tasks) > 913
    task = len(big.tasks) - 1
    big.reset(task)
    while not big.step(expert_action(big)).done:
        pass
    assert big.reward > 0.5
    with pytest.raises(ValueError, match="at least 15"):
        generate_catalogue(tmp_path / "tiny", 3)
    broken = json.loads((out / "items_shuffle.json").read_text(encoding="utf-8"))
    del broken[5]["name"]
    (out / "items_shuffle.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ValueError, match=r"items_shuffle\.json: product 5 \(asin '\w+'\): field name$"):
        WebShopEnv(catalogue=out)


def test_generated_datasets_are_reproducible_with_disjoint_tasks(tmp_path: Path) -> None:
    config = GenerationConfig(n_tasks=(4, 2, 2), max_steps=8)
    first = generate("webshop", 3, tmp_path / "a", config=config)
    second = generate("webshop", 3, tmp_path / "b", config=config)
    assert all(first[s].read_bytes() == second[s].read_bytes() for s in first)
    shipped = {s: load_trajectories(DATA_ROOT / f"webshop_traj_{s}.jsonl") for s in ("train", "val", "test")}
    tasks = {s: {t.task_idx for t in trajs} for s, trajs in shipped.items()}
    assert not (tasks["train"] & tasks["test"]) and not (tasks["val"] & tasks["test"]) and not (tasks["train"] & tasks["val"])
    assert all(200 <= sum(len(t.transitions) for t in trajs) <= 5000 for trajs in shipped.values())
    assert any(t.success for t in shipped["train"]) and not all(t.success for t in shipped["train"])


def test_attributes_sub_page_and_prev_by_url_quirk() -> None:
    shop = WebShopEnv(show_attrs=True)  # AgentGym runs with show_attrs off; the page still exists upstream
    shop.reset(154)
    shop.step("search[elara luxury cotton bath towel set for bathroom]")
    item = shop.step("click[b0gnpwbsre]").observation
    assert item.endswith("Reviews [SEP] Attributes [SEP] Buy Now") and "click[attributes]" in shop.available_actions()
    product = shop.catalogue.by_asin["B0GNPWBSRE"]
    page = shop.step("click[attributes]").observation.split(" [SEP] ")
    assert page[4:] == [*product["Attributes"], product["category"], product["query"], product["product_category"]]
    assert shop.step("click[< prev]").observation == item
    # '< Prev' decides by substring in the URL, which holds the keywords: 'search_results' in them
    # makes the item page look like a results page, so '< Prev' goes to results page 0 (upstream quirk).
    quirk = WebShopEnv()
    quirk.reset(154)
    quirk.step("search[search_results towel]")
    quirk.step(quirk.available_actions()[2])
    back = quirk.step("click[< prev]").observation
    assert "Page 0 (Total results: " in back and back.endswith("Next >")


def test_progress_reads_pages_without_the_env_state(env: WebShopEnv) -> None:
    first = env.reset(154)  # towels; goal: 1 attribute, 2 options
    results = env.step("search[elara luxury cotton bath towel set for bathroom]").observation
    item = env.step("click[b0gnpwbsre]").observation
    env.step("click[green]")
    chosen = env.step("click[4 piece]").observation
    assert chosen == item and env.progress(154, chosen) == pytest.approx(0.9)  # this env knows what was chosen
    stranger = WebShopEnv()  # another env reads the same text with no options chosen: (1 + 0 + 1) / 4
    assert stranger.progress(154, item) == pytest.approx(0.35 + 0.55 * 0.5)
    assert (stranger.progress(154, first), stranger.progress(154, results)) == (0.0, 0.2)
    assert stranger.progress(154, "nonsense") == 0.0
