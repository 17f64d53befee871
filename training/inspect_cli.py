"""`python main.py inspect FILE [--run RUNDIR | --weights FILE] [--dataset SPEC | --image FILE]
[--samples N] [--node NAME] [--json] [--png OUT] [--csv OUT] [--compare FILE2]`.

Every node's output statistics and gradient norm on real samples (training/inspect.py). Text: one
line per node; ``--json``: one record per node; ``--png``/``--svg`` suffix: the depth profile (with
``--compare``, the other projects' beside it), or with ``--node`` that node's feature maps.
Exit codes: 0 done, 1 the project is invalid, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from graph.errors import UserError


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("file", help="the project")
    w = s.add_mutually_exclusive_group()
    w.add_argument("--run", metavar="RUNDIR", help="the latest checkpoint of a run of this project")
    w.add_argument("--weights", metavar="FILE", help="a state_dict: .safetensors, .pt/.pth (weights only)")
    s.add_argument("--seed", type=int, default=0, help="seed of the initialisation (without --run/--weights)")
    s.add_argument(
        "--dataset",
        help="samples from: synthetic | cifar10 | mnist | ... | folder:DIR (default: the project's)",
    )
    s.add_argument(
        "--image", action="append", default=[], metavar="FILE", help="an image file as a sample (repeat)"
    )
    s.add_argument(
        "--resize", action="store_true", help="scale and convert --image files to the project's input"
    )
    s.add_argument("--samples", type=int, default=16, help="how many validation images (default 16)")
    s.add_argument("--node", metavar="NAME", help="one node, by its attribute path (layer1.0.conv1)")
    s.add_argument("--mode", choices=["train", "eval"], help="BatchNorm statistics: batch (train) or running")
    s.add_argument("--no-backward", action="store_true", help="skip the backward pass (no gradient norms)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--png", metavar="OUT", help="the depth profile (or --node's feature maps); .png or .svg")
    s.add_argument("--csv", metavar="OUT", help="the numbers, one row per node")
    s.add_argument(
        "--compare", action="append", default=[], metavar="FILE", help="another project for the profile"
    )


def _weights(args: argparse.Namespace):
    from training.inspect_inputs import WeightsChoice

    if args.run:
        return WeightsChoice("run", args.run, args.seed)
    if args.weights:
        return WeightsChoice("file", args.weights, args.seed)
    return WeightsChoice("init", None, args.seed)


def cmd_inspect(args: argparse.Namespace) -> int:
    from graph.projectfile import load_project
    from training import inspect_chart
    from training.inspect import run_inspection

    if args.samples < 1:
        raise UserError(f"--samples must be at least 1, got {args.samples}")
    if args.compare and args.node:
        raise UserError("--compare draws depth profiles; it does not go with --node")
    projects = [load_project(args.file)] + [load_project(f) for f in args.compare]
    results = []
    for i, project in enumerate(projects):
        results.append(
            run_inspection(
                project,
                _weights(args) if i == 0 else None,
                args.dataset,
                args.image or None,
                args.samples,
                not args.no_backward,
                args.mode,
                args.resize,
            )
        )
    main = results[0]
    record = main.record(args.node) if args.node else None
    if args.png:
        if record is not None:
            inspect_chart.write_maps(record, args.png)
        else:
            inspect_chart.write_profile(results, args.png)
    if args.csv:
        inspect_chart.write_csv(results, args.csv)
    out = sys.stdout
    if args.json:
        recs = [record] if record is not None else main.records
        doc = {
            "project": main.project,
            "weights": main.weights,
            "samples": main.samples,
            "count": main.count,
            "mode": main.mode,
            "loss": main.loss,
            "nodes": [r.as_dict() for r in recs],
        }
        out.write(json.dumps(doc, indent=1) + "\n")
    else:
        out.write(format_text(main, record))
    for path in (args.png, args.csv):
        if path:
            sys.stderr.write(f"wrote {path}\n")
    return 0


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3g}"


def format_text(ins, record=None) -> str:
    lines = [
        f"{ins.project}: {ins.weights}; {ins.samples}; BatchNorm in {ins.mode} mode"
        + (f"; gradients of {ins.loss}" if ins.loss else ""),
    ]
    recs = [record] if record is not None else ins.records
    w = max([len("  " * r.depth + r.name) for r in recs] + [4])
    tw = max([len(r.type) for r in recs] + [4])
    lines.append(
        f"{'node'.ljust(w)}  {'type'.ljust(tw)}  {'shape':>12}  {'mean':>9}  {'std':>9}  {'zeros':>6}  "
        f"{'dead':>6}  {'grad norm':>9}  inputs (norm)"
    )
    for r in recs:
        extra = ", ".join(f"{label} {v:.3g}" for label, v in r.inputs)
        if r.saturated_fraction is not None:
            extra = (extra + "; " if extra else "") + f"saturated {r.saturated_fraction:.1%}"
        lines.append(
            f"{('  ' * r.depth + r.name).ljust(w)}  {r.type.ljust(tw)}  {'x'.join(map(str, r.shape)):>12}  "
            f"{_num(r.mean):>9}  {_num(r.std):>9}  {r.zero_fraction:>6.1%}  {r.dead_fraction:>6.1%}  "
            f"{_num(r.grad_norm):>9}  {extra}".rstrip()
        )
    if record is None and ins.unobserved:
        lines.append(f"not shown: {', '.join(f'{k} ({v})' for k, v in ins.unobserved.items())}")
    return "\n".join(lines) + "\n"


COMMANDS = {
    "inspect": (
        "every node's output and gradient on real samples; depth profile",
        add_arguments,
        cmd_inspect,
    ),
}

__all__ = ["COMMANDS", "add_arguments", "cmd_inspect", "format_text"]
