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


__all__ = ["cmd_export", "cmd_import"]
