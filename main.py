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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="skipwire", description="Design, verify and train convolutional networks as node graphs."
    )
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("open", help="open a project in the editor")
    s.add_argument("file")
    s.add_argument("--screenshot", metavar="PNG", help="render the window offscreen to PNG and exit")

    sub.add_parser("templates", help="list built-in templates")

    s = sub.add_parser("new", help="create a project from a template")
    s.add_argument("template")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--classes", type=int)
    s.add_argument("--input", metavar="C,H,W")
    s.add_argument("--shortcut", choices=["A", "B", "C"])
    s.add_argument(
        "--weights",
        metavar="imagenet[:v1|:v2]",
        help="start training from torchvision's ImageNet weights (torchvision-shaped templates)",
    )

    s = sub.add_parser("edit", help="change stage depth, width, shortcuts of a project; write the result")
    from graph.edit_cli import add_arguments as edit_arguments

    edit_arguments(s)

    s = sub.add_parser("validate", help="check a project; exit code 1 if invalid")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("summary", help="per-layer shapes, parameters, MACs")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--batch", type=int)
    s.add_argument(
        "--precision", choices=["fp32", "bf16"], help="with --batch: the training-memory estimate's"
    )
    s.add_argument("--device-memory", metavar="GIB", help="with --batch: does training fit this much memory?")

    s = sub.add_parser("export", help="write PyTorch code, a training script, ONNX or TorchScript")
    s.add_argument("file")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--format", default="module", choices=["module", "script", "onnx", "torchscript"])
    s.add_argument("--weights", help="state_dict (.safetensors, .pt) to bake into ONNX / TorchScript exports")

    s = sub.add_parser("import", help="trace a PyTorch module into a project")
    s.add_argument("target", metavar="MODULE:CALLABLE")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--input", metavar="C,H,W")
    s.add_argument(
        "--init",
        choices=["torch_default", "kaiming_fan_out", "kaiming_fan_in"],
        default="torch_default",
        help="weight rule of every Conv2d (default: PyTorch's own; the weights are not imported)",
    )

    s = sub.add_parser("train", help="train a project (also under torchrun --nproc_per_node N)")
    from training.cli import add_train_arguments

    add_train_arguments(s)

    s = sub.add_parser("sweep", help="train every combination of varied settings; CSV and Pareto chart")
    from training.sweep_cli import add_arguments as sweep_arguments

    sweep_arguments(s)

    s = sub.add_parser("evaluate", help="accuracy, loss and confusion matrix of a run")
    s.add_argument("rundir")
    s.add_argument("--dataset")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("inspect", help="every node's output and gradient on real samples; depth profile")
    from training.inspect_cli import add_arguments as inspect_arguments

    inspect_arguments(s)

    s = sub.add_parser("datasets", help="the known datasets and the download cache; fetch one")
    s.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    s.add_argument("name", nargs="?", help="with fetch: cifar10, cifar100, mnist or fashion_mnist")
    s.add_argument("--json", action="store_true")
    s.add_argument("--mirror", metavar="URL", help="fetch from URL/<file name> instead")

    s = sub.add_parser("runs", help="list training runs")
    s.add_argument("dir", nargs="?", default="runs")
    return p


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd in (None, "open"):
        from app.main_window import run_editor

        return run_editor(getattr(args, "file", None), getattr(args, "screenshot", None))
    if cmd in ("templates", "new", "validate", "summary"):
        from graph import cli

        return getattr(cli, f"cmd_{cmd}")(args)
    if cmd == "edit":
        from graph.edit_cli import cmd_edit

        return cmd_edit(args)
    if cmd == "sweep":
        from training.sweep_cli import cmd_sweep

        return cmd_sweep(args)
    if cmd == "inspect":
        from training.inspect_cli import cmd_inspect

        return cmd_inspect(args)
    if cmd in ("export", "import"):
        from codegen import cli

        return getattr(cli, f"cmd_{cmd}")(args)
    from training import cli

    return getattr(cli, f"cmd_{cmd}")(args)


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
