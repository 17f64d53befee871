"""`python main.py train | evaluate | runs` (docs/architecture.md "Contracts", README.md "Command line").

Progress goes to stderr (a one-line bar redrawn in place on a terminal, plain
lines otherwise); the per-epoch summary goes to stdout. The first Ctrl-C asks
the run to stop after the current step (the last epoch's checkpoint stays,
``--resume`` continues); a second one interrupts at once.
Exit codes: 0 finished (or stopped on request), 1 training failed or
diverged, 2 bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from graph.errors import UserError


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "?"
    s = round(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class ProgressBar:
    """A dependency-free progress bar fed with metric records."""

    def __init__(self, stream=None, out=None, width: int = 24, run_dir=None) -> None:
        self.stream = stream or sys.stderr
        self.run_dir = run_dir
        self.out = out or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self.total_steps = 0
        self.spe = 1
        self.epochs = 0
        self.last_draw = 0.0
        self.t0 = time.perf_counter()
        self.start_step = None
        self.download = None  # a CliProgress while a dataset or weights file downloads

    def __call__(self, rec: dict) -> None:
        kind = rec.get("kind")
        if kind == "status" and rec.get("state") == "downloading":
            if self.download is None:
                from training.download import CliProgress

                self.download = CliProgress(self.stream)
            self.download(rec.get("file", ""), int(rec.get("done", 0)), rec.get("total"))
        elif kind == "status":
            if rec.get("state") == "running" or rec.get("state") == "resumed":
                self.total_steps = rec.get("total_steps", 0)
                self.spe = rec.get("steps_per_epoch", 1)
                self.epochs = rec.get("epochs", 0)
                if self.run_dir is not None:  # only now: a refused dataset never creates the folder
                    self._line(f"run folder: {self.run_dir}")
                head, _, rest = str(rec.get("message", "")).partition("; ")  # "training; loaded 114 of ..."
                self._line(
                    f"{head} on {rec.get('device')}"
                    f"{' (CUDA graph fast path)' if rec.get('fast_path') else ''}: {rec.get('dataset', '')}"
                )
                self._line(rest)
            elif rec.get("state") in ("eager", "fast_path", "completed", "stopped"):
                self._line(rec.get("message", ""))
        elif kind == "error":
            self._clear()  # the message itself is printed once, as "skipwire: ..." (main.py)
        elif kind == "step":
            self._step(rec)
        elif kind == "epoch":
            self._clear()
            best = "  best" if rec.get("best") else ""
            self.out.write(
                f"epoch {rec['epoch']}/{self.epochs}  train loss {rec['train_loss']:.4f} acc "
                f"{rec['train_acc']:.2%}  val loss {rec['val_loss']:.4f} acc {rec['val_acc']:.2%}  "
                f"{rec['images_per_s']:,.0f} img/s  {rec['epoch_time_s']:.1f} s{best}\n"
            )
            self.out.flush()

    def _step(self, rec: dict) -> None:
        now = time.perf_counter()
        step = rec["step"]
        if self.start_step is None:
            self.start_step, self.t0 = step, now
        if not self.tty or now - self.last_draw < 0.1:
            return
        self.last_draw = now
        frac = step / self.total_steps if self.total_steps else 0.0
        done = int(frac * self.width)
        rate = (step - self.start_step) / max(now - self.t0, 1e-9)
        eta = (self.total_steps - step) / rate if rate > 0 else None
        epoch = min(self.epochs, (step - 1) // self.spe + 1)
        self.stream.write(
            f"\r  epoch {epoch}/{self.epochs} [{'#' * done}{'.' * (self.width - done)}] "
            f"{frac:4.0%} loss {rec['loss']:.4f} lr {rec['lr']:.3g} "
            f"{rec.get('images_per_s', 0):,.0f} img/s ETA {_fmt_time(eta)}  "
        )
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 100 + "\r")

    def _line(self, text: str) -> None:
        if text:
            self._clear()
            self.stream.write(text + "\n")
            self.stream.flush()


class _StopOnInterrupt:
    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def __enter__(self):
        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            sys.stderr.write("\nstopping after this step (Ctrl-C again to interrupt at once)\n")

        try:
            self._old = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)

    def __call__(self) -> bool:
        return self.requested


def add_train_arguments(s: argparse.ArgumentParser, with_file: bool = True) -> None:
    """The options of ``main.py train`` (and of an exported train.py, which holds its project)."""
    if with_file:
        s.add_argument("file", nargs="?", help="the project (not needed with --resume)")
    s.add_argument(
        "--dataset",
        help="synthetic (default) | cifar10 | cifar100 | mnist | fashion_mnist (downloaded into the cache) "
        "| the same with :DIR for your own copy | folder:DIR",
    )
    s.add_argument("--mirror", metavar="URL", help="fetch datasets from URL/<file name> instead")
    s.add_argument("--preset", help='"ResNet paper (CIFAR)" or "Fast" (forgiving: paper, fast)')
    s.add_argument("--epochs", type=int, help="number of epochs (with --resume: extend the run to this many)")
    s.add_argument("--batch-size", type=int, help="the global batch (under torchrun: split across processes)")
    s.add_argument("--lr", type=float, help="peak learning rate")
    s.add_argument("--seed", type=int)
    s.add_argument(
        "--weights",
        help="start from saved weights: .safetensors, .pt/.pth (weights only), a run folder, or "
        "imagenet[:v1|:v2] (torchvision's, downloaded into the cache)",
    )
    s.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        help="default: the project's setting (auto = cuda, then mps, then cpu)",
    )
    s.add_argument("--out", help="folder for run folders (default: runs)")
    s.add_argument("--resume", metavar="RUNDIR", help="continue a stopped run exactly where it stopped")
    s.add_argument(
        "--sync-bn",
        action="store_true",
        help="under torchrun on CUDA: SyncBatchNorm, statistics over the global batch (default: per process)",
    )


def cmd_train(args: argparse.Namespace, project=None) -> int:
    """``main.py train`` (``project``: an exported train.py's own project instead of ``args.file``).
    Under torchrun every process runs this; rank 0 reports (training/distributed.py)."""
    from training import distributed

    try:
        return _train(args, project)
    finally:
        distributed.finish()


def _train(args: argparse.Namespace, project) -> int:
    from training import distributed, engine, runs
    from training.config import TrainConfig, apply_preset

    bar = ProgressBar(run_dir=args.resume)
    with _StopOnInterrupt() as stop, _mirror(getattr(args, "mirror", None)):
        if args.resume:
            fixed = [
                flag
                for flag, v in (
                    ("--dataset", args.dataset),
                    ("--preset", args.preset),
                    ("--batch-size", args.batch_size),
                    ("--lr", args.lr),
                    ("--seed", args.seed),
                    ("--weights", args.weights),
                    ("--out", args.out),
                )
                if v is not None
            ]
            if fixed:
                raise UserError(
                    f"--resume continues a run with its own settings; {', '.join(fixed)} cannot "
                    f"change (only --epochs and --device can)"
                )
            if (
                args.file
                and Path(args.resume).resolve() != Path(args.file).resolve()
                and (Path(args.resume) / "project.json").exists()
            ):
                sys.stderr.write(
                    f"resuming {args.resume}: its own project.json and model.py are used "
                    f"({args.file} is not read)\n"
                )
            result = engine.resume(
                args.resume,
                on_metric=bar,
                should_stop=stop,
                epochs=args.epochs,
                device=None if args.device in (None, "auto") else args.device,
            )
        else:
            from graph.projectfile import load_project

            if project is None and not args.file:
                raise UserError("train needs a project file (or --resume RUNDIR)")
            if project is None:
                project = load_project(args.file)
            cfg = TrainConfig.from_project(project.training)
            if args.preset:
                cfg = apply_preset(cfg, args.preset)
            if args.batch_size is not None and args.batch_size < 1:
                raise UserError(f"--batch-size must be at least 1, not {args.batch_size}")
            cfg = cfg.with_overrides(
                dataset=args.dataset,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                weights=args.weights,
                device=args.device,
                sync_bn=getattr(args, "sync_bn", None) or None,
            )
            world = distributed.setup(cfg.device)  # under torchrun: rank 0 names the run folder
            run_dir = distributed.broadcast_object(runs.new_run_path(args.out or "runs", project.name), world)
            bar.run_dir = run_dir
            result = engine.train(project, cfg, run_dir, on_metric=bar, should_stop=stop)
    if result.status == "diverged":
        raise UserError(result.message, 1)
    if distributed.from_env().main:
        sys.stderr.write(f"run folder: {result.run_dir}\n")
    return 0


@contextlib.contextmanager
def _mirror(url: str | None):
    """``--mirror URL``: SKIPWIRE_DATASETS_URL for the duration of the command."""
    from training.sources import MIRROR_ENV

    if not url:
        yield
        return
    if not url.startswith(("http://", "https://")):
        raise UserError(f"--mirror must be an http:// or https:// URL, not {url!r}")
    old = os.environ.get(MIRROR_ENV)
    os.environ[MIRROR_ENV] = url
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(MIRROR_ENV, None)
        else:
            os.environ[MIRROR_ENV] = old


def cmd_datasets(args: argparse.Namespace) -> int:
    """``datasets [--json]``: known datasets, cache state, size, path; ``datasets fetch NAME``."""
    from training import download, sources
    from training.cache import cache_root
    from training.download import MB

    with _mirror(getattr(args, "mirror", None)):
        if args.action == "fetch":
            if not args.name:
                raise UserError(f"datasets fetch needs a name: {', '.join(sources.DATASETS)}")
            name = args.name.strip().lower().replace("-", "_")
            if name not in sources.DATASETS:
                raise UserError(f"unknown dataset {args.name!r}; known: {', '.join(sources.DATASETS)}")
            was = download.is_cached(name)
            with _StopOnInterrupt() as stop:
                path = download.ensure_dataset(
                    name,
                    on_progress=download.CliProgress(sys.stderr),
                    should_cancel=stop,
                    on_wait=lambda: sys.stderr.write(f"waiting for another download of {name} to finish\n"),
                )
            status = download.dataset_status(name)
            if args.json:
                sys.stdout.write(json.dumps(status) + "\n")
            else:
                sys.stdout.write(
                    f"{name}: {'already cached' if was else 'downloaded'}, {status['size'] / MB:,.1f} MB in "
                    f"{path}\n"
                )
            return 0
        if args.name:
            raise UserError("datasets takes a name only with fetch: python main.py datasets fetch NAME")
        rows = [download.dataset_status(n) for n in sources.DATASETS]
    if args.json:
        sys.stdout.write(json.dumps({"cache": str(cache_root()), "datasets": rows}, indent=2) + "\n")
        return 0
    table = [("name", "dataset", "state", "size", "path")]
    for r in rows:
        state = "cached" if r["cached"] else f"download {r['download_size'] / MB:,.0f} MB"
        size = f"{r['size'] / MB:,.1f} MB" if r["cached"] else "-"
        table.append((r["name"], r["title"], state, size, r["path"]))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        sys.stdout.write("  ".join(f"{v:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from training.download import CliProgress
    from training.evaluate import evaluate_run, format_report

    r = evaluate_run(args.rundir, dataset=args.dataset, on_progress=CliProgress(sys.stderr))
    if args.json:
        sys.stdout.write(json.dumps(r) + "\n")
    else:
        sys.stdout.write(format_report(r) + "\n")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from training.runs import list_runs

    items = list_runs(args.dir)
    if not items:
        sys.stdout.write(f"no runs in {args.dir}\n")
        return 0
    rows = [("run", "project", "status", "epochs", "best val acc", "dataset", "created")]
    for r in items:
        acc = f"{r.best_val_acc:.2%}" if isinstance(r.best_val_acc, (int, float)) else "-"
        rows.append(
            (r.name, r.project_name, r.status, f"{r.epochs_done}/{r.epochs}", acc, r.dataset, r.created)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        sys.stdout.write("  ".join(f"{v!s:<{w}}" for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def _evaluate_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("rundir")
    s.add_argument("--dataset")
    s.add_argument("--json", action="store_true")


def _datasets_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    s.add_argument("name", nargs="?", help="with fetch: cifar10, cifar100, mnist or fashion_mnist")
    s.add_argument("--json", action="store_true")
    s.add_argument("--mirror", metavar="URL", help="fetch from URL/<file name> instead")


def _runs_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("dir", nargs="?", default="runs")


# each command once: its help, its arguments, what runs it (main.py builds the parser from these)
COMMANDS = {
    "train": ("train a project (also under torchrun --nproc_per_node N)", add_train_arguments, cmd_train),
    "evaluate": ("accuracy, loss and confusion matrix of a run", _evaluate_arguments, cmd_evaluate),
    "datasets": ("the known datasets and the download cache; fetch one", _datasets_arguments, cmd_datasets),
    "runs": ("list training runs", _runs_arguments, cmd_runs),
}
