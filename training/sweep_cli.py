"""`python main.py sweep FILE --vary depth=3,5 [--vary plain=yes,no] --epochs N --dataset SPEC --out DIR`
and `python main.py sweep --resume DIR` (training/sweep.py does the work; `--backend ray [--address
auto|ray://HOST:10001]` trains on a Ray cluster, training/sweep_ray.py).

Progress goes to stderr, one line per run and per epoch; the CSV and the charts'
paths at the end. Exit codes: 0 every run finished (or the sweep was stopped on
request; --resume continues), 1 a run failed, 2 bad input (before any training).
"""

from __future__ import annotations

import argparse
import sys

from graph.errors import UserError


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("file", nargs="?", help="the base project (not with --resume)")
    s.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="depth, width, shortcut (A|B|C), plain (yes|no), lr, batch_size, weight_decay; repeat the flag",
    )
    s.add_argument("--epochs", type=int)
    s.add_argument("--dataset", help="synthetic (default) | mnist:DIR | cifar10:DIR | folder:DIR")
    s.add_argument("--out", metavar="DIR", help="the sweep folder (run folders, sweep.csv, pareto.png/.svg)")
    s.add_argument("--repeats", type=int, default=1, help="runs per configuration (seeds seed, seed+1, ...)")
    s.add_argument("--parallel", default="1", help="1 (default), N, or auto (wider only where memory fits)")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--seed", type=int)
    s.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    s.add_argument("--resume", metavar="DIR", help="continue a stopped or killed sweep")
    s.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local: this machine's pool (default); ray: on a Ray cluster (pip install 'skipwire[ray]')",
    )
    s.add_argument(
        "--address",
        metavar="auto|ray://HOST:10001",
        help="with --backend ray: the cluster (auto: the one started here with `ray start`); "
        "default: a Ray instance of this machine, started for the sweep",
    )
    s.add_argument(
        "--trial-cpus", type=int, default=1, help="with --backend ray: CPUs per trial when trials run on CPUs"
    )


def _log(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def cmd_sweep(args: argparse.Namespace) -> int:
    from training.cli import _StopOnInterrupt
    from training.sweep import parse_vary, resume_sweep, run_sweep

    ray = None
    if args.backend == "ray":
        ray = {"address": args.address, "trial_cpus": args.trial_cpus}
    elif args.address or args.trial_cpus != 1:
        raise UserError("--address and --trial-cpus go with --backend ray")
    with _StopOnInterrupt() as stop:
        if args.resume:
            fixed = [
                flag
                for flag, v in (
                    ("FILE", args.file),
                    ("--vary", args.vary),
                    ("--epochs", args.epochs),
                    ("--dataset", args.dataset),
                    ("--out", args.out),
                    ("--batch-size", args.batch_size),
                    ("--lr", args.lr),
                    ("--seed", args.seed),
                )
                if v
            ]
            if fixed or args.repeats != 1:
                fixed += ["--repeats"] if args.repeats != 1 else []
                raise UserError(
                    f"--resume continues a sweep with its own settings; {', '.join(fixed)} cannot be given "
                    f"(only --parallel, --device and the --backend flags can)"
                )
            result = resume_sweep(
                args.resume, parallel=args.parallel, device=args.device, log=_log, should_stop=stop, ray=ray
            )
        else:
            if not args.file:
                raise UserError("sweep needs a project file (or --resume DIR)")
            if not args.out:
                raise UserError("sweep needs --out DIR (the folder for its runs, sweep.csv and pareto.png)")
            if not args.vary:
                raise UserError("sweep needs at least one --vary NAME=V1,V2 (for example --vary depth=3,5)")
            if args.epochs is not None and args.epochs < 1:
                raise UserError(f"--epochs must be at least 1; got {args.epochs}")
            if args.batch_size is not None and args.batch_size < 1:
                raise UserError(f"--batch-size must be at least 1; got {args.batch_size}")
            from graph.projectfile import load_project

            axes = parse_vary(args.vary)
            project = load_project(args.file)
            result = run_sweep(
                project,
                axes,
                args.out,
                epochs=args.epochs,
                dataset=args.dataset,
                repeats=args.repeats,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                device=args.device,
                parallel=args.parallel,
                log=_log,
                should_stop=stop,
                ray=ray,
            )
    for row in result.rows:
        acc = row["best_val_acc"]
        shown = (
            "-"
            if acc is None
            else f"{acc:.2%}"
            + (f" ± {row['best_val_acc_std']:.2%}" if row["repeats"] > 1 and row["best_val_acc_std"] else "")
        )
        sys.stdout.write(
            f"{row['config']:<32} {row['params']:>12,} params {row['macs']:>15,} MACs  best val acc {shown}\n"
        )
    return 1 if result.status == "failed" else 0


COMMANDS = {
    "sweep": (
        "train every combination of varied settings; CSV and Pareto chart",
        add_arguments,
        cmd_sweep,
    ),
}

__all__ = ["COMMANDS", "add_arguments", "cmd_sweep"]
