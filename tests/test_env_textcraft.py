"""The TextCraft env against the original's recorded episodes and spec examples, plus protocol checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchworld.envs import base
from patchworld.envs.base import EnvError
from patchworld.envs.textcraft import FINISHED, N_TASKS, TextCraftEnv, expert_action, parse_inventory
from patchworld.envs.textcraft_rules import DATA_DIR, load_tree

FIXTURE = Path(__file__).parent / "fixtures" / "textcraft_episodes.jsonl"
EPISODES = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
TASK_ROWS = [json.loads(line) for line in (DATA_DIR / "tasks.jsonl").read_text(encoding="utf-8").splitlines()]
SAMPLE_TASKS = list(range(0, N_TASKS, 27)) + [N_TASKS - 1]  # 22 tasks over every depth


def _replay(episode: dict, env: TextCraftEnv) -> tuple[int, list[str]]:
    """Replay one recorded episode; returns (steps replayed, mismatch descriptions)."""
    bad: list[str] = []
    if env.reset(episode["data_idx"]) != episode["reset_observation"]:
        bad.append(f"task {episode['data_idx']}: reset observation differs")
    n = 0
    for i, rec in enumerate(episode["steps"]):
        exp = rec["response"]
        try:
            step = env.step(rec["action"])
            got = {"observation": step.observation, "reward": step.reward, "done": step.done}
        except EnvError as exc:
            got = {"error": str(exc)}
        n += 1
        if got != exp or type(got.get("reward")) is not type(exp.get("reward")):
            bad.append(f"task {episode['data_idx']} step {i} {rec['action']!r}: {got!r} != {exp!r}")
    return n, bad


def _run(env: TextCraftEnv, actions: list[str]) -> list[tuple[str, int, bool]]:
    return [(s.observation, s.reward, s.done) for s in map(env.step, actions)]


def test_fixture_is_complete() -> None:
    assert len(EPISODES) == 89
    assert sum(len(e["steps"]) for e in EPISODES) == 873


def test_replay_every_recorded_episode_exactly() -> None:
    env = TextCraftEnv()
    total, mismatches = 0, []
    for episode in EPISODES:
        n, bad = _replay(episode, env)
        total += n
        mismatches += bad
    assert mismatches == []
    assert total == sum(len(e["steps"]) for e in EPISODES)


def test_tasks_and_every_initial_observation() -> None:
    env = TextCraftEnv()
    assert list(env.tasks) == list(range(N_TASKS))
    tree = load_tree()
    for row in TASK_ROWS:
        assert env.reset(row["data_idx"]) == row["observation"]
        assert env.goal == row["goal"] == tree.goal_pool[row["data_idx"]]
    assert env.reset(600) == TASK_ROWS[600 % N_TASKS]["observation"] and env.task == 600  # data_idx % 544


def test_spec_examples_verbatim() -> None:
    env = TextCraftEnv()
    env.reset(183)
    assert _run(env, ["get 1 oak logs", "craft 4 oak planks using 1 oak logs", "craft 1 crafting table using 4 planks",
                      "craft 1 crafting table using 2 oak planks, 2 oak planks",
                      "craft 1 crafting table using 4 oak planks"]) == [
        ("Got 1 oak logs", 0, False),
        ("Crafted 4 minecraft:oak_planks", 0, False),
        ("Could not find enough items to craft minecraft:crafting_table", 0, False),
        ("Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag(tag=None, "
         "item_id='minecraft:crafting_table'), count=1)", 0, False),
        ("Crafted 1 minecraft:crafting_table", 1, True),
    ]
    env.reset(0)
    spec_lines = [  # section 7 of textcraft.md, verbatim (action, observation)
        ("inventory", "Inventory: You are not carrying anything."),
        ("get 1 lapis lazuli", "Got 1 lapis lazuli"),
        ("get 2 lapis lazuli", "Got 2 lapis lazuli"),
        ("inventory", "Inventory: [lapis lazuli] (3) "),
        ("craft 1 blue dye using 1 lapis lazuli", "Crafted 1 minecraft:blue_dye"),
        ("craft 5 blue dye using 1 lapis lazuli", "Crafted 1 minecraft:blue_dye"),
        ("craft blue dye using 1 lapis lazuli", "Crafted 1 minecraft:blue_dye"),
        ("craft 1 blue dye using lapis lazuli", "Wrong item format: lapis lazuli"),
        ("get 1 blue dye", "Could not find blue dye"),
        ("get 1 planks", "Could not find planks"),
        ("craft 4 planks using 1 oak log", "Could not find enough items to craft None"),
        ("get 1 oak log", "Got 1 oak log"),
        ("craft 4 planks using 1 oak log", "Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag("
         "tag='minecraft:planks', item_id=None), count=4)"),
        ("craft 4 oak planks using 1 oak log", "Could not find a valid recipe for ItemTagWithCount(item_tag=ItemTag("
         "tag=None, item_id='minecraft:oak_planks'), count=4)"),
        ("jump", "Could not execute jump"),
        ("Inventory", "Could not execute Inventory"),
        ("", "Could not execute "),
        ("inventory now", "Inventory: [blue dye] (3) [oak log] (1) "),
        ("get 1 acacia logs", "Got 1 acacia logs"),
    ]
    assert _run(env, [a for a, _ in spec_lines]) == [(o, 0, False) for _, o in spec_lines]
    assert _run(env, ["craft 4 acacia planks using 1 acacia logs"]) == [("Crafted 4 minecraft:acacia_planks", 1, True)]


def test_error_cases() -> None:
    env = TextCraftEnv()
    with pytest.raises(EnvError, match="reset"):
        env.step("inventory")
    with pytest.raises(EnvError, match="not all arguments converted"):  # the original's TypeError text
        env.reset("5")  # type: ignore[arg-type]
    env.reset(0)
    with pytest.raises(EnvError, match=r"^Exceeds the limit \(4300 digits\)"):  # the server's {"error": ...}
        env.step("get " + "9" * 5000 + " dirt")
    assert env.step("get 0 dirt").observation == "Got 0 dirt"
    assert env.step("inventory").observation == "Inventory: [dirt] (0) "
    env.step("get 1 acacia logs")
    assert env.step("craft 4 acacia planks using 1 acacia logs").done
    with pytest.raises(EnvError) as err:
        env.step("inventory")
    assert str(err.value) == FINISHED
    assert env.available_actions() == []


def test_continue_after_done_mirrors_the_server() -> None:
    env = TextCraftEnv(continue_after_done=True)
    env.reset(0)
    assert _run(env, ["get 2 acacia logs", "craft 4 acacia planks using 1 acacia logs", "inventory",
                      "craft 4 acacia planks using 1 acacia logs"]) == [
        ("Got 2 acacia logs", 0, False), ("Crafted 4 minecraft:acacia_planks", 1, True),
        ("Inventory: [acacia logs] (1) [acacia planks] (4) ", 0, False), ("Crafted 4 minecraft:acacia_planks", 1, True),
    ]
    assert env.is_success()


def test_expert_solves_every_task_with_monotone_progress() -> None:
    env = TextCraftEnv()
    for task in env.tasks:
        first = env.reset(task)
        previous = env.progress(task, first)
        assert previous == 0.0
        assert not env.is_success()
        for _ in range(60):
            step = env.step(expert_action(env))
            score = env.progress(task, step.observation)
            assert 0.0 <= score <= 1.0
            assert score >= previous, (task, step.observation)
            assert (score == 1.0) == step.done, (task, step.observation)
            previous = score
            if step.done:
                break
        assert env.is_success(), task
        assert step.reward == 1 and type(step.reward) is int


def _named(action: str, shown: str) -> bool:
    """Whether the text shown so far names ``action``: its command head and every item in it."""
    if action == "inventory":
        return True  # a fixed command of the game's instructions
    if action.startswith("get "):
        return action[len("get "):] in shown  # "<count> <item>" as a listed ingredient
    head, _, parts = action.partition(" using ")
    items = [p.strip().split(" ", 1)[1] for p in parts.split(",")]
    names = shown.replace("minecraft:", "").replace("_", " ")
    return head + " using" in shown and all(item in names for item in items)


def test_available_actions_are_accepted_and_never_hold_an_unnamed_expert_action() -> None:
    """Candidates come from the text the agent saw: the expert's action is there only if that text named it."""
    import random

    env = TextCraftEnv()
    rng = random.Random(0)
    states = offered = 0
    for task in SAMPLE_TASKS:
        shown = [env.reset(task)]
        for n in range(40):
            actions = env.available_actions()
            assert actions and actions[0] == "inventory" and len(actions) == len(set(actions))
            expert = expert_action(env)
            assert expert in env.generation_actions()  # the privileged list data generation uses
            states += 1
            if expert in actions:
                offered += 1
                assert _named(expert, "\n".join(shown)), (task, expert)
            for action in actions:
                env.clone().step(action)  # never raises
            step = env.step(expert if n % 3 else rng.choice(actions))
            shown.append(step.observation)
            if step.done:
                break
    assert offered < states  # the list is not the expert's (the expert needs items no text named yet)
    assert offered > states / 4  # but it is useful: listed recipes and their ingredients


def test_available_actions_offer_seen_members_for_a_tag() -> None:
    env = TextCraftEnv()
    env.reset(183)
    assert not any("oak planks," in a or a.endswith("oak planks") for a in env.available_actions()
                   if a.startswith("craft") and " using " in a and "oak planks" in a.split(" using ")[1])
    env.step("get 1 oak logs")
    env.step("craft 4 oak planks using 1 oak logs")
    using = [a.split(" using ")[1] for a in env.available_actions() if " using " in a]
    assert any("oak planks" in u for u in using)  # the seen member now stands in for the tag


def test_clone_is_independent() -> None:
    env = TextCraftEnv()
    env.reset(183)
    env.step("get 2 oak logs")
    twin = env.clone()
    assert twin.step("craft 4 oak planks using 1 oak logs").observation == "Crafted 4 minecraft:oak_planks"
    assert env.inventory == {"minecraft:oak_logs": 2}
    assert twin.inventory == {"minecraft:oak_logs": 1, "minecraft:oak_planks": 4}
    assert env.step("inventory").observation == "Inventory: [oak logs] (2) "
    twin.reset(0)
    assert env.task == 183 and env.goal == "minecraft:crafting_table"


def test_determinism() -> None:
    actions = ["get 1 oak logs", "craft 4 oak planks using 1 oak logs", "inventory", "get 3 stick",
               "craft 1 crafting table using 4 oak planks"]
    runs = []
    for _ in range(2):
        env = TextCraftEnv()
        runs.append((env.reset(183), _run(env, actions), env.available_actions()))
    assert runs[0] == runs[1]


def test_progress_from_observations() -> None:
    env = TextCraftEnv()
    env.reset(183)  # crafting table: get oak logs, craft oak planks, craft crafting table
    assert env.progress(183, "Crafted 1 minecraft:crafting_table") == 1.0
    assert env.progress(183, "Inventory: [crafting table] (1) ") == 1.0
    assert env.progress(183, "Inventory: You are not carrying anything.") == 0.0
    assert env.progress(183, "Could not execute jump") == 0.0
    logs = env.progress(183, "Got 1 oak logs")
    planks = env.progress(183, "Inventory: [oak planks] (4) ")
    assert 0.0 < logs < planks < 1.0
    assert env.progress(183, "Crafted 4 minecraft:oak_planks") == planks
    assert parse_inventory("Inventory: [blue dye] (3) [oak log] (1) ") == {"minecraft:blue_dye": 3, "minecraft:oak_log": 1}
    # The env's own last observation is read with its inventory (a bare "Got" line is not enough).
    env.step("get 1 oak logs")
    env.step("craft 4 oak planks using 1 oak logs")
    env.step("get 1 oak logs")
    assert env.progress(183, "Got 1 oak logs") == planks > logs


def test_registered_with_description() -> None:
    # Read the registry directly so this test does not depend on the other env modules importing.
    entry = base._REGISTRY["textcraft"]
    assert entry.factory is TextCraftEnv and entry.expert is expert_action
    assert "craft" in entry.description and "get" in entry.description and len(entry.description) > 200
    assert TextCraftEnv().name == "textcraft"
