"""Headless subcommands that need only the graph package: templates, new,
validate, summary. None of them imports torch (docs/architecture.md).

Each ``cmd_*`` takes the argparse namespace and returns the exit code: 0 ok,
1 the project is invalid, 2 bad input (raised as UserError, which main.py
prints as one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from graph.diagnostics import Diagnostic
from graph.errors import UserError
from graph.model import Project
from graph.projectfile import load_project, save_project

MAX_LISTED = 50  # diagnostics printed in text mode before "... and N more"


def _out() -> TextIO:
    return sys.stdout


def _err(message: str) -> None:
    sys.stderr.write(f"skipwire: {message}\n")


# ------------------------------------------------------------------ templates
def cmd_templates(args: argparse.Namespace) -> int:
    from graph.templates import all_templates

    infos = all_templates()  # CIFAR first, then ImageNet, natural order within (plain20 before plain110)
    if not infos:
        _out().write("no templates\n")
        return 0
    name_w = max(len(t.name) for t in infos)
    fam_w = max(len(t.family) for t in infos)
    for t in infos:
        extra = "  [--shortcut A|B|C]" if t.shortcut_options else ""
        _out().write(f"{t.name.ljust(name_w)}  {t.family.ljust(fam_w)}  {t.doc}{extra}\n")
    return 0


# ------------------------------------------------------------------ new
def cmd_new(args: argparse.Namespace) -> int:
    """Build a template; make() checks --classes/--input/--shortcut (exit 2) and validates (exit 1)."""
    from graph.shapes import analyze
    from graph.templates import make

    project = make(
        args.template,
        getattr(args, "classes", None),
        getattr(args, "input", None),
        getattr(args, "shortcut", None),
    )
    analysis = analyze(project)
    weights = getattr(args, "weights", None)
    note = ""
    if weights:
        from graph.pretrained import with_weights

        arch, version = with_weights(project, weights)  # refused here if the template is not torchvision's
        note = (
            f"; starts from ImageNet weights ({arch.name} {version.upper()}, downloaded when training starts)"
        )
    save_project(project, args.output)
    _out().write(
        f"wrote {args.output}: {project.name}, {analysis.total_params:,} parameters, "
        f"output {_shape(analysis.output_shape)}{note}\n"
    )
    return 0


# ------------------------------------------------------------------ validate
def cmd_validate(args: argparse.Namespace) -> int:
    from graph.shapes import analyze

    project = load_project(args.file)
    analysis = _analyze(analyze, project, args.file)
    errors = analysis.errors
    if getattr(args, "json", False):
        payload = {
            "valid": analysis.valid,
            "diagnostics": [_with_instances(analysis, d) for d in analysis.diagnostics],
            "errors": len(errors),
            "warnings": len(analysis.diagnostics) - len(errors),
            "output_shape": list(analysis.output_shape) if analysis.output_shape else None,
            "total_params": analysis.total_params,
        }
        _out().write(json.dumps(payload, indent=2) + "\n")
    else:
        _print_diagnostics(analysis.diagnostics, _out(), analysis)
        if analysis.valid:
            _out().write(
                f"{args.file}: valid; {analysis.total_params:,} parameters, output "
                f"{_shape(analysis.output_shape)}"
                + (f", {len(analysis.diagnostics)} warning(s)" if analysis.diagnostics else "")
                + "\n"
            )
    if not analysis.valid:
        _err(f"{args.file} is invalid: {len(errors)} error(s); first: {_one_line(errors[0].message)}")
        return 1
    return 0


# ------------------------------------------------------------------ summary
def _device_bytes(text: str | None) -> int | None:
    """--device-memory: GiB as a number ("80", "139.8")."""
    if text is None:
        return None
    try:
        gib = float(str(text).lower().removesuffix("gib").strip())
    except ValueError:
        gib = -1.0
    if not gib > 0:
        raise UserError(f"--device-memory takes the device's memory in GiB, such as 80; got {text!r}", 2)
    return int(gib * 2**30)


def cmd_summary(args: argparse.Namespace) -> int:
    from graph.shapes import analyze
    from graph.summary import render_table, summarize

    batch = getattr(args, "batch", None)
    if batch is not None and batch < 1:
        raise UserError(f"--batch must be at least 1; got {batch}", 2)
    project = load_project(args.file)
    analysis = _analyze(analyze, project, args.file)
    if not analysis.valid:
        _print_diagnostics(analysis.errors, sys.stderr, analysis)
        _err(
            f"{args.file} is invalid: {len(analysis.errors)} error(s); first: "
            f"{_one_line(analysis.errors[0].message)}"
        )
        return 1
    device = _device_bytes(getattr(args, "device_memory", None))
    summary = summarize(analysis, batch, getattr(args, "precision", None) or "fp32", device)
    if getattr(args, "json", False):
        _out().write(json.dumps(summary, indent=2) + "\n")
    else:
        _out().write(f"{project.name}\n")
        _out().write(render_table(summary))
    return 0


# ------------------------------------------------------------------ helpers
def _analyze(analyze, project: Project, source: str):
    try:
        return analyze(project)
    except RecursionError:
        raise UserError(f"{source}: the project is nested too deeply to analyse", 1) from None


def _where(d: Diagnostic, analysis=None) -> str:
    parts = []
    if d.block is not None:
        parts.append(f"block {d.block}")
    if d.node is not None:
        parts.append(f"node {d.node}")
    if d.edge is not None:
        parts.append(f"edge {d.edge}")
    text = ", ".join(parts) or "project"
    paths = _instances(analysis, d) if analysis is not None else []
    if paths:
        shown = ", ".join(paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
        text += f"; in {shown}"
    return text


def _instances(analysis, d: Diagnostic) -> list[str]:
    """Module paths of the block instances where a block's diagnostic happens (often only some: the
    stride-2 ones), for a reader of the command line who cannot double-click into the editor."""
    if d.block is None or (d.node is None and d.edge is None):
        return []
    from graph.shapes import module_path

    out: list[str] = []

    def walk(info, prefix: str) -> None:
        for node_id in info.order:
            ni = info.nodes.get(node_id)
            if ni is None or ni.children is None:
                continue
            path = module_path(info.graph, ni.node, prefix)
            child = ni.children
            if child.block == d.block:
                inner = child.nodes.get(d.node) if d.node is not None else None
                if (inner is not None and inner.error) or (d.edge is not None and d.node is None):
                    out.append(path)
            walk(child, path + ".")

    walk(analysis.root, "")
    return out


def _with_instances(analysis, d: Diagnostic) -> dict:
    data = d.to_dict()
    if d.block is not None:
        data["instances"] = _instances(analysis, d)
    return data


def _print_diagnostics(diags: list[Diagnostic], stream: TextIO, analysis=None) -> None:
    ordered = sorted(diags, key=lambda d: not d.is_error)
    for d in ordered[:MAX_LISTED]:
        stream.write(f"{d.severity}: [{d.code}] ({_where(d, analysis)}) {d.message}\n")
        stream.writelines(f"    fix: {f.label}\n" for f in d.fixes)
    if len(ordered) > MAX_LISTED:
        stream.write(f"... and {len(ordered) - MAX_LISTED} more\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shape(shape) -> str:
    return "?" if shape is None else "x".join(str(s) for s in shape)


def _new_arguments(s: argparse.ArgumentParser) -> None:
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


def _validate_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("file")
    s.add_argument("--json", action="store_true")


def _summary_arguments(s: argparse.ArgumentParser) -> None:
    _validate_arguments(s)
    s.add_argument("--batch", type=int)
    s.add_argument(
        "--precision", choices=["fp32", "bf16"], help="with --batch: the training-memory estimate's"
    )
    s.add_argument("--device-memory", metavar="GIB", help="with --batch: does training fit this much memory?")


# each command once: its help, its arguments, what runs it (main.py builds the parser from these)
COMMANDS = {
    "templates": ("list built-in templates", lambda s: None, cmd_templates),
    "new": ("create a project from a template", _new_arguments, cmd_new),
    "validate": ("check a project; exit code 1 if invalid", _validate_arguments, cmd_validate),
    "summary": ("per-layer shapes, parameters, MACs", _summary_arguments, cmd_summary),
}

__all__ = ["COMMANDS", "cmd_new", "cmd_summary", "cmd_templates", "cmd_validate"]
