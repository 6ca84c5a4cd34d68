"""``patchworld baseline``: build one of the seed's baselines for an env, as a program to evaluate.

    patchworld baseline --method poe-world --env maze --out baselines/          # offline
    patchworld baseline --method poe-world --env maze --out baselines/ --llm   # + LLM rule experts
    patchworld baseline --method worldcoder --env maze --out baselines/ --budget 6
    patchworld baseline --method llm-direct --env maze --out baselines/

Writes ``<out>/<Label>/<env>.py`` (the program; ``patchworld evaluate`` labels a program file named
after its env by its folder, so its rows say ``PoE-World``, ``WorldCoder`` ...) and
``<out>/<Label>/<env>.json`` (what was done: settings, fit or search log, LLM calls and tokens),
then prints the ``patchworld evaluate`` command that puts it beside PatchWorld's points. LLM-Direct is trusted code that calls the LLM:
evaluate it with ``--llm-direct <env>`` (it runs in-process, never in the sandbox).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

METHODS = ("poe-world", "worldcoder", "llm-direct")
LABELS = {"poe-world": "PoE-World", "worldcoder": "WorldCoder", "llm-direct": "LLM-Direct"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--env", required=True, help="environment (its shipped train split is used)")
    parser.add_argument("--train", default=None, help="train trajectory file instead of the shipped one")
    parser.add_argument("--out", default="baselines", help="output folder (default baselines/)")
    parser.add_argument("--llm", action="store_true", help="poe-world: add LLM-written rule experts")
    parser.add_argument("--rounds", type=int, default=1, help="poe-world --llm: rule rounds (default 1)")
    parser.add_argument("--budget", type=int, default=6, help="worldcoder: rewrites after the drafts (default 6)")
    parser.add_argument("--drafts", type=int, default=2, help="worldcoder: initial whole programs (default 2)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="tokens per LLM reply (default: worldcoder 4096, a whole program; poe-world 1200, rules)")
    parser.add_argument("--k", type=int, default=4, help="llm-direct: retrieved train examples per call (default 4)")
    parser.add_argument("--seed", type=int, default=0)


def _fail(message: str) -> int:
    print(f"patchworld baseline: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from patchworld.data import load_trajectories
    from patchworld.demo import split_path
    from patchworld.methods.llm_access import LLMError, llm_from_env
    from patchworld.proposers.llm_client import RequestFailed

    try:
        train_path = Path(args.train) if args.train else split_path(args.env, "train")
        train = load_trajectories(train_path)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    out = Path(args.out) / LABELS[args.method]
    stem = args.env
    info: dict = {"method": args.method, "label": LABELS[args.method], "env": args.env, "train": str(train_path),
                  "seed": args.seed}
    chat = None
    try:
        if args.method != "poe-world" or args.llm:
            chat = llm_from_env()
        if args.method == "poe-world":
            from patchworld.methods.poe_world import induce_poe_world, poe_world_source

            model = induce_poe_world(train, args.env, chat, rounds=args.rounds, max_tokens=args.max_tokens or 1200)
            source = poe_world_source(model, args.env)
            info.update(fit=model.fit_log, weights=model.weights, rules=[r.to_dict() for r in model.rules])
        elif args.method == "worldcoder":
            from patchworld.methods.worldcoder import induce_worldcoder

            result = induce_worldcoder(args.env, train, chat, budget=args.budget, initial=args.drafts, seed=args.seed,
                                       max_tokens=args.max_tokens or 4096,
                                       progress=lambda line: print(f"  {line}", flush=True))
            source = result.best.program.source
            info.update(log=result.log, best={"accuracy": result.best.accuracy, "optimism": result.best.optimism,
                                              "token_f1": result.best.token_f1})
        else:
            from patchworld.methods.llm_direct import llm_direct_program

            source = llm_direct_program(args.env, str(train_path.resolve()), k=args.k).source
            info.update(k=args.k, note="trusted: evaluate with `patchworld evaluate --llm-direct ENV`")
    except (LLMError, RequestFailed, ValueError) as exc:
        return _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    if chat is not None:
        info["llm"] = {"calls": chat.calls, "cache_hits": chat.cache_hits, "prompt_tokens": chat.prompt_tokens,
                       "completion_tokens": chat.completion_tokens}
        print(chat.summary())
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.py").write_text(source, encoding="utf-8")
        (out / f"{stem}.json").write_text(json.dumps(info, indent=1, default=str) + "\n", encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {out}: {exc}")
    print(f"{LABELS[args.method]} for {args.env}: {out / f'{stem}.py'}")
    if args.method == "llm-direct":
        print(f"evaluate: patchworld evaluate --llm-direct {args.env} --out results/")
    else:
        print(f"evaluate: patchworld evaluate --programs {args.env}={out / f'{stem}.py'} --out results/")
    return 0
