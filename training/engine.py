"""The training entry points: ``train(project, config, run_dir, on_metric, should_stop) -> RunResult``
and ``resume(run_dir, ...)``.

One loop serves every device (training/trainer.py). This module loads the
data and any starting weights, creates or reopens the run folder, builds what
the loop is given (the model, the step and its optimizer from training/step.py,
the data placed by training/placement.py, where to start) and turns failures
into records and a ``TrainingError``.

Determinism: every random number comes from the seeded global generators or
from two owned ``torch.Generator``s (batch order, augmentation); all of their
states go into each checkpoint (training/rng.py), the learning rate is a pure
function of the step, and a resumed run builds its model from the run's own
``model.py``. A stop on request saves a checkpoint where it is, with the
epoch's permutation and position. On CPU a run stopped anywhere and resumed is
bitwise identical to one that was never interrupted.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from graph.errors import UserError
from graph.pretrained import IMAGENET_MEAN, IMAGENET_STD, is_imagenet_ref
from graph.pretrained import match as match_pretrained
from training import augment, datasets, distributed, placement, runs
from training.config import TrainConfig
from training.distributed import World
from training.failures import TrainingError, first_line, is_oom, oom_message
from training.grads import grad_profile, grad_profile_due
from training.metrics import MetricsWriter, record
from training.modelsrc import as_project, model_source, module_from_source, project_io
from training.optim import load_optimizer_state, make_optimizer
from training.pretrained import apply as pretrained_apply
from training.result import RunResult
from training.rng import rng_state, seed_all, set_rng_state
from training.step import Precision, build_step
from training.trainer import Plan, Start, Trainer

# Validation on a fixed subset while a long epoch trains (the epoch-end validation uses the whole set):
# the accuracy plot gets points before the first epoch ends. Evaluation draws no random numbers and
# changes no weights, so the training's random streams and step count are the same with or without it.
PARTIAL_VAL_EVERY_S = 30.0  # seconds of training between subset validations (0: never)
PARTIAL_VAL_IMAGES = 1000  # the first images of the validation set

_is_oom = is_oom  # the name tests and older callers use

__all__ = [
    "PARTIAL_VAL_EVERY_S",
    "PARTIAL_VAL_IMAGES",
    "RunResult",
    "TrainingError",
    "grad_profile",
    "grad_profile_due",
    "load_optimizer_state",
    "make_optimizer",
    "oom_message",
    "pick_device",
    "resume",
    "rng_state",
    "seed_all",
    "set_rng_state",
    "train",
    "transfer_weights",
]


def pick_device(name: str) -> torch.device:
    """auto: cuda, then mps, then cpu. Asking for a device that is absent is bad input."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: this machine's torch sees no CUDA GPU; use --device auto or cpu")
    if name == "mps" and not has_mps:
        raise UserError("--device mps: Apple's MPS is not available here; use --device auto or cpu")
    return torch.device(name)


def transfer_weights(model: nn.Module, sd: dict) -> str:
    """Load what fits from a state_dict (transfer learning): same name and shape. Returns a summary."""
    own = model.state_dict()
    loaded, skipped = [], []
    for k, v in sd.items():
        if k in own and tuple(own[k].shape) == tuple(v.shape):
            loaded.append(k)
        elif k in own:
            skipped.append(f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}")
    if not loaded:
        raise UserError(
            "none of the weights' names and shapes match this model; were they saved from "
            "a different network?"
        )
    model.load_state_dict({k: sd[k] for k in loaded}, strict=False)
    msg = f"loaded {len(loaded)} of {len(own)} tensors from the weights file"
    if skipped:
        msg += f"; kept fresh (shape differs): {', '.join(skipped[:4])}" + (
            " ..." if len(skipped) > 4 else ""
        )
    return msg


class _Emitter:
    """Sends a record to the metrics file (once the run folder exists) and to ``on_metric``. Under
    torchrun only rank 0 reports; the other ranks pass on their errors alone."""

    def __init__(self, on_metric: Callable[[dict], None] | None, main: bool = True) -> None:
        self.writer: MetricsWriter | None = None
        self.on_metric, self.main = on_metric, main

    def __call__(self, kind: str, **fields) -> dict:
        rec = record(kind, **fields)
        if self.writer is not None:
            self.writer.write(rec)
        if self.on_metric is not None and (self.main or kind == "error"):
            self.on_metric(rec)
        return rec


# --------------------------------------------------------------------- the entry points
def train(
    project,
    config: TrainConfig | dict | None,
    run_dir: str | Path,
    on_metric: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Train ``project`` (a Project or a project dict) into the new run folder ``run_dir``."""
    project = as_project(project)
    cfg = (
        config
        if isinstance(config, TrainConfig)
        else (TrainConfig.from_dict(config) if config else TrainConfig.from_project(project.training))
    )
    source, class_name = model_source(project)
    return _run(
        project.to_dict(),
        project,
        cfg,
        (source, class_name),
        Path(run_dir),
        on_metric,
        should_stop,
        resume=False,
    )


def resume(
    run_dir: str | Path,
    on_metric: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    epochs: int | None = None,
    device: str | None = None,
) -> RunResult:
    """Continue a run from its last checkpoint, with its own project.json, config.json and model.py.
    ``epochs`` may extend the run (the schedule then follows the new length, so the result is no
    longer what an uninterrupted run of the old length gave)."""
    info = runs.load_run(run_dir)
    if not info.has_checkpoint("last"):
        raise UserError(
            f"{info.path} has no checkpoint to resume from (it ended before saving one); "
            f"start a new run instead"
        )
    cfg = TrainConfig.from_dict(info.config).with_overrides(epochs=epochs, device=device)
    project = as_project(info.project)
    return _run(
        info.project,
        project,
        cfg,
        (info.model_source, info.meta.get("model_class")),
        Path(run_dir),
        on_metric,
        should_stop,
        resume=True,
    )


def _run(
    project_dict: dict,
    project,
    cfg: TrainConfig,
    source: tuple[str, str | None],
    run_dir: Path,
    on_metric,
    should_stop,
    resume: bool,
) -> RunResult:
    """Under torchrun, the process group is left again here when this call joined it (the CLI joins
    it first, to agree on the run folder, and leaves it itself)."""
    joins = distributed.from_env().active and not distributed.joined()
    try:
        return _run_joined(project_dict, project, cfg, source, run_dir, on_metric, should_stop, resume)
    finally:
        if joins:
            distributed.finish()


def _run_joined(
    project_dict: dict,
    project,
    cfg: TrainConfig,
    source: tuple[str, str | None],
    run_dir: Path,
    on_metric,
    should_stop,
    resume: bool,
) -> RunResult:
    world = distributed.setup(cfg.device)
    device = distributed.device_for(pick_device(cfg.device), world)
    should_stop = should_stop or (lambda: False)
    emit = _Emitter(on_metric, world.main)
    emit("status", state="starting", message=f"loading {cfg.dataset} for {project.name}", device=str(device))
    data, weights = _load_inputs(project, cfg, resume, emit, should_stop)
    meta = {
        "device": str(device),
        "project_name": project.name,
        "dataset": str(data.spec),
        "model_class": source[1],
        "data": {
            "shape": list(data.shape),
            "num_classes": data.num_classes,
            "class_names": data.class_names,
            "mean": data.mean,
            "std": data.std,
            "train_size": len(data.train_y),
            "val_size": len(data.val_y),
        },
    }
    if world.active:
        meta["processes"] = world.size
    if not world.main:
        pass  # rank 0 alone writes the run folder
    elif resume:
        runs.update_run_meta(run_dir, status="running", message="", device=str(device), processes=world.size)
    else:
        runs.create_run(run_dir, project_dict, cfg.to_dict(), source[0], meta)
    distributed.barrier(world)  # the folder exists before any rank goes on
    if world.main:
        emit.writer = MetricsWriter(run_dir / "metrics.jsonl")
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        trainer = _build(cfg, source, data, weights, device, run_dir, emit, should_stop, resume, world)
        result = trainer if isinstance(trainer, RunResult) else trainer.run()
    except UserError as exc:
        emit("error", message=exc.message)
        if world.main:
            runs.update_run_meta(run_dir, status="failed", message=exc.message)
        raise
    except Exception as exc:
        msg = (
            oom_message(cfg, device)
            if is_oom(exc)
            else f"training failed: {type(exc).__name__}: {first_line(exc)}"
        )
        if world.active:
            msg = f"rank {world.rank}: {msg}"
        emit("error", message=msg, traceback=traceback.format_exc())
        if world.main:
            runs.update_run_meta(run_dir, status="failed", message=msg)
        raise TrainingError(msg) from exc
    finally:
        if emit.writer is not None:
            emit.writer.close()
        torch.set_num_threads(threads)
    if world.main:
        runs.update_run_meta(run_dir, status=result.status, message=result.message)
    return result


def _load_inputs(project, cfg: TrainConfig, resume: bool, emit: _Emitter, should_stop):
    """The dataset, and the starting weights of a new run: None, a state_dict (a weights file) or
    ImageNet weights (training.pretrained.Pretrained). Unreadable weights are refused here, before
    the run folder exists; so is a project that is no torchvision architecture, before any download."""
    input_shape, num_classes = project_io(project)
    imagenet = is_imagenet_ref(cfg.weights)
    if imagenet and not resume:
        match_pretrained(project, cfg.weights)

    def downloading(name: str, done: int, total: int | None) -> None:
        emit("status", state="downloading", message=f"downloading {name}", file=name, done=done, total=total)

    data = datasets.load(
        cfg.dataset,
        input_shape,
        num_classes,
        cfg.val_fraction,
        on_progress=downloading,
        should_cancel=should_stop,
    )
    weights = None
    if cfg.weights and not resume:
        if imagenet:
            from training import pretrained

            weights = pretrained.fetch(
                project, cfg.weights, on_progress=downloading, should_cancel=should_stop
            )
        else:
            from codegen.weights import to_project_keys  # an imported model's original keys too

            weights = to_project_keys(runs.load_weights_file(cfg.weights), project.key_map)
    if imagenet:  # as torchvision's transforms: ImageNet's statistics, not the dataset's
        data.mean, data.std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    return data, weights


def _build(
    cfg: TrainConfig,
    source: tuple[str, str | None],
    data: datasets.Dataset,
    weights,
    device: torch.device,
    run_dir: Path,
    emit: _Emitter,
    should_stop: Callable[[], bool],
    resume: bool,
    world: World,
) -> Trainer | RunResult:
    """The trainer, given everything it needs; or the result at once when a resumed run is complete."""
    cuda = device.type == "cuda"
    precision = Precision(device, amp=bool(cfg.amp and cuda), channels_last=bool(cfg.channels_last and cuda))
    if cuda:  # fixed shapes every step (drop_last): let cuDNN pick the fastest convolutions
        torch.backends.cudnn.benchmark = True
    seed_all(cfg.seed)
    model, state, weights_msg = _model(cfg, source, data, weights, run_dir, resume)
    model = model.to(device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    placed = placement.place(data, cfg, device)
    n = len(placed.train_y)
    batch = min(cfg.batch_size, n)
    if world.active and batch % world.size:
        raise UserError(
            f"the batch size is the global batch, split evenly across the {world.size} processes: "
            f"{batch} is not a multiple of {world.size}"
        )
    plan = Plan(
        batch,
        max(1, n // batch),
        augment.resolve_mode(cfg.augment, data.spec.kind),
        data.describe(),
        PARTIAL_VAL_EVERY_S,
        PARTIAL_VAL_IMAGES,
    )
    start = Start(resumed=resume, weights_msg=weights_msg)
    if state is not None:
        start = Start(
            int(state["epoch"]), int(state["step"]), state.get("best_val_acc"), state.get("partial"), True
        )
    if start.epoch >= cfg.epochs:
        msg = f"the run already has {start.epoch} of {cfg.epochs} epochs; pass --epochs to extend it"
        emit("status", state="completed", message=msg)
        return RunResult(
            "completed", run_dir, start.epoch, start.step, start.best, message=msg, device=str(device)
        )
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    opt_state = state["optimizer"] if state is not None else None
    ddp = _ddp(model, cfg, device, world)
    step = build_step(
        model,
        cfg,
        criterion,
        (batch, *data.shape),
        plan.steps_per_epoch,
        precision,
        placed.resident,
        opt_state,
        emit,
        ddp,
    )
    if state is not None:  # after building the step (the fast path's warm-up must not move any RNG)
        set_rng_state(state["rng"], placed.gens)
    return Trainer(cfg, model, step, placed, plan, precision, start, run_dir, emit, should_stop, world)


def _ddp(model: nn.Module, cfg: TrainConfig, device: torch.device, world: World) -> nn.Module | None:
    """The DistributedDataParallel wrapper the step calls under torchrun (None in one process).
    ``sync_bn`` first turns every BatchNorm into a SyncBatchNorm (in place: the same parameters)."""
    if cfg.sync_bn and device.type != "cuda":
        raise UserError(
            "sync_bn (SyncBatchNorm) works on CUDA only; train without --sync-bn on the CPU "
            "(each process then normalises over its own part of the batch)"
        )
    if not world.active:
        return None
    if cfg.sync_bn:
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if converted is not model:  # a model that is one BatchNorm: not a network we train
            raise UserError("sync_bn needs a network that holds its BatchNorm layers")
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _model(cfg: TrainConfig, source, data: datasets.Dataset, weights, run_dir: Path, resume: bool):
    """(the model with its starting weights, the checkpoint's state when resuming, a note on the weights)."""
    model = module_from_source(*source)
    if resume:
        sd, state = runs.load_checkpoint(run_dir, "last")
        model.load_state_dict(sd)
        return model, state, ""
    if weights is not None and not isinstance(weights, dict):  # ImageNet weights
        return model, None, pretrained_apply(model, weights, data.num_classes)
    if cfg.weights:
        sd = weights if weights is not None else runs.load_weights_file(cfg.weights)
        return model, None, transfer_weights(model, sd)
    return model, None, ""
