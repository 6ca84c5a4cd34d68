"""Cross-check the pure-Python ALFWorld env against the original engine (run by hand, not in CI).

Record (in a separate venv holding the original engine: ``python3.11 -m venv /tmp/alfw && /tmp/alfw/bin/pip
install alfworld==0.3.3 textworld==1.7.0``, ~4 min and 6 GB with torch)::

    /tmp/alfw/bin/python benchmarks/alfworld_oracle.py record PROBLEMS.jsonl OUT.jsonl --episodes 2 --seed 7

plays every problem through TextWorld's ``PddlEnv`` with the shipped ``alfred.pddl``/``alfred.twl2`` exactly
as AgentGym loads a game (``textworld.gym`` with ``AlfredDemangler``, ``AlfredInfos``, 50 steps) and applies
AgentGym's reset/step post-processing; the first episode of a problem with a ``solution`` plays it, the rest
mix admissible commands (60 %) with probes (invalid verbs, wrong objects, whitespace, ``slice``/``examine``
of anything). Output lines have the recorded-episode format of ``tests/fixtures/alfworld_episodes.jsonl``
and the timing medians go to stderr. Then compare, in the project venv::

    .venv/bin/python benchmarks/alfworld_oracle.py check OUT.jsonl --problems PROBLEMS.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "envs" / "alfworld"
PROBES = ["jump", "help", "", "  look  ", "Look", "look around", "toggle desklamp 1", "inventory\n"]
VERBS = ["examine", "take", "slice", "use", "go to", "open", "close", "put", "heat", "clean", "cool"]


def _process_ob(ob: str) -> str:  # AgentGym's utils.process_ob
    return ob[ob.find(". ") + 2:] if ob.startswith("You arrive at loc ") else ob


def _choose(rng: random.Random, actions: list[str], names: list[str]) -> str:
    r = rng.random()
    if r < 0.6:
        return rng.choice(actions)
    if r < 0.7:
        return rng.choice(PROBES)
    verb, a, b = rng.choice(VERBS), rng.choice(names), rng.choice(names)
    if verb in ("examine", "use", "go to", "open", "close"):
        return f"{verb} {a}"
    return {"take": f"take {a} from {b}", "put": f"put {a} in/on {b}"}.get(verb, f"{verb} {a} with {b}")


def record(problems: Path, out: Path, episodes: int, seed: int) -> None:
    import textworld
    import textworld.gym
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    domain, grammar = (DATA / "alfred.pddl").read_text(), (DATA / "alfred.twl2").read_text()
    rng, games = random.Random(seed), Path(tempfile.mkdtemp())
    timing: dict[str, list[float]] = {"reset": [], "step": []}
    with out.open("w") as fh:
        for task, line in enumerate(x for x in problems.read_text().splitlines() if x.strip()):
            p = json.loads(line)
            folder = games / f"{p['task_type']}-gen" / p["id"]
            os.makedirs(folder, exist_ok=True)
            game = {"pddl_domain": domain, "grammar": grammar.replace("UNKNOWN GOAL", p["goal_text"]),
                    "pddl_problem": p["pddl_problem"], "solvable": True, "walkthrough": []}
            (folder / "game.tw-pddl").write_text(json.dumps(game))
            infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
            env_id = textworld.gym.register_games([str(folder / "game.tw-pddl")], infos, batch_size=1,
                                                  asynchronous=False, max_episode_steps=50,
                                                  wrappers=[AlfredDemangler(shuffle=False), AlfredInfos])
            env = textworld.gym.make(env_id)
            names = [r["name"] for r in p["receptacles"]] + [o["name"] for o in p["objects"]]
            for episode in range(episodes):
                start = time.perf_counter()
                ob, info = env.reset()
                timing["reset"].append(time.perf_counter() - start)
                avail = info["admissible_commands"][0]
                reset = {"id": 0, "observation": "\n".join(ob[0].split("\n\n")[1:]), "available_actions": avail,
                         "task_type": "/".join(info["extra.gamefile"][0].split("/")[-3:-1])}
                script = list(p.get("solution", [])) + ["look"] if episode == 0 else []
                steps: list[dict] = []
                done = False
                for k in range(max(rng.choice([10, 25, 55]), len(script))):
                    action = script[k] if k < len(script) else _choose(rng, avail, names)
                    if done:
                        steps.append({"action": action, "response": {"error": "The task with environment 0 has finished."}})
                        break
                    start = time.perf_counter()
                    obs, _, dones, info = env.step([action])
                    timing["step"].append(time.perf_counter() - start)
                    avail, done = info["admissible_commands"][0], dones[0]
                    steps.append({"action": action, "raw_observation": obs[0], "response": {
                        "observation": _process_ob(obs[0]), "reward": float(info["won"][0]),
                        "available_actions": avail, "done": done}})
                fh.write(json.dumps({"task": task, "problem_id": p["id"], "reset_response": reset, "steps": steps}) + "\n")
            env.close()
    for name, samples in timing.items():
        print(f"original engine {name}: median {statistics.median(samples) * 1e3:.1f} ms (n={len(samples)})", file=sys.stderr)


def check(recorded: Path, problems: Path) -> int:
    from patchworld.envs.alfworld import AlfworldEnv
    from patchworld.envs.base import EnvError

    env, steps, bad = AlfworldEnv(problems=problems, client_view=False), 0, 0
    episodes = [json.loads(x) for x in recorded.read_text().splitlines() if x.strip()]
    for episode in episodes:
        env.reset(episode["task"])
        bad += env.reset_payload() != episode["reset_response"]
        for rec in episode["steps"]:
            steps += 1
            try:
                step = env.step(rec["action"])
                got = {"observation": step.observation, "reward": step.reward,
                       "available_actions": step.info["available_actions"], "done": step.done}
            except EnvError as exc:
                got = {"error": str(exc)}
            if got != rec["response"]:
                bad += 1
                print(f"task {episode['task']} {rec['action']!r}:\n  got {got}\n  expected {rec['response']}")
                break
    print(f"{len(episodes)} episodes, {steps} steps, {bad} mismatches")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("problems", type=Path)
    rec.add_argument("out", type=Path)
    rec.add_argument("--episodes", type=int, default=2)
    rec.add_argument("--seed", type=int, default=7)
    chk = sub.add_parser("check")
    chk.add_argument("recorded", type=Path)
    chk.add_argument("--problems", type=Path, default=DATA / "problems.jsonl")
    args = parser.parse_args()
    if args.mode == "record":
        record(args.problems, args.out, args.episodes, args.seed)
        return 0
    return check(args.recorded, args.problems)


if __name__ == "__main__":
    raise SystemExit(main())
