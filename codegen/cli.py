"""``export`` and ``import`` subcommands (main.py dispatches here).

Each ``cmd_*`` returns the exit code; problems are raised as UserError, which
main.py prints as one plain message (exit 2 bad input, 1 invalid project).
"""

from __future__ import annotations

import argparse
import sys


def cmd_export(args: argparse.Namespace) -> int:
    from codegen.export import export
    from graph.projectfile import load_project

    project = load_project(args.file)
    fmt = getattr(args, "format", None) or "module"
    result = export(project, args.output, fmt, getattr(args, "weights", None))
    detail = ""
    if fmt == "onnx" and isinstance(result, dict):
        if not result.get("checked"):
            detail = " (not checked: the onnx package is not installed)"
        elif result.get("max_abs_diff") is None:
            detail = " (onnx.checker passed; onnxruntime is not installed to compare outputs)"
        else:
            detail = f" (onnx.checker passed; onnxruntime {_matches(result)})"
    elif fmt == "torchscript" and isinstance(result, dict):
        detail = f" (torch.jit.{result['method']}; reloaded {_matches(result)})"
    sys.stdout.write(f"wrote {args.output}: {fmt}{detail}\n")
    return 0


def _matches(result: dict) -> str:
    return (
        f'matches torch on "{result["output"]}": max|diff| {result["max_abs_diff"]:.1e} '
        f"<= allowed {result['allowed']:.1e}"
    )


def cmd_import(args: argparse.Namespace) -> int:
    from codegen.fx_import import import_target
    from graph.projectfile import save_project
    from graph.shapes import analyze

    shape = None
    if getattr(args, "input", None):
        from graph.templates import parse_input_shape

        shape = tuple(parse_input_shape(args.input))
    result = import_target(args.target, shape, init=getattr(args, "init", None) or "torch_default")
    for warning in result.warnings:
        sys.stderr.write(f"skipwire: warning: {warning}\n")
    analysis = analyze(result.project)
    if result.tracer != "torch.fx":
        sys.stdout.write(f"traced with {result.tracer}\n")
    if result.check is not None:
        sys.stdout.write(result.check.text() + "\n")
    save_project(result.project, args.output)
    blocks = len(result.project.blocks)
    sys.stdout.write(
        f"wrote {args.output}: {result.project.name}, {analysis.total_params:,} parameters, "
        f"{len(result.project.graph.nodes)} nodes, {blocks} block definition(s), "
        f"output {'x'.join(map(str, analysis.output_shape or ()))}\n"
    )
    return 0


def _export_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("file")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--format", default="module", choices=["module", "script", "onnx", "torchscript"])
    s.add_argument("--weights", help="state_dict (.safetensors, .pt) to bake into ONNX / TorchScript exports")


def _import_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("target", metavar="MODULE:CALLABLE")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--input", metavar="C,H,W")
    s.add_argument(
        "--init",
        choices=["torch_default", "kaiming_fan_out", "kaiming_fan_in"],
        default="torch_default",
        help="weight rule of every Conv2d (default: PyTorch's own; the weights are not imported)",
    )


COMMANDS = {
    "export": ("write PyTorch code, a training script, ONNX or TorchScript", _export_arguments, cmd_export),
    "import": ("trace a PyTorch module into a project", _import_arguments, cmd_import),
}

__all__ = ["COMMANDS", "cmd_export", "cmd_import"]
