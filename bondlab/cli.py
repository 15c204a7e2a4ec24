"""The ``bondlab`` command. Each command module registers its own subcommands; this file only dispatches.

A command module exposes ``register(groups)`` where ``groups`` maps "toy", "lm" and "root" to argparse
sub-parser collections, and sets ``func`` on each parser it adds (``parser.set_defaults(func=run)``), and
``check`` when it has checks to make before any work (``check(args)`` raises ValueError naming the flag).
Single values are checked when parsed (bondlab.commands._args); ``check`` does what needs several flags:
outputs (never clobbered without --force), memory, a model's limits. Then ``func`` does the work.
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
    "bondlab.commands.lm_train",
    "bondlab.commands.demo",
    "bondlab.commands.hf",
    "bondlab.commands.notebooks",
]


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line naming the flag (and a pointer to --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bondlab", description="Best-of-N sampling and BOND, for teaching.")
    root = parser.add_subparsers(dest="command", metavar="COMMAND")
    toy = root.add_parser("toy", help="exact experiments on finite toy spaces").add_subparsers(dest="toy_command", metavar="TOY_COMMAND")
    lm = root.add_parser("lm", help="the tiny GPT: pretrain, sample, exact sequence-level Best-of-N, train with J-BOND or REINFORCE").add_subparsers(dest="lm_command", metavar="LM_COMMAND")
    groups = {"root": root, "toy": toy, "lm": lm}
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(groups)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:                 # a flag this subcommand does not read: name it, and the subcommand
            words = [args.command, getattr(args, f"{args.command}_command", None)] if args.command else []
            prog = " ".join(["bondlab", *(w for w in words if w)])
            parser.exit(2, f"{prog}: error: {prog} does not take {' '.join(extra)} (see {prog} --help)\n")
    except SystemExit as e:       # argparse has printed the usage error (or the help); keep main() returning
        return e.code if isinstance(e.code, int) else 2
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        check = getattr(args, "check", None)
        if check is not None:
            check(args)              # everything that can be refused is refused here, before any work
        return int(func(args) or 0)
    except ValueError as e:  # bad input: one clear line, not a traceback
        print(f"bondlab: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
