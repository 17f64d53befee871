"""Learning-rate schedules as a pure function of the global step.

Because the rate depends on nothing but (step, config, steps per epoch), a
resumed run needs no scheduler state: the step count restores it exactly.
``LrWriter`` puts the rate into the optimizer each step, either as plain
floats in the param groups (eager) or into one device tensor that a captured
CUDA graph reads (the fast path), with no host-device sync.
"""

from __future__ import annotations

import math

from training.config import TrainConfig


def lr_at(step: int, cfg: TrainConfig, steps_per_epoch: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    base = float(cfg.lr)
    step = min(max(step, 0), total - 1)
    if cfg.schedule == "onecycle":
        # torch's OneCycleLR defaults: cosine from lr/25 up to lr over pct_start, then down to lr/25e4.
        rise = max(1, round(cfg.pct_start * total))
        start, end = base / 25.0, base / 25.0 / 1e4
        if step < rise:
            return _cos(start, base, step / rise)
        return _cos(base, end, (step - rise) / max(1, total - 1 - rise))
    warm = round(cfg.warmup_epochs * steps_per_epoch)
    if step < warm:
        return base * (step + 1) / (warm + 1)
    if cfg.schedule == "constant":
        return base
    if cfg.schedule == "step":
        # a milestone above 0 never falls on the first step (a 1-step run at 50% would start decayed)
        passed = sum(1 for m in cfg.milestones if step >= (max(1, round(m * total)) if m > 0 else 0))
        return base * (cfg.gamma**passed)
    if cfg.schedule == "cosine":
        return _cos(base, 0.0, (step - warm) / max(1, total - warm))
    raise ValueError(f"unknown schedule {cfg.schedule!r}")


def _cos(a: float, b: float, frac: float) -> float:
    return b + (a - b) * (1 + math.cos(math.pi * min(max(frac, 0.0), 1.0))) / 2


class LrWriter:
    """Writes the scheduled rate each step: into param groups, or into a shared lr tensor."""

    def __init__(self, optimizer, cfg: TrainConfig, steps_per_epoch: int, lr_tensor=None) -> None:
        self.optimizer = optimizer
        self.cfg = cfg
        self.steps_per_epoch = steps_per_epoch
        self.lr_tensor = lr_tensor  # a 0-d tensor on the device that every param group's "lr" is
        self.current = lr_at(0, cfg, steps_per_epoch)

    def set(self, step: int) -> float:
        lr = lr_at(step, self.cfg, self.steps_per_epoch)
        self.current = lr
        if self.lr_tensor is not None:
            self.lr_tensor.fill_(lr)  # a device-side write: no sync, the captured graph reads it live
        else:
            for g in self.optimizer.param_groups:
                g["lr"] = lr
        return lr
