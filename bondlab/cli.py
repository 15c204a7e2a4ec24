"""The ``bondlab`` command. Each command module registers its own subcommands; this file only dispatches.

A command module exposes ``register(groups)`` where ``groups`` maps "toy", "lm" and "root" to argparse
sub-parser collections, and sets ``func`` on each parser it adds (``parser.set_defaults(func=run)``).
"""
from __future__ import annotations

import argparse
import importlib
import sys

# Add a module here to add its subcommands.
COMMAND_MODULES = [
    "bondlab.commands.toy_bon",
    "bondlab.commands.toy_distill",
    "bondlab.commands.toy_overopt",
    "bondlab.commands.lm",
    "bondlab.commands.demo",
    "bondlab.commands.hf",
    "bondlab.commands.notebooks",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bondlab", description="Best-of-N sampling and BOND, for teaching.")
    root = parser.add_subparsers(dest="command", metavar="COMMAND")
    toy = root.add_parser("toy", help="exact experiments on finite toy spaces").add_subparsers(dest="toy_command", metavar="TOY_COMMAND")
    lm = root.add_parser("lm", help="the tiny GPT: pretrain, sample, exact sequence-level Best-of-N").add_subparsers(dest="lm_command", metavar="LM_COMMAND")
    groups = {"root": root, "toy": toy, "lm": lm}
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(groups)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(func(args) or 0)
    except ValueError as e:  # bad input: one clear line, not a traceback
        print(f"bondlab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
