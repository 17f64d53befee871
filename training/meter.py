"""Timing of a training session: the loss window between step records, images/s and ETAs.

Time spent validating mid-epoch is not training time: ``pause`` moves every
clock past it, so rates and ETAs leave it out.
"""

from __future__ import annotations

import time

import torch

from training import distributed
from training.distributed import SINGLE, World


class Meter:
    """``batch``: the global batch; rates are the whole job's."""

    def __init__(self, device: torch.device, batch: int, total_steps: int, world: World = SINGLE) -> None:
        self.device, self.batch, self.total_steps, self.world = device, batch, total_steps, world
        self.t_run = time.perf_counter()
        self.session_steps = 0  # steps trained in this session (a resumed run starts at 0)

    def start_epoch(self, seen: int) -> None:
        self.t0 = time.perf_counter()
        self.seen_before = seen  # images of this epoch trained before a stop (not timed in this session)
        self.win_loss = torch.zeros((), device=self.device, dtype=torch.float32)
        self.win_steps, self.win_t = 0, time.perf_counter()
        self.last_val = self.win_t

    def add(self, loss: torch.Tensor) -> None:
        self.win_loss += loss.detach().float()
        self.win_steps += 1
        self.session_steps += 1

    def window(self, step: int) -> tuple[float, float, float]:
        """(mean loss, images/s, ETA in s) of the steps since the last window; starts a new one."""
        if self.world.active:  # the mean of the ranks' losses, as one process computes it
            win = distributed.sum_all(self.win_loss, self.world) / self.world.size
            mean_loss = float(win) / self.win_steps
        else:
            mean_loss = float(self.win_loss) / self.win_steps
        now = time.perf_counter()
        ips = self.win_steps * self.batch / max(now - self.win_t, 1e-9)
        eta = (time.perf_counter() - self.t_run) / self.session_steps * (self.total_steps - step)
        self.win_loss.zero_()
        self.win_steps, self.win_t = 0, now
        return mean_loss, ips, eta

    def since_val(self) -> float:
        return time.perf_counter() - self.last_val

    def pause(self, spent: float) -> None:
        """``spent`` seconds went to something other than training (a subset validation)."""
        self.win_t, self.t0, self.t_run = self.win_t + spent, self.t0 + spent, self.t_run + spent
        self.last_val = time.perf_counter()

    def train_time(self) -> float:
        """Seconds of training in this epoch so far."""
        return time.perf_counter() - self.t0

    def epoch_times(self, remaining_steps: int) -> tuple[float, float]:
        """(seconds this epoch, ETA of the remaining steps) at the end of an epoch."""
        elapsed = time.perf_counter() - self.t_run
        return time.perf_counter() - self.t0, elapsed / max(self.session_steps, 1) * remaining_steps
