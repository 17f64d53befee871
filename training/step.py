"""The training step, built once per run: ``step.fn(x, y) -> (loss, correct)`` plus its optimizer.

Three ways to run it, picked in this order:

- the CUDA graph of the whole step (training/fastpath.py) on CUDA with resident data when the
  config allows it; anything that stops the capture falls back to eager, with a status record
  saying why (an out-of-memory error is raised instead);
- ``torch.compile`` of the model when the config asks for it (a compile failure on the first
  calls falls back to the plain model, with a status record);
- eager: forward under the run's autocast, backward, ``optimizer.step()``.

``build_step`` returns everything it made (the optimizer and the learning-rate writer too); it
sets nothing on anyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from training.config import TrainConfig
from training.failures import first_line, is_oom
from training.optim import load_optimizer_state, make_optimizer
from training.schedule import LrWriter, lr_at

StepFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Precision:
    """How the step computes: bf16 autocast and channels-last memory (both CUDA only)."""

    device: torch.device
    amp: bool
    channels_last: bool

    def autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp)


@dataclass(frozen=True)
class Step:
    fn: StepFn
    optimizer: torch.optim.Optimizer
    lr_writer: LrWriter
    fast: bool  # the CUDA graph of the whole step


def build_step(
    model: nn.Module,
    cfg: TrainConfig,
    criterion: nn.Module,
    batch_shape: tuple[int, ...],
    steps_per_epoch: int,
    precision: Precision,
    resident: bool,
    opt_state: dict | None,
    emit: Callable[..., dict],
    ddp: nn.Module | None = None,
) -> Step:
    """The run's step. ``opt_state``: a checkpoint's optimizer state to continue from; ``ddp``: the
    DistributedDataParallel wrapper of ``model`` that the step calls under torchrun (no CUDA graph then)."""
    if ddp is not None and precision.device.type == "cuda" and cfg.fast_path:
        emit("status", state="eager", message="fast path off (DistributedDataParallel); training eagerly")
    elif precision.device.type == "cuda" and resident and cfg.fast_path:
        from training.fastpath import fast_path_problem

        problem = fast_path_problem(model)
        if problem is None:
            step, problem = _graph_step(
                model, cfg, criterion, batch_shape, steps_per_epoch, precision, opt_state
            )
            if step is not None:
                emit("status", state="fast_path", message="CUDA graph of the whole step captured")
                return step
        emit("status", state="eager", message=f"fast path off ({problem}); training eagerly")
    return _eager_step(model, ddp or model, cfg, criterion, steps_per_epoch, precision, opt_state, emit)


def _graph_step(
    model: nn.Module,
    cfg: TrainConfig,
    criterion: nn.Module,
    batch_shape: tuple[int, ...],
    steps_per_epoch: int,
    precision: Precision,
    opt_state: dict | None,
) -> tuple[Step | None, str]:
    """The captured step, or None and why not (the model's weights are then as they were)."""
    from training.fastpath import GraphStep

    snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        lr_t = torch.tensor(lr_at(0, cfg, steps_per_epoch), device=precision.device)
        opt = make_optimizer(model, cfg, lr_tensor=lr_t, fused=True)
        if opt_state is not None:
            load_optimizer_state(opt, opt_state)
        fn = GraphStep(
            model, opt, criterion, batch_shape, precision.amp, precision.channels_last, precision.device
        )
        return Step(fn, opt, LrWriter(opt, cfg, steps_per_epoch, lr_tensor=lr_t), True), ""
    except Exception as exc:
        if is_oom(exc):
            raise
        with torch.no_grad():
            for k, v in model.state_dict().items():
                v.copy_(snapshot[k])
        for p in model.parameters():
            p.grad = None
        return None, f"{type(exc).__name__}: {first_line(exc)}"


def _eager_step(
    model: nn.Module,
    net: nn.Module,
    cfg: TrainConfig,
    criterion: nn.Module,
    steps_per_epoch: int,
    precision: Precision,
    opt_state: dict | None,
    emit: Callable[..., dict],
) -> Step:
    opt = make_optimizer(model, cfg)
    if opt_state is not None:
        load_optimizer_state(opt, opt_state)
    forward = _forward(net, cfg.compile, emit)

    def eager_step(x: torch.Tensor, y: torch.Tensor):
        if precision.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with precision.autocast():
            out = forward(x)
            loss = criterion(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach(), (out.detach().argmax(1) == y).sum()

    return Step(eager_step, opt, LrWriter(opt, cfg, steps_per_epoch), False)


def _forward(
    model: nn.Module, compile_: bool, emit: Callable[..., dict]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The model's forward, compiled when asked; a compile failure falls back to the plain model."""
    if not compile_:
        return model
    try:
        net = {"module": torch.compile(model), "compiled": True}
    except Exception as exc:  # noqa: BLE001
        emit("status", state="eager", message=f"torch.compile unavailable ({exc}); not compiling")
        return model

    def forward(x: torch.Tensor) -> torch.Tensor:
        if not net["compiled"]:
            return model(x)
        try:  # compilation happens on the first calls; if it fails, train uncompiled
            return net["module"](x)
        except Exception as exc:
            if is_oom(exc):
                raise
            net["compiled"] = False
            emit(
                "status",
                state="eager",
                message=f"torch.compile failed ({type(exc).__name__}: {first_line(exc, 200)}); not compiling",
            )
            return model(x)

    return forward
