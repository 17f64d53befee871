"""Sweeps: every combination of a few varied settings, each trained as an ordinary run.

::

    axes = parse_vary(["depth=3,5", "plain=yes,no"])
    configs = plan(project, axes, batch_size=128)   # no torch: variants, params, MACs, memory
    result = run_sweep(project, axes, "sweeps/depth", epochs=1, dataset="synthetic")
    result = resume_sweep("sweeps/depth")          # a killed sweep continues where it stopped

Axes: ``depth`` (block instances per stage, every stage of block instances),
``width`` (channel multiplier), ``shortcut`` (A, B, C), ``plain`` (yes, no),
``cardinality`` and ``base_width`` (ResNeXt's block parameters) change the graph
through graph/stage_edits.py; ``lr``, ``batch_size``, ``weight_decay``
change the training settings. Every variant is built and checked before the
first run starts: bad input raises UserError (exit 2) before any training.

The sweep folder::

    DIR/sweep.json          what was asked (the base project, axes, settings) and the run folders
    DIR/01-depth-3-plain-yes-r1/   one ordinary run folder per configuration and repeat
    DIR/sweep.csv           one row per configuration: cost, accuracy (mean and std over repeats), time
    DIR/pareto.png, .svg    accuracy against parameters and against MACs, the Pareto front

The CSV and the charts are rewritten after every finished run. ``ray={...}``
trains on a Ray cluster instead (training/sweep_ray.py, the ray extra). Runs go one at
a time by default; ``parallel="auto"`` starts one and, on a CUDA device only,
goes wider when the first run's measured peak memory (scaled by each
configuration's estimated cost) says the next one fits; ``parallel=N`` runs N
at once (each in its own process, as the editor's runs).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.errors import UserError
from graph.model import Project

GRAPH_AXES = ("depth", "width", "shortcut", "plain", "cardinality", "base_width")
BLOCK_PARAM_AXES = ("cardinality", "base_width")  # block parameters of every instance (ResNeXt's knobs)
TRAIN_AXES: dict[str, type] = {"lr": float, "batch_size": int, "weight_decay": float}
AXES = GRAPH_AXES + tuple(TRAIN_AXES)
FORMAT = "skipwire-sweep"
MAX_CONFIGS = 500
MAX_PARALLEL = 8
CONTEXT_MB = 800.0  # a CUDA process's own memory (context, kernels) beyond what torch allocates
CSV_COLUMNS = (
    "config",
    *AXES,
    "params",
    "macs",
    "activation_mb",
    "repeats",
    "runs_done",
    "final_val_acc",
    "final_val_acc_std",
    "best_val_acc",
    "best_val_acc_std",
    "train_time_s",
    "images_per_s",
    "status",
    "runs",
)


@dataclass
class Axis:
    name: str
    values: list[str]


@dataclass
class Config:
    index: int
    values: dict[str, str]
    project: Project  # the variant (graph axes applied), named after its base
    params: int
    macs: int
    activation_bytes: int
    batch_size: int

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items()) or "base"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.label).strip("-").lower()[:60] or "base"

    def run_name(self, repeat: int) -> str:
        return f"{self.index + 1:02d}-{self.slug}-r{repeat + 1}"

    def cost_estimate(self) -> float:
        """Relative memory of a training step: weights, gradients, momentum and a few activations."""
        return self.params * 16.0 + self.activation_bytes * 3.0


@dataclass
class SweepResult:
    out_dir: Path
    rows: list[dict] = field(default_factory=list)
    status: str = "completed"  # completed | stopped | failed (some run failed; the rest finished)
    csv_path: Path | None = None
    png_path: Path | None = None
    svg_path: Path | None = None


# ------------------------------------------------------------------ parsing and planning
def parse_vary(texts: Sequence[str]) -> list[Axis]:
    """``["depth=3,5", "plain=yes,no"]`` -> axes, in the order given."""
    axes: list[Axis] = []
    for text in texts or []:
        name, sep, rest = str(text).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UserError(f"--vary expects NAME=V1,V2,...; got {text!r}")
        if name not in AXES:
            raise UserError(f"--vary {name}: unknown setting; one of {', '.join(AXES)}")
        if any(a.name == name for a in axes):
            raise UserError(f"--vary {name} is given twice; list all its values once ({name}=a,b,c)")
        values = [v.strip() for v in rest.split(",") if v.strip()]
        if not values:
            raise UserError(f"--vary {name}: no values given")
        if len(set(values)) != len(values):
            raise UserError(f"--vary {name}: a value is listed twice ({rest})")
        axes.append(Axis(name, values))
    return axes


def train_value(axis: str, value: str) -> Any:
    cast = TRAIN_AXES[axis]
    try:
        v = cast(value)
    except ValueError:
        raise UserError(
            f"--vary {axis}: {value!r} is not a {'whole ' if cast is int else ''}number"
        ) from None
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0) and not (
        axis == "weight_decay" and v == 0
    ):
        raise UserError(f"--vary {axis}: {value!r} must be a positive number")
    return v


def plan(project: Project, axes: Sequence[Axis], batch_size: int = 128) -> list[Config]:
    """Every combination, in the order of the axes (the last varies fastest), built and checked.

    No torch: the variants come from graph/stage_edits.py, the costs from shape inference.
    """
    from graph.shapes import analyze
    from graph.stage_edits import variant_edit

    base = analyze(project)
    if not base.valid:
        first = " ".join(str(base.errors[0].message).split())
        raise UserError(f"the project is invalid ({len(base.errors)} error(s); first: {first})", 1)
    combos = list(itertools.product(*[a.values for a in axes]))
    if len(combos) > MAX_CONFIGS:
        raise UserError(f"the sweep has {len(combos):,} configurations; at most {MAX_CONFIGS} are allowed")
    out: list[Config] = []
    for i, combo in enumerate(combos):
        values = {a.name: v for a, v in zip(axes, combo, strict=True)}
        graph_kw = {k: v for k, v in values.items() if k in GRAPH_AXES}
        for k, v in values.items():
            if k in TRAIN_AXES:
                train_value(k, v)
        label = " ".join(f"{k}={v}" for k, v in values.items())
        try:
            if graph_kw:
                _, variant = variant_edit(project, **_graph_kwargs(graph_kw))
            else:
                from graph.projectfile import project_from_dict

                variant = project_from_dict(project.to_dict())
        except UserError as exc:
            raise UserError(f"configuration {label}: {exc.message}", exc.exit_code) from None
        a = analyze(variant)
        batch = int(values["batch_size"]) if "batch_size" in values else batch_size
        out.append(Config(i, values, variant, a.total_params, a.macs, activation_bytes(a, batch), batch))
    return out


def activation_bytes(analysis, batch: int, bytes_per_element: int = 4) -> int:
    """Every layer's output for a batch (float32), block rows not counted twice: as ``summary --batch``
    counts activation memory (graph/summary.py)."""
    return (
        sum(
            math.prod(layer.out_shape)
            for layer in analysis.layers()
            if layer.out_shape is not None and layer.info is not None and layer.info.children is None
        )
        * batch
        * bytes_per_element
    )


def _graph_kwargs(values: dict[str, str]) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if "depth" in values:
        v = values["depth"]
        try:
            kw["depth"] = int(v) if "=" not in v else v
        except ValueError:
            raise UserError(f"depth {v!r} is not a whole number") from None
    if "width" in values:
        v = values["width"]
        try:
            kw["width"] = float(v) if "=" not in v else v
        except ValueError:
            raise UserError(f"width {v!r} is not a number") from None
    if "shortcut" in values:
        kw["shortcut"] = values["shortcut"]
    if "plain" in values:
        kw["plain"] = values["plain"]
    params = {k: values[k] for k in BLOCK_PARAM_AXES if k in values}
    if params:
        kw["params"] = params
    return kw


# ------------------------------------------------------------------ the sweep folder
def new_spec(
    project: Project, axes: Sequence[Axis], configs: list[Config], repeats: int, train: dict
) -> dict:
    """What DIR/sweep.json holds: enough to resume the sweep (``--resume DIR``) and to summarize it."""
    return {
        "format": FORMAT,
        "version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "project": project.to_dict(),
        "axes": [{"name": a.name, "values": list(a.values)} for a in axes],
        "repeats": repeats,
        "train": train,
        "runs": [
            {"config": c.index, "repeat": r, "dir": c.run_name(r)} for c in configs for r in range(repeats)
        ],
    }


def write_spec(out: Path, spec: dict) -> None:
    from training.runs import write_json

    write_json(Path(out) / "sweep.json", spec)


def read_spec(out: str | Path) -> dict:
    from training.runs import read_json

    path = Path(out) / "sweep.json"
    if not path.exists():
        raise UserError(f"{out} is not a sweep folder (no sweep.json)")
    spec = read_json(path)
    if spec.get("format") != FORMAT:
        raise UserError(f"{path} is not a Skipwire sweep file")
    return spec


def _configs_from_spec(spec: dict) -> tuple[Project, list[Axis], list[Config]]:
    from graph.projectfile import project_from_dict

    base = project_from_dict(spec["project"], source="sweep.json")
    axes = [Axis(a["name"], list(a["values"])) for a in spec["axes"]]
    batch = spec["train"].get("batch_size") or base.training.get("batch_size") or 128
    return base, axes, plan(base, axes, int(batch))


def _train_config(config: Config, train: dict, repeat: int):
    from training.config import TrainConfig

    cfg = TrainConfig.from_project(config.project.training)
    overrides = {k: train.get(k) for k in ("dataset", "epochs", "batch_size", "lr", "device", "weight_decay")}
    for k, v in config.values.items():
        if k in TRAIN_AXES:
            overrides[k] = train_value(k, v)
    seed = train.get("seed")
    overrides["seed"] = (cfg.seed if seed is None else int(seed)) + repeat
    overrides = {k: v for k, v in overrides.items() if v is not None}
    return cfg.with_overrides(**overrides)


def run_state(run: Path) -> str:
    """done (completed or diverged) | resumable (a checkpoint to continue from) | fresh (nothing usable)."""
    from training.runs import load_run

    if not (run / "config.json").exists():
        return "fresh"
    try:
        info = load_run(run)
    except UserError:
        return "fresh"
    if info.status in ("completed", "diverged"):
        return "done"
    return "resumable" if info.has_checkpoint("last") else "fresh"


# ------------------------------------------------------------------ results
def run_result(run: Path) -> dict:
    """What the CSV needs from one run folder."""
    from training.runs import load_run

    info = load_run(run)
    epochs = [r for r in info.metrics() if r.get("kind") == "epoch"]
    rates = [float(r["images_per_s"]) for r in epochs if isinstance(r.get("images_per_s"), (int, float))]
    return {
        "status": info.status,
        "final_val_acc": info.last_val_acc,
        "best_val_acc": info.best_val_acc,
        "train_time_s": sum(float(r.get("epoch_time_s") or 0.0) for r in epochs),
        "images_per_s": statistics.fmean(rates) if rates else None,
        "gpu_mem_mb": max((float(r["gpu_mem_mb"]) for r in epochs if r.get("gpu_mem_mb")), default=None),
    }


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(configs: list[Config], runs: dict[tuple[int, int], Path], repeats: int) -> list[dict]:
    """One row per configuration from the run folders that exist."""
    rows = []
    for c in configs:
        results = []
        folders = []
        for r in range(repeats):
            run = runs.get((c.index, r))
            if run is not None and (run / "run.json").exists():
                folders.append(run.name)
                try:
                    results.append(run_result(run))
                except UserError:
                    continue
        finished = [x for x in results if x["status"] in ("completed", "diverged")]
        final, final_sd = _mean_std([x["final_val_acc"] for x in finished if x["final_val_acc"] is not None])
        best, best_sd = _mean_std([x["best_val_acc"] for x in finished if x["best_val_acc"] is not None])
        times = [x["train_time_s"] for x in finished]
        rates = [x["images_per_s"] for x in finished if x["images_per_s"] is not None]
        statuses = sorted({x["status"] for x in results})
        rows.append(
            {
                "config": c.label,
                **{a: c.values.get(a, "") for a in AXES},
                "params": c.params,
                "macs": c.macs,
                "activation_mb": round(c.activation_bytes / 2**20, 2),
                "repeats": repeats,
                "runs_done": len(finished),
                "final_val_acc": final,
                "final_val_acc_std": final_sd,
                "best_val_acc": best,
                "best_val_acc_std": best_sd,
                "train_time_s": statistics.fmean(times) if times else None,
                "images_per_s": statistics.fmean(rates) if rates else None,
                "status": "/".join(statuses) if statuses else "pending",
                "runs": ";".join(folders),
            }
        )
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    from training.runs import write_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    write_atomic(path, buf.getvalue().encode("utf-8"))


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def write_outputs(out: Path, rows: list[dict], title: str) -> tuple[Path, Path | None, Path | None]:
    """sweep.csv, and pareto.png/.svg where matplotlib is installed (a GPU machine may lack it:
    the CSV is written all the same; the charts' paths are then None)."""
    from training.pareto import write_charts

    csv_path, png, svg = out / "sweep.csv", out / "pareto.png", out / "pareto.svg"
    write_csv(rows, csv_path)
    try:
        write_charts(rows, png, svg, title=title)
    except ImportError:
        return csv_path, None, None
    return csv_path, png, svg


# ------------------------------------------------------------------ running
Log = Callable[[str], None]


def run_sweep(
    project: Project,
    axes: Sequence[Axis],
    out_dir: str | Path,
    *,
    epochs: int | None = None,
    dataset: str | None = None,
    repeats: int = 1,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    parallel: str | int = 1,
    log: Log | None = None,
    should_stop: Callable[[], bool] | None = None,
    ray: dict | None = None,
) -> SweepResult:
    """Plan and check every configuration, write DIR/sweep.json, then train them (see the module doc).
    ``ray``: train on Ray instead of the local pool, ``{"address": None | "auto" | "ray://HOST:10001",
    "trial_cpus": 1}`` (training/sweep_ray.py)."""
    out = Path(out_dir)
    if (out / "sweep.json").exists():
        raise UserError(
            f"{out} already holds a sweep; continue it with --resume {out} or choose another --out"
        )
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UserError(f"--repeats must be a whole number of at least 1; got {repeats!r}")
    width = _parse_parallel(parallel)
    _check_backend(ray)
    if dataset is not None:
        from training.datasets import parse_spec

        parse_spec(dataset)
    train = {"epochs": epochs, "dataset": dataset, "batch_size": batch_size, "lr": lr, "seed": seed}
    train["device"] = device
    configs = plan(project, axes, batch_size or int(project.training.get("batch_size") or 128))
    for c in configs:  # every training setting checked before anything trains
        for r in range(repeats):
            _train_config(c, train, r)
    spec = new_spec(project, axes, configs, repeats, train)
    out.mkdir(parents=True, exist_ok=True)
    write_spec(out, spec)
    return _execute(out, spec, configs, width, log or (lambda _m: None), should_stop or (lambda: False), ray)


def resume_sweep(
    out_dir: str | Path,
    *,
    parallel: str | int = 1,
    device: str | None = None,
    log: Log | None = None,
    should_stop: Callable[[], bool] | None = None,
    ray: dict | None = None,
) -> SweepResult:
    out = Path(out_dir)
    _check_backend(ray)
    spec = read_spec(out)
    if device is not None:
        spec["train"]["device"] = device
    _, _, configs = _configs_from_spec(spec)
    return _execute(
        out,
        spec,
        configs,
        _parse_parallel(parallel),
        log or (lambda _m: None),
        should_stop or (lambda: False),
        ray,
    )


def _check_backend(ray: dict | None) -> None:
    """The Ray backend needs the ray extra: refused (exit 2) before anything is written."""
    if ray is not None:
        from training.sweep_ray import check_options

        check_options(**ray)


def _parse_parallel(value: str | int) -> int | str:
    if value in (None, "", 1, "1"):
        return 1
    if str(value).strip().lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise UserError(f"--parallel must be auto or a whole number; got {value!r}") from None
    if not 1 <= n <= MAX_PARALLEL:
        raise UserError(f"--parallel must be between 1 and {MAX_PARALLEL}; got {n}")
    return n


@dataclass
class _Task:
    config: Config
    repeat: int
    run: Path
    state: str  # fresh | resumable | done


def _execute(
    out: Path, spec: dict, configs: list[Config], width: int | str, log: Log, should_stop, ray=None
) -> SweepResult:
    repeats = int(spec["repeats"])
    runs = {(e["config"], e["repeat"]): out / e["dir"] for e in spec["runs"]}
    tasks = []
    for c in configs:
        for r in range(repeats):
            run = runs[(c.index, r)]
            tasks.append(_Task(c, r, run, run_state(run)))
    todo = [t for t in tasks if t.state != "done"]
    total = len(tasks)
    if len(todo) < total:
        log(f"{total - len(todo)} of {total} runs already finished; {len(todo)} to go")
    title = f"{spec['project'].get('name', '')}: " + ", ".join(
        f"{a['name']} {'/'.join(a['values'])}" for a in spec["axes"]
    )
    result = SweepResult(out)

    def finished_one() -> None:
        result.rows = summarize(configs, runs, repeats)
        result.csv_path, result.png_path, result.svg_path = write_outputs(out, result.rows, title)

    failed = []
    if ray is not None:
        from training.sweep_ray import run_trials

        failed = run_trials(todo, spec, out, log, should_stop, finished_one, **ray) if todo else []
    elif width == 1:
        for n, t in enumerate(todo, 1):
            if should_stop():
                break
            if not _run_inline(t, spec, n, len(todo), log, should_stop):
                failed.append(t)
            finished_one()
    else:
        failed = _run_parallel(todo, spec, width, log, should_stop, finished_one)
    finished_one()
    left = [t for t in tasks if run_state(t.run) != "done"]
    if left and should_stop():
        result.status = "stopped"
        log(f"stopped with {len(left)} of {total} runs unfinished; continue with: sweep --resume {out}")
    elif failed or left:
        result.status = "failed"
        log(f"{len(left)} of {total} runs did not finish; sweep --resume {out} retries them")
    if result.png_path is None:
        log(f"wrote {result.csv_path}; no charts: matplotlib is not installed (pip install matplotlib)")
    else:
        log(f"wrote {result.csv_path}, {result.png_path} and {result.svg_path}")
    return result


def _set_aside(run: Path) -> None:
    """A run folder without a checkpoint cannot resume: keep it beside, under a new name, and start again."""
    if run.exists():
        n = 1
        while run.with_name(f"{run.name}.incomplete{n}").exists():
            n += 1
        os.replace(run, run.with_name(f"{run.name}.incomplete{n}"))


def _run_inline(t: _Task, spec: dict, n: int, total: int, log: Log, should_stop) -> bool:
    """One run in this process; True if it finished (completed or diverged)."""
    from training import engine

    head = f"[{n}/{total}] {t.config.label}" + (
        f" (repeat {t.repeat + 1})" if int(spec["repeats"]) > 1 else ""
    )
    epochs_total = [0]

    def on_metric(rec: dict) -> None:
        if rec.get("kind") == "status" and rec.get("state") in ("running", "resumed"):
            epochs_total[0] = rec.get("epochs", 0)
        elif rec.get("kind") == "epoch":
            log(
                f"  epoch {rec['epoch']}/{epochs_total[0]}  train loss {rec['train_loss']:.4f}  val acc "
                f"{rec['val_acc']:.2%}  {rec['images_per_s']:,.0f} img/s  {rec['epoch_time_s']:.1f} s"
            )

    try:
        if t.state == "resumable":
            log(f"{head}: resuming {t.run}")
            res = engine.resume(t.run, on_metric=on_metric, should_stop=should_stop, device=_device(spec))
        else:
            _set_aside(t.run)
            log(f"{head}: {t.config.params:,} parameters, {t.config.macs:,} MACs -> {t.run}")
            cfg = _train_config(t.config, spec["train"], t.repeat)
            res = engine.train(t.config.project, cfg, t.run, on_metric=on_metric, should_stop=should_stop)
    except engine.TrainingError as exc:
        log(f"{head}: failed: {exc.message}")
        return False
    except UserError as exc:
        if exc.exit_code == 2:
            raise  # bad input (a dataset that cannot fit the project, ...): the whole sweep stops
        log(f"{head}: failed: {exc.message}")
        return False
    if res.status == "completed":
        best = f"{res.best_val_acc:.2%}" if res.best_val_acc is not None else "-"
        log(f"{head}: done, best val acc {best}")
    else:
        log(f"{head}: {res.status}: {res.message}")
    return res.status in ("completed", "diverged")


def _device(spec: dict) -> str | None:
    d = spec["train"].get("device")
    return None if d in (None, "auto") else d


# ------------------------------------------------------------------ several at once
def _cuda_budget_mb() -> float | None:
    """Free CUDA memory (MiB) now, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free / 2**20


def _run_parallel(
    todo: list[_Task], spec: dict, width: int | str, log: Log, should_stop, finished_one
) -> list:
    """Child processes (training/process.py), at most ``width`` at once; with "auto" only as many as
    the memory measured on the first run says fit."""
    return _Pool(todo, spec, width, log, finished_one).run(should_stop)


class _Pool:
    """The sweep's own pool of training children: start while there is room, drain their records,
    reap the finished ones; on stop, ask every running child to stop and wait for their final records
    by polling (training/process.py: no call here blocks)."""

    def __init__(self, todo: list[_Task], spec: dict, width: int | str, log: Log, finished_one) -> None:
        self.todo, self.width, self.log, self.finished_one = todo, width, log, finished_one
        device = spec["train"].get("device") or "auto"
        self.budget = None
        if width == "auto":
            self.budget = _cuda_budget_mb() if device in ("auto", "cuda") else None
            if self.budget is None:
                log("--parallel auto: one run at a time (no CUDA device; CPU runs would share its cores)")
        elif device == "cpu" or _cuda_budget_mb() is None:
            threads = max(1, (os.cpu_count() or 1) // int(width))
            spec = {**spec, "train": {**spec["train"], "threads": threads}}
        self.spec = spec
        self.queue = list(todo)
        self.running: list[tuple[_Task, Any, float]] = []
        self.measured: tuple[float, float] | None = None  # (peak MiB of a finished run, its cost estimate)
        self.failed: list[_Task] = []
        self.started = 0
        self.stopping = False  # the stop has been passed on to the running children

    def run(self, should_stop) -> list:
        while self.queue or self.running:
            stop = should_stop()
            while self.queue and not stop and self._has_room():
                self._launch(self.queue.pop(0))
            if stop:
                if not self.stopping and self.running:
                    self.stopping = True
                    n = len(self.running)
                    self.log(f"stopping {n} running run{'s' if n != 1 else ''} at the next step")
                for _t, proc, _n in self.running:
                    proc.stop()
            time.sleep(0.2)
            for item in list(self.running):
                self._drain(item)
            if stop and not self.running:
                break
        return self.failed

    def _need(self, t: _Task) -> float:
        if self.measured is None:
            return math.inf
        return CONTEXT_MB + self.measured[0] * max(1.0, t.config.cost_estimate() / self.measured[1])

    def _has_room(self) -> bool:
        if self.width != "auto":
            return len(self.running) < int(self.width)
        if len(self.running) >= MAX_PARALLEL:
            return False
        in_use = sum(n for *_, n in self.running)
        return not self.running or (
            self.budget is not None and in_use + self._need(self.queue[0]) <= 0.9 * self.budget
        )

    def _launch(self, t: _Task) -> None:
        from training.process import start_training

        self.started += 1
        head = f"[{self.started}/{len(self.todo)}] {t.config.label}"
        if t.state == "resumable":
            self.log(f"{head}: resuming {t.run}")
            proc = start_training(None, None, t.run, resume=True, overrides={"device": _device(self.spec)})
        else:
            cfg = _train_config(t.config, self.spec["train"], t.repeat)
            if self.spec["train"].get("threads"):
                cfg = cfg.with_overrides(threads=self.spec["train"]["threads"])
            _set_aside(t.run)
            self.log(f"{head}: {t.config.params:,} parameters -> {t.run}")
            proc = start_training(t.config.project.to_dict(), cfg.to_dict(), t.run)
        self.running.append((t, proc, self._need(t) if self.measured else 0.0))

    def _drain(self, item: tuple[_Task, Any, float]) -> None:
        t, proc, _n = item
        for rec in proc.poll(1000):
            if rec.get("kind") == "epoch":
                self.log(f"  {t.config.label}: epoch {rec['epoch']} val acc {rec['val_acc']:.2%}")
            elif rec.get("kind") == "error":
                self.log(f"  {t.config.label}: failed: {rec.get('message')}")
        if proc.finished and not proc.is_alive():
            proc.join(1)
            self.running.remove(item)
            self._reaped(t)
            self.finished_one()

    def _reaped(self, t: _Task) -> None:
        if run_state(t.run) != "done":
            self.failed.append(t)
            return
        res = run_result(t.run)
        self.log(f"  {t.config.label}: done, best val acc {res['best_val_acc'] or 0:.2%}")
        if self.measured is None and res.get("gpu_mem_mb"):
            self.measured = (float(res["gpu_mem_mb"]), t.config.cost_estimate())
            self.log(
                f"--parallel auto: the first run peaked at {self.measured[0]:,.0f} MiB of "
                f"{self.budget or 0:,.0f} MiB free"
            )


__all__ = [
    "AXES",
    "CSV_COLUMNS",
    "Axis",
    "Config",
    "SweepResult",
    "activation_bytes",
    "new_spec",
    "parse_vary",
    "plan",
    "read_spec",
    "resume_sweep",
    "run_result",
    "run_state",
    "run_sweep",
    "summarize",
    "train_value",
    "write_csv",
    "write_outputs",
    "write_spec",
]
