"""The ``patchworld`` command: a thin dispatcher to :mod:`patchworld.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys

from patchworld.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchworld", description="PatchWorld workbench: induce executable world models of text agents."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(f"patchworld.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"patchworld.commands.{name}":
                raise
            sub_parser.set_defaults(_missing=name)
            continue
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, dispatch, and turn a user's situation (locked or full run folder, an LLM refusal, Ctrl-C)
    into one line on stderr instead of a traceback. Programming errors still show theirs."""
    args = build_parser().parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"patchworld {args._missing}: not available in this build", file=sys.stderr)
        return 2
    from patchworld.commands.checks import USER_ERRORS, one_line

    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"patchworld {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, USER_ERRORS()):
            print(one_line(args.command, exc), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
