"""`python main.py edit FILE [--depth ...] [--width ...] [--plain yes|no] [--shortcut A|B|C] -o OUT`.

Applies graph/stage_edits.py's changes to a project file and writes the result
(atomically, as every project file). No torch. Bad values exit 2 with one line
before anything is written.
"""

from __future__ import annotations

import argparse
import sys

from graph.errors import UserError


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("file")
    s.add_argument("-o", "--output", required=True)
    s.add_argument(
        "--depth",
        metavar="N|STAGE=N,...",
        help="block instances per stage: 9 (every stage) or layer1=9,layer2=5",
    )
    s.add_argument("--width", metavar="X|STAGE=X,...", help="channel multiplier: 2 (every stage) or layer3=2")
    s.add_argument("--plain", metavar="yes|no", help="yes: remove every shortcut (He et al.'s plain nets)")
    s.add_argument("--shortcut", metavar="A|B|C", help="projection of every stride/width-changing shortcut")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="a block parameter on every instance in the stages: "
        "cardinality=16 (ResNeXt's groups), base_width=4",
    )
    s.add_argument("--name", help="the edited project's name (its class name in generated code)")


def _value(text: str | None, flag: str, cast):
    """'9' -> 9 (every stage); 'layer1=9,layer2=5' stays a string for parse_stage_values."""
    if text is None or "=" in text:
        return text
    try:
        return cast(text.strip())
    except ValueError:
        raise UserError(f"{flag} expects a number or STAGE=VALUE pairs; got {text!r}") from None


def cmd_edit(args: argparse.Namespace) -> int:
    from graph.projectfile import load_project, save_project
    from graph.shapes import analyze
    from graph.stage_edits import variant_edit

    sets: dict[str, str] = {}
    for item in args.set:
        k, sep, v = item.partition("=")
        if not sep or not k.strip() or not v.strip():
            raise UserError(f"--set expects PARAM=VALUE; got {item!r}")
        sets[k.strip()] = v.strip()
    if (
        args.depth is None
        and args.width is None
        and args.plain is None
        and args.shortcut is None
        and not sets
    ):
        raise UserError("edit needs at least one of --depth, --width, --plain, --shortcut, --set")
    project = load_project(args.file)
    before = analyze(project)
    _, result = variant_edit(
        project,
        depth=_value(args.depth, "--depth", int),
        width=_value(args.width, "--width", float),
        plain=args.plain,
        shortcut=args.shortcut,
        params=sets,
    )
    if args.name:
        result.name = args.name
    after = analyze(result)
    save_project(result, args.output)
    sys.stdout.write(
        f"wrote {args.output}: {result.name}, {after.total_params:,} parameters "
        f"(was {before.total_params:,}), "
        f"{after.macs:,} MACs (was {before.macs:,})\n"
    )
    return 0


COMMANDS = {
    "edit": (
        "change stage depth, width, shortcuts of a project; write the result",
        add_arguments,
        cmd_edit,
    ),
}

__all__ = ["COMMANDS", "add_arguments", "cmd_edit"]
