"""Skipwire: the editor by default, subcommands for headless use.

Exit codes: 0 success; 1 the project is invalid or training failed;
2 bad input (unreadable file, not a project, bad arguments).
Each subcommand lives beside the package it drives; imports are lazy so that
`validate` and `summary` never import torch and the editor shows fast.
"""

from __future__ import annotations

import argparse
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit code 2 with one plain line, no usage dump
        sys.stderr.write(f"skipwire: {message}\n")
        sys.exit(2)


# where each command is declared (help, arguments, handler: the module's COMMANDS), in help order;
# none of these modules imports torch or Qt at its top
_COMMAND_MODULES = (
    "graph.cli",
    "graph.edit_cli",
    "codegen.cli",
    "training.cli",
    "training.sweep_cli",
    "training.inspect_cli",
)
_ORDER = (
    "templates", "new", "edit", "validate", "summary", "export", "import",
    "train", "sweep", "evaluate", "inspect", "datasets", "runs",
)  # fmt: skip


def commands() -> dict:
    """name -> (help, add_arguments, handler), from the packages' COMMANDS tables."""
    import importlib

    table: dict = {}
    for module in _COMMAND_MODULES:
        table.update(importlib.import_module(module).COMMANDS)
    return {name: table[name] for name in _ORDER}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="skipwire", description="Design, verify and train convolutional networks as node graphs."
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    s = sub.add_parser("open", help="open a project in the editor")
    s.add_argument("file")
    s.add_argument("--screenshot", metavar="PNG", help="render the window offscreen to PNG and exit")
    for name, (help_text, add_arguments, _run) in commands().items():
        add_arguments(sub.add_parser(name, help=help_text))
    return p


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in (None, "open"):
        from app.main_window import run_editor

        return run_editor(getattr(args, "file", None), getattr(args, "screenshot", None))
    return commands()[args.command][2](args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from graph.errors import UserError

    try:
        return _dispatch(args)
    except UserError as exc:
        sys.stderr.write(f"skipwire: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("skipwire: interrupted\n")
        return 130
    except MemoryError:
        sys.stderr.write("skipwire: out of memory\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
