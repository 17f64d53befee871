"""The training loop: ``train(project, config, run_dir, on_metric, should_stop) -> RunResult``.

One loop serves every device. The data are uint8 tensors held whole where
they fit (on the GPU when it has room, otherwise in host memory behind a
DataLoader with workers and pinned memory); each step gathers a batch through
a per-epoch permutation and augments it on the compute device
(training/augment.py). On CUDA with resident data the whole step can run as
one captured CUDA graph (training/fastpath.py); anything that stops the
capture falls back to the eager step with a status record saying why.

Determinism: every random number comes from the seeded global generators or
from two owned ``torch.Generator``s (batch order, augmentation); all of their
states go into each checkpoint, the learning rate is a pure function of the
step, and a resumed run builds its model from the run's own ``model.py``. A
stop on request saves a checkpoint where it is, with the epoch's permutation
and position. On CPU a run stopped anywhere and resumed is bitwise identical
to one that was never interrupted.
"""

from __future__ import annotations

import math
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from graph.errors import UserError
from graph.pretrained import IMAGENET_MEAN, IMAGENET_STD, is_imagenet_ref
from graph.pretrained import match as match_pretrained
from training import augment, datasets, runs
from training.config import TrainConfig
from training.metrics import MetricsWriter, record
from training.modelsrc import as_project, model_source, module_from_source, project_io
from training.pretrained import apply as pretrained_apply
from training.schedule import LrWriter, lr_at


class TrainingError(UserError):
    """Training failed (exit code 1): out of memory, a crash in the model, ..."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1)


@dataclass
class RunResult:
    status: str  # completed | stopped | diverged
    run_dir: Path
    epochs_done: int = 0
    steps_done: int = 0
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    last_val_loss: float | None = None
    last_train_loss: float | None = None
    message: str = ""
    fast_path: bool = False
    device: str = "cpu"
    history: list[dict] = field(default_factory=list)  # the epoch records


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


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------- optimizer
def make_optimizer(
    model: nn.Module, cfg: TrainConfig, lr_tensor: torch.Tensor | None = None, fused: bool = False
) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError("the model has no trainable parameters (every layer is frozen?)")
    lr = lr_tensor if lr_tensor is not None else lr_at(0, cfg, 1)
    if cfg.optimizer == "sgd":
        kw = {"fused": True} if fused else {}
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=bool(cfg.nesterov and cfg.momentum > 0),
            **kw,
        )
    kw = {"capturable": True} if fused else {}
    return torch.optim.AdamW(params, lr=lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, **kw)


_FLAG_KEYS = ("fused", "capturable", "foreach", "differentiable", "lr")


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state into an optimizer built for this path (eager or graph):
    hyperparameters come from the saved groups, the path's flags and lr object stay."""
    keep = [{k: g[k] for k in _FLAG_KEYS if k in g} for g in opt.param_groups]
    opt.load_state_dict(state)
    for g, k in zip(opt.param_groups, keep):
        g.update(k)
    for group in opt.param_groups:
        on_device = bool(group.get("capturable") or group.get("fused"))
        for p in group["params"]:
            st = opt.state.get(p, {})
            for key, v in list(st.items()):
                if not torch.is_tensor(v):
                    continue
                if key == "step":
                    st[key] = v.to(p.device, torch.float32) if on_device else v.to("cpu", torch.float32)
                elif v.device != p.device:
                    st[key] = v.to(p.device)


def _clean_optimizer_state(opt: torch.optim.Optimizer) -> dict:
    """Optimizer state for a checkpoint: lr as a float, tensors on the CPU."""
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        if torch.is_tensor(g.get("lr")):
            g["lr"] = float(g["lr"])
    sd["state"] = {
        k: {n: (v.detach().cpu().clone() if torch.is_tensor(v) else v) for n, v in s.items()}
        for k, s in sd["state"].items()
    }
    return sd


# --------------------------------------------------------------------- RNG states
def rng_state(gens: dict[str, torch.Generator]) -> dict:
    npst = np.random.get_state()
    st = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(npst[1].astype(np.int64)),
            "pos": int(npst[2]),
            "has_gauss": int(npst[3]),
            "cached_gaussian": float(npst[4]),
        },
        "generators": {k: g.get_state() for k, g in gens.items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict, gens: dict[str, torch.Generator]) -> None:
    torch.set_rng_state(st["torch"])
    py = st["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = st["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    for k, g in gens.items():
        if k in st["generators"]:
            g.set_state(st["generators"][k])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


# --------------------------------------------------------------------- helpers
def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", ())
    if oom_type and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


def oom_message(cfg: TrainConfig, device: torch.device) -> str:
    where = "GPU" if device.type == "cuda" else "memory"
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        where = f"GPU memory ({torch.cuda.get_device_name(device)}, {total:.0f} GiB)"
    half = max(1, cfg.batch_size // 2)
    tips = [f"a smaller batch: --batch-size {half}"]
    if device.type == "cuda" and not cfg.amp:
        tips.append("bf16 autocast (amp on)")
    if cfg.compile:
        tips.append("torch.compile off")
    tips.append("a smaller input or a narrower network")
    return f"ran out of {where} at batch size {cfg.batch_size}; try " + ", or ".join(tips)


def grad_profile(named: list[tuple[str, nn.Parameter]]) -> tuple[list[str], list[float]]:
    """Per-layer L2 norms of the weight gradients (conv and linear weights: tensors of 2+ dims)."""
    names, grads = [], []
    for n, p in named:
        if p.grad is not None:
            names.append(n.removesuffix(".weight"))
            grads.append(p.grad.detach())
    if not grads:
        return [], []
    norms = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]).tolist()
    return names, norms


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
    def __init__(self, writer: MetricsWriter | None, on_metric: Callable[[dict], None] | None) -> None:
        self.writer, self.on_metric = writer, on_metric

    def __call__(self, kind: str, **fields) -> dict:
        rec = record(kind, **fields)
        if self.writer is not None:
            self.writer.write(rec)
        if self.on_metric is not None:
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
    input_shape, num_classes = project_io(project)
    device = pick_device(cfg.device)
    should_stop = should_stop or (lambda: False)
    emit = _Emitter(None, on_metric)
    emit("status", state="starting", message=f"loading {cfg.dataset} for {project.name}", device=str(device))
    imagenet = is_imagenet_ref(cfg.weights)
    if (
        imagenet and not resume
    ):  # a project that is not a torchvision architecture: refused before any download
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
    weights_sd = pre = None
    if cfg.weights and not resume:  # an unreadable weights file is refused before the run folder exists
        if imagenet:
            from training import pretrained

            pre = pretrained.fetch(project, cfg.weights, on_progress=downloading, should_cancel=should_stop)
            weights_sd = pre.state
        else:
            from codegen.weights import to_project_keys  # an imported model's original keys too

            weights_sd = to_project_keys(runs.load_weights_file(cfg.weights), project.key_map)
    if imagenet:  # as torchvision's transforms: ImageNet's statistics, not the dataset's
        data.mean, data.std = list(IMAGENET_MEAN), list(IMAGENET_STD)
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
    if resume:
        runs.update_run_meta(run_dir, status="running", message="", device=str(device))
    else:
        runs.create_run(run_dir, project_dict, cfg.to_dict(), source[0], meta)
    writer = MetricsWriter(run_dir / "metrics.jsonl")
    emit.writer = writer
    threads = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        trainer = Trainer(cfg, source, data, device, run_dir, emit, should_stop, weights_sd)
        trainer.pretrained = pre
        result = trainer.run(resume)
    except UserError as exc:
        emit("error", message=exc.message)
        runs.update_run_meta(run_dir, status="failed", message=exc.message)
        raise
    except Exception as exc:
        if _is_oom(exc):
            msg = oom_message(cfg, device)
        else:
            msg = (
                f"training failed: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc) else ''}"
            )
        emit("error", message=msg, traceback=traceback.format_exc())
        runs.update_run_meta(run_dir, status="failed", message=msg)
        raise TrainingError(msg) from exc
    finally:
        writer.close()
        torch.set_num_threads(threads)
    runs.update_run_meta(run_dir, status=result.status, message=result.message)
    return result


# Validation on a fixed subset while a long epoch trains (the epoch-end validation uses the whole set):
# the accuracy plot gets points before the first epoch ends. Evaluation draws no random numbers and
# changes no weights, so the training's random streams and step count are the same with or without it.
PARTIAL_VAL_EVERY_S = 30.0  # seconds of training between subset validations (0: never)
PARTIAL_VAL_IMAGES = 1000  # the first images of the validation set


def grad_profile_due(step: int, every: int) -> bool:
    """Record the gradient profile at steps 1, 2, 4, 8, ... below ``every``, then every ``every`` steps:
    a short run gets a plot from its first steps (initialisation is where a deep plain net's profile is
    steepest)."""
    if every <= 0 or step <= 0:
        return False
    return step % every == 0 or (step < every and step & (step - 1) == 0)


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        source: tuple[str, str | None],
        data: datasets.Dataset,
        device: torch.device,
        run_dir: Path,
        emit: _Emitter,
        should_stop: Callable[[], bool],
        weights_sd: dict | None = None,
    ) -> None:
        self.cfg, self.source, self.data, self.device = cfg, source, data, device
        self.weights_sd = weights_sd
        self.pretrained = None  # training.pretrained.Pretrained: ImageNet weights
        self.run_dir, self.emit, self.should_stop = run_dir, emit, should_stop
        self.cuda = device.type == "cuda"
        self.amp = bool(cfg.amp and self.cuda)
        self.channels_last = bool(cfg.channels_last and self.cuda)
        if self.cuda:  # fixed shapes every step (drop_last): let cuDNN pick the fastest convolutions
            torch.backends.cudnn.benchmark = True
        self.aug_mode = augment.resolve_mode(cfg.augment, data.spec.kind)

    # ------------------------------------------------------------------ setup
    def _place_data(self) -> None:
        d, dev = self.data, self.device
        self.resident = True
        if self.cfg.loader != "auto":
            self.resident = self.cfg.loader == "resident"
        elif self.cuda:
            free, _ = torch.cuda.mem_get_info(dev)
            self.resident = d.nbytes < 0.4 * free
        elif dev.type == "mps":
            self.resident = d.nbytes < 2 * 2**30
        data_dev = dev if self.resident else torch.device("cpu")
        self.train_x, self.train_y = d.train_x.to(data_dev), d.train_y.to(data_dev)
        self.val_x, self.val_y = d.val_x.to(data_dev), d.val_y.to(data_dev)
        self.mean = torch.tensor(d.mean, dtype=torch.float32, device=dev)
        self.std = torch.tensor(d.std, dtype=torch.float32, device=dev)
        self.gens = {"order": torch.Generator(device=data_dev), "augment": torch.Generator(device=dev)}
        self.gens["order"].manual_seed(self.cfg.seed)
        self.gens["augment"].manual_seed(self.cfg.seed + 1)

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    # ------------------------------------------------------------------ run
    def run(self, resume: bool) -> RunResult:
        cfg, emit = self.cfg, self.emit
        seed_all(cfg.seed)
        model = module_from_source(*self.source)
        state = None
        weights_msg = ""
        if resume:
            weights, state = runs.load_checkpoint(self.run_dir, "last")
            model.load_state_dict(weights)
        elif self.pretrained is not None:
            weights_msg = pretrained_apply(model, self.pretrained, self.data.num_classes)
        elif cfg.weights:
            sd = self.weights_sd if self.weights_sd is not None else runs.load_weights_file(cfg.weights)
            weights_msg = transfer_weights(model, sd)
        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._place_data()
        n = len(self.train_y)
        self.batch = min(cfg.batch_size, n)
        self.steps_per_epoch = max(1, n // self.batch)
        total_steps = cfg.epochs * self.steps_per_epoch
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.named_weights = [
            (k, p) for k, p in self.model.named_parameters() if p.requires_grad and p.dim() > 1
        ]

        start_epoch, step, best = 0, 0, None
        opt_state = partial = None
        if state is not None:
            start_epoch, step = int(state["epoch"]), int(state["step"])
            best = state.get("best_val_acc")
            opt_state = state["optimizer"]
            partial = state.get("partial")  # stopped mid-epoch: the permutation and how far it got
        if start_epoch >= cfg.epochs:
            msg = f"the run already has {start_epoch} of {cfg.epochs} epochs; pass --epochs to extend it"
            emit("status", state="completed", message=msg)
            return RunResult(
                "completed", self.run_dir, start_epoch, step, best, message=msg, device=str(self.device)
            )

        self.step_fn, self.fast = self._make_step(opt_state)
        if state is not None:  # after building the step (the fast path's warm-up must not move any RNG)
            set_rng_state(state["rng"], self.gens)
        log_every = cfg.log_every or (100 if self.fast else 20 if self.cuda else 1)
        emit(
            "status",
            state="resumed" if resume else "running",
            message=(f"resumed at epoch {start_epoch + 1}, step {step}" if resume else "training")
            + (f"; {weights_msg}" if weights_msg else ""),
            device=str(self.device),
            fast_path=self.fast,
            epochs=cfg.epochs,
            total_steps=total_steps,
            steps_per_epoch=self.steps_per_epoch,
            batch_size=self.batch,
            dataset=self.data.describe(),
            resident=self.resident,
            augment=self.aug_mode,
            log_every=log_every,
        )

        result = RunResult(
            "completed", self.run_dir, start_epoch, step, best, device=str(self.device), fast_path=self.fast
        )
        t_run = time.perf_counter()
        steps_this_session = 0
        for epoch in range(start_epoch, cfg.epochs):
            self.model.train()
            t0 = time.perf_counter()
            if partial is not None:  # resuming mid-epoch: same permutation, same sums so far
                perm = partial["perm"].to(self.gens["order"].device)
                first, seen = int(partial["batch"]), int(partial["seen"])
                loss_sum = partial["loss_sum"].to(self.device)
                correct_sum = partial["correct_sum"].to(self.device)
                partial = None
            else:
                order_gen = self.gens["order"]
                perm = torch.randperm(len(self.train_y), generator=order_gen, device=order_gen.device)
                first, seen = 0, 0
                loss_sum = torch.zeros((), device=self.device, dtype=torch.float32)
                correct_sum = torch.zeros((), device=self.device, dtype=torch.int64)
            win_loss = torch.zeros((), device=self.device, dtype=torch.float32)
            win_steps, win_t = 0, time.perf_counter()
            last_val = win_t
            seen_before = seen  # images of this epoch trained before a stop (not timed in this session)
            for i, (xb, y) in enumerate(self._batches(perm, first, epoch), start=first):
                if self.should_stop():
                    return self._stopped(
                        result,
                        epoch,
                        step,
                        best,
                        {
                            "batch": i,
                            "perm": perm.cpu(),
                            "seen": seen,
                            "loss_sum": loss_sum.cpu(),
                            "correct_sum": correct_sum.cpu(),
                        },
                    )
                x = augment.augment_batch(xb, self.mean, self.std, self.aug_mode, self.gens["augment"])
                lr = self.lr_writer.set(step)
                loss, correct = self.step_fn(x, y)
                loss_sum += loss.detach().float()
                win_loss += loss.detach().float()
                correct_sum += correct
                seen += len(y)
                step += 1
                win_steps += 1
                steps_this_session += 1
                if step % log_every == 0 or step % self.steps_per_epoch == 0:
                    mean_loss = float(win_loss) / win_steps
                    now = time.perf_counter()
                    ips = win_steps * self.batch / max(now - win_t, 1e-9)
                    if not math.isfinite(mean_loss):
                        return self._diverged(result, epoch, step, lr, mean_loss)
                    eta = (time.perf_counter() - t_run) / steps_this_session * (total_steps - step)
                    emit(
                        "step",
                        step=step,
                        epoch=round(step / self.steps_per_epoch, 4),
                        loss=mean_loss,
                        lr=lr,
                        images_per_s=round(ips, 1),
                        eta_s=round(eta, 1),
                    )
                    win_loss.zero_()
                    win_steps, win_t = 0, now
                # from step 1: its gradients were computed at initialisation, where a deep plain net's
                # profile is steepest (plain56: the first conv's gradient ~2,000x the last one's)
                if grad_profile_due(step, cfg.grad_every):
                    layers, norms = grad_profile(self.named_weights)
                    emit("grad", step=step, epoch=epoch + 1, layers=layers, norms=norms)
                if (
                    PARTIAL_VAL_EVERY_S
                    and step % self.steps_per_epoch
                    and time.perf_counter() - last_val >= PARTIAL_VAL_EVERY_S
                ):
                    t_val = time.perf_counter()
                    val_loss, val_acc, n_val = self.evaluate_subset(PARTIAL_VAL_IMAGES)
                    emit(
                        "val",
                        step=step,
                        epoch=round(step / self.steps_per_epoch, 4),
                        val_loss=val_loss,
                        val_acc=val_acc,
                        images=n_val,
                    )
                    spent = time.perf_counter() - t_val  # not training time: off the rates and the ETA
                    win_t, t0, t_run = win_t + spent, t0 + spent, t_run + spent
                    last_val = time.perf_counter()
            train_loss = float(loss_sum) / self.steps_per_epoch
            if not math.isfinite(train_loss):
                return self._diverged(result, epoch, step, self.lr_writer.current, train_loss)
            train_time = time.perf_counter() - t0
            val_loss, val_acc = self.evaluate()
            if not math.isfinite(
                val_loss
            ):  # the last step of the epoch broke the weights: never checkpoint them
                return self._diverged(
                    result, epoch, step, self.lr_writer.current, val_loss, "validation loss"
                )
            is_best = best is None or val_acc > best
            best = val_acc if is_best else best
            self._checkpoint(epoch + 1, step, best, is_best)
            elapsed = time.perf_counter() - t_run
            remaining = (cfg.epochs - epoch - 1) * self.steps_per_epoch
            eta = elapsed / max(steps_this_session, 1) * remaining
            gpu_mb = torch.cuda.max_memory_allocated(self.device) / 2**20 if self.cuda else None
            rec = emit(
                "epoch",
                epoch=epoch + 1,
                step=step,
                train_loss=train_loss,
                train_acc=int(correct_sum) / max(seen, 1),
                val_loss=val_loss,
                val_acc=val_acc,
                lr=self.lr_writer.current,
                images_per_s=round((seen - seen_before) / max(train_time, 1e-9), 1),
                epoch_time_s=round(time.perf_counter() - t0, 3),
                eta_s=round(eta, 1),
                gpu_mem_mb=gpu_mb,
                best=is_best,
            )
            result.history.append(rec)
            result.epochs_done, result.steps_done = epoch + 1, step
            result.best_val_acc, result.last_val_acc, result.last_val_loss = best, val_acc, val_loss
            result.last_train_loss = train_loss
            runs.update_run_meta(self.run_dir, epochs_done=epoch + 1, best_val_acc=best, last_val_acc=val_acc)
        msg = (
            f"finished {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}; best validation accuracy "
            f"{best:.2%}"
        )
        emit("status", state="completed", message=msg)
        result.message = msg
        return result

    def _stopped(
        self, result: RunResult, epoch: int, step: int, best: float | None, partial: dict
    ) -> RunResult:
        """Stop on request; save where the epoch got to (unless the loss is no longer finite)."""
        value = float(partial["loss_sum"])
        if not math.isfinite(value):
            return self._diverged(result, epoch, step, self.lr_writer.current, value)
        self._checkpoint(epoch, step, best, False, partial=partial)
        msg = (
            f"stopped during epoch {epoch + 1} at step {step}; saved a checkpoint there "
            f"(resume continues from it)"
        )
        self.emit("status", state="stopped", message=msg)
        result.status, result.message, result.steps_done = "stopped", msg, step
        return result

    def _diverged(
        self, result: RunResult, epoch: int, step: int, lr: float, value: float, which: str = "training loss"
    ) -> RunResult:
        what = "nan" if math.isnan(value) else "inf"
        sched = (
            f" (scheduled from --lr {self.cfg.lr:.3g})" if abs(lr - self.cfg.lr) > 1e-12 * self.cfg.lr else ""
        )
        msg = (
            f"the {which} became {what} at step {step} (epoch {epoch + 1}) with learning rate "
            f"{lr:.3g}{sched}; "
            f"the run stopped. Try a lower learning rate (e.g. --lr {self.cfg.lr / 10:.3g}), warm-up, or "
            f"check the data"
        )
        if (self.run_dir / "last.safetensors").exists():
            weights, st = runs.load_checkpoint(self.run_dir, "last")
            self.model.load_state_dict(weights)  # roll back to the last finite checkpoint
            msg += f"; the weights were rolled back to the last checkpoint (step {int(st['step'])})"
        self.emit("error", message=msg)
        self.emit("status", state="diverged", message=msg)
        result.status, result.message, result.steps_done = "diverged", msg, step
        return result

    # ------------------------------------------------------------------ batches
    def _batches(self, perm: torch.Tensor, first: int, epoch: int):
        """uint8 batches ``first``.. of the epoch's permutation, on the compute device (not yet augmented:
        the loop augments after its stop check, so a stop never spends augmentation random numbers)."""
        b = self.batch
        if self.resident:
            for i in range(first, self.steps_per_epoch):
                idx = perm[i * b : (i + 1) * b]
                yield self.train_x.index_select(0, idx), self.train_y.index_select(0, idx)
            return
        loader = torch.utils.data.DataLoader(
            _IndexDataset(self.train_x, self.train_y),
            batch_sampler=[perm[i * b : (i + 1) * b].tolist() for i in range(first, self.steps_per_epoch)],
            num_workers=self.cfg.workers,
            pin_memory=self.cuda,
            collate_fn=_collate,
            generator=torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch),
        )  # not the global RNG
        for x, y in loader:
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    # ------------------------------------------------------------------ steps
    def _make_step(self, opt_state: dict | None):
        cfg = self.cfg
        if self.cuda and self.resident and cfg.fast_path:
            from training.fastpath import GraphStep, fast_path_problem

            problem = fast_path_problem(self.model)
            if problem is None:
                snapshot = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                try:
                    lr_t = torch.tensor(lr_at(0, cfg, self.steps_per_epoch), device=self.device)
                    opt = make_optimizer(self.model, cfg, lr_tensor=lr_t, fused=True)
                    if opt_state is not None:
                        load_optimizer_state(opt, opt_state)
                    step = GraphStep(
                        self.model,
                        opt,
                        self.criterion,
                        (self.batch, *self.data.shape),
                        self.amp,
                        self.channels_last,
                        self.device,
                    )
                    self.optimizer = opt
                    self.lr_writer = LrWriter(opt, cfg, self.steps_per_epoch, lr_tensor=lr_t)
                    self.emit("status", state="fast_path", message="CUDA graph of the whole step captured")
                    return step, True
                except Exception as exc:
                    if _is_oom(exc):
                        raise
                    with torch.no_grad():
                        for k, v in self.model.state_dict().items():
                            v.copy_(snapshot[k])
                    for p in self.model.parameters():
                        p.grad = None
                    problem = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
            self.emit("status", state="eager", message=f"fast path off ({problem}); training eagerly")
        opt = make_optimizer(self.model, cfg)
        if opt_state is not None:
            load_optimizer_state(opt, opt_state)
        self.optimizer = opt
        self.lr_writer = LrWriter(opt, cfg, self.steps_per_epoch)
        net = {"module": self.model, "compiled": False}
        if cfg.compile:
            try:
                net = {"module": torch.compile(self.model), "compiled": True}
            except Exception as exc:  # noqa: BLE001
                self.emit(
                    "status", state="eager", message=f"torch.compile unavailable ({exc}); not compiling"
                )

        def forward(x: torch.Tensor) -> torch.Tensor:
            if not net["compiled"]:
                return net["module"](x)
            try:  # compilation happens on the first calls; if it fails, train uncompiled
                return net["module"](x)
            except Exception as exc:
                if _is_oom(exc):
                    raise
                net.update(module=self.model, compiled=False)
                self.emit(
                    "status",
                    state="eager",
                    message=f"torch.compile failed ({type(exc).__name__}: "
                    f"{str(exc).strip().splitlines()[0][:200] if str(exc) else ''}); not compiling",
                )
                return self.model(x)

        def eager_step(x: torch.Tensor, y: torch.Tensor):
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                out = forward(x)
                loss = self.criterion(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach(), (out.detach().argmax(1) == y).sum()

        return eager_step, False

    # ------------------------------------------------------------------ eval + checkpoints
    def evaluate(self) -> tuple[float, float]:
        loss, acc, _n = self.evaluate_subset(None)
        return loss, acc

    @torch.no_grad()
    def evaluate_subset(self, limit: int | None) -> tuple[float, float, int]:
        """Mean loss, accuracy and the image count on the first ``limit`` validation images (None: all)."""
        self.model.eval()
        total_loss = torch.zeros((), device=self.device, dtype=torch.float64)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        n = len(self.val_y) if limit is None else min(len(self.val_y), int(limit))
        bs = max(self.batch, 256)
        for i in range(0, n, bs):
            x = self.val_x[i : min(i + bs, n)].to(self.device, non_blocking=True)
            y = self.val_y[i : min(i + bs, n)].to(self.device, non_blocking=True)
            x = augment.normalize(x, self.mean, self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                out = self.model(x)
            total_loss += F.cross_entropy(out.float(), y, reduction="sum").double()
            correct += (out.argmax(1) == y).sum()
        self.model.train()
        return float(total_loss) / n, int(correct) / n, n

    def _checkpoint(
        self, epoch: int, step: int, best: float | None, is_best: bool, partial: dict | None = None
    ) -> None:
        """``epoch`` counts finished epochs; ``partial`` marks a stop inside the next one."""
        state = {
            "epoch": epoch,
            "step": step,
            "best_val_acc": best,
            "optimizer": _clean_optimizer_state(self.optimizer),
            "rng": rng_state(self.gens),
            "config": self.cfg.to_dict(),
        }
        if partial is not None:
            state["partial"] = partial
        weights = self.model.state_dict()
        runs.save_checkpoint(self.run_dir, "last", weights, state)
        if is_best:
            runs.save_checkpoint(self.run_dir, "best", weights, state)
        what = f"step {step} (in epoch {epoch + 1})" if partial is not None else f"epoch {epoch}"
        self.emit(
            "status",
            state="checkpoint",
            message=f"saved {what}" + (" (best)" if is_best else ""),
            epoch=epoch,
            step=step,
        )


class _IndexDataset(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitems__(self, idx: list[int]):
        t = torch.as_tensor(idx)
        return self.x.index_select(0, t), self.y.index_select(0, t)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _collate(batch):
    if isinstance(batch, tuple):  # __getitems__ gave the whole batch
        return batch
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.stack(ys)
