"""The training loop: a ``Trainer`` given its model, step, data and starting point runs the epochs.

Everything the loop needs is built before it starts (training/engine.py):
the model with its weights, the step and its optimizer (training/step.py),
the data on its devices with the owned generators (training/placement.py),
and where to start (a fresh run, or a checkpoint's epoch, step and mid-epoch
position). Each step augments a uint8 batch on the compute device
(training/augment.py), sets the scheduled learning rate and runs the step.
Records go out through ``emit`` (training/metrics.py's schema).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from training import augment, distributed, placement, runs
from training.config import TrainConfig
from training.distributed import SINGLE, World
from training.grads import grad_profile, grad_profile_due
from training.meter import Meter
from training.optim import checkpoint_state
from training.placement import PlacedData
from training.result import RunResult
from training.rng import rng_state
from training.step import Precision, Step


@dataclass(frozen=True)
class Plan:
    """The shape of the run: batch, steps per epoch, augmentation, and how it is described."""

    batch: int
    steps_per_epoch: int
    aug_mode: str  # training/augment.py: crop_flip | crop | none
    dataset: str  # the dataset's description for the status record
    val_every_s: float  # seconds of training between subset validations mid-epoch (0: never)
    val_images: int  # the first images of the validation set that those use


@dataclass(frozen=True)
class Start:
    """Where the run starts: 0 for a new run, a checkpoint's position for a resumed one."""

    epoch: int = 0
    step: int = 0
    best: float | None = None
    partial: dict | None = None  # stopped mid-epoch: the permutation and how far it got
    resumed: bool = False
    weights_msg: str = ""  # what loading pretrained or transferred weights did


class _EpochSums:
    """One epoch's permutation, position and running sums (kept on the device: no sync per step)."""

    def __init__(self, perm: torch.Tensor, first: int, seen: int, loss_sum, correct_sum) -> None:
        self.perm, self.first, self.seen = perm, first, seen
        self.loss_sum, self.correct_sum = loss_sum, correct_sum

    @classmethod
    def begin(
        cls, partial: dict | None, n: int, order: torch.Generator, dev: torch.device, world: World
    ) -> _EpochSums:
        zero_loss = torch.zeros((), device=dev, dtype=torch.float32)
        zero_correct = torch.zeros((), device=dev, dtype=torch.int64)
        if partial is not None:  # resuming mid-epoch: same permutation, same sums so far
            perm, first = partial["perm"].to(order.device), int(partial["batch"])
            if not world.active:
                loss_sum, correct_sum = partial["loss_sum"].to(dev), partial["correct_sum"].to(dev)
                return cls(perm, first, int(partial["seen"]), loss_sum, correct_sum)
            if not world.main:  # the saved sums are the whole job's: rank 0 carries them
                return cls(perm, first, 0, zero_loss, zero_correct)
            loss_sum = partial["loss_sum"].to(dev) * world.size  # the ranks' sum of per-rank means
            return cls(perm, first, int(partial["seen"]), loss_sum, partial["correct_sum"].to(dev))
        perm = torch.randperm(n, generator=order, device=order.device)
        return cls(perm, 0, 0, zero_loss, zero_correct)

    def add(self, loss: torch.Tensor, correct: torch.Tensor, images: int) -> None:
        self.loss_sum += loss.detach().float()
        self.correct_sum += correct
        self.seen += images

    def totals(self, world: World) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(sum of the steps' mean losses, correct predictions, images seen) of the whole job."""
        if not world.active:
            return self.loss_sum, self.correct_sum, self.seen
        loss_sum = distributed.sum_all(self.loss_sum, world) / world.size
        correct_sum = distributed.sum_all(self.correct_sum, world)
        seen = distributed.sum_all(torch.tensor(self.seen, device=self.loss_sum.device), world)
        return loss_sum, correct_sum, int(seen)

    def partial(self, batch_index: int, world: World) -> dict:
        loss_sum, correct_sum, seen = self.totals(world)
        return {
            "batch": batch_index,
            "perm": self.perm.cpu(),
            "seen": seen,
            "loss_sum": loss_sum.cpu(),
            "correct_sum": correct_sum.cpu(),
        }


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        step: Step,
        data: PlacedData,
        plan: Plan,
        precision: Precision,
        start: Start,
        run_dir: Path,
        emit: Callable[..., dict],
        should_stop: Callable[[], bool],
        world: World = SINGLE,
    ) -> None:
        self.cfg, self.model, self.step, self.data, self.plan = cfg, model, step, data, plan
        self.precision, self.start, self.run_dir = precision, start, run_dir
        self.emit, self.should_stop, self.world = emit, should_stop, world
        self.device = precision.device
        per_rank = plan.batch // world.size
        self.shard = (world.rank * per_rank, per_rank) if world.active else None  # rows of each batch
        cuda = self.device.type == "cuda"
        self.log_every = cfg.log_every or (100 if step.fast else 20 if cuda else 1)
        self.named_weights = [(k, p) for k, p in model.named_parameters() if p.requires_grad and p.dim() > 1]

    # ------------------------------------------------------------------ the loop
    def run(self) -> RunResult:
        cfg, plan, data, spe = self.cfg, self.plan, self.data, self.plan.steps_per_epoch
        self._announce()
        step, partial = self.start.step, self.start.partial
        result = RunResult("completed", self.run_dir, self.start.epoch, step, self.start.best)
        result.device, result.fast_path = str(self.device), self.step.fast
        meter = Meter(self.device, plan.batch, cfg.epochs * spe, self.world)
        for epoch in range(self.start.epoch, cfg.epochs):
            self.model.train()
            sums = _EpochSums.begin(partial, len(data.train_y), data.gens["order"], self.device, self.world)
            partial = None
            meter.start_epoch(sums.seen)
            batches = placement.batches(
                data, sums.perm, sums.first, spe, plan.batch, cfg, epoch, self.device, self.shard
            )
            for i, (xb, y) in enumerate(batches, start=sums.first):
                if distributed.any_rank(self.should_stop(), self.world, self.device):
                    return self._stopped(result, epoch, step, sums.partial(i, self.world))
                part = (self.shard[0], plan.batch) if self.shard else None
                x = augment.augment_batch(
                    xb, data.mean, data.std, plan.aug_mode, data.gens["augment"], part=part
                )
                lr = self.step.lr_writer.set(step)
                loss, correct = self.step.fn(x, y)
                sums.add(loss, correct, len(y))
                meter.add(loss)
                step += 1
                if step % self.log_every == 0 or step % spe == 0:
                    mean_loss, ips, eta = meter.window(step)
                    if not math.isfinite(mean_loss):
                        return self._diverged(result, epoch, step, lr, mean_loss)
                    self.emit(
                        "step",
                        step=step,
                        epoch=round(step / spe, 4),
                        loss=mean_loss,
                        lr=lr,
                        images_per_s=round(ips, 1),
                        eta_s=round(eta, 1),
                    )
                # from step 1: its gradients were computed at initialisation, where a deep plain net's
                # profile is steepest (plain56: the first conv's gradient ~2,000x the last one's)
                if self.world.main and grad_profile_due(step, cfg.grad_every):
                    layers, norms = grad_profile(self.named_weights)
                    self.emit("grad", step=step, epoch=epoch + 1, layers=layers, norms=norms)
                if (
                    self.world.main
                    and plan.val_every_s
                    and step % spe
                    and meter.since_val() >= plan.val_every_s
                ):
                    self._subset_validation(step, meter)
            diverged = self._end_epoch(result, epoch, step, sums, meter)
            if diverged is not None:
                return diverged
        msg = (
            f"finished {cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}; best validation accuracy "
            f"{result.best_val_acc:.2%}"
        )
        self.emit("status", state="completed", message=msg)
        result.message = msg
        return result

    # ------------------------------------------------------------------ the loop's parts
    def _announce(self) -> None:
        cfg, start, plan = self.cfg, self.start, self.plan
        resumed = f"resumed at epoch {start.epoch + 1}, step {start.step}"
        self.emit(
            "status",
            state="resumed" if start.resumed else "running",
            message=(resumed if start.resumed else "training")
            + (f"; {start.weights_msg}" if start.weights_msg else ""),
            device=str(self.device),
            fast_path=self.step.fast,
            epochs=cfg.epochs,
            total_steps=cfg.epochs * plan.steps_per_epoch,
            steps_per_epoch=plan.steps_per_epoch,
            batch_size=plan.batch,
            dataset=plan.dataset,
            resident=self.data.resident,
            augment=plan.aug_mode,
            log_every=self.log_every,
        )

    def _subset_validation(self, step: int, meter: Meter) -> None:
        """Validation on a fixed subset while a long epoch trains: the accuracy plot gets points before
        the first epoch ends. It draws no random numbers and changes no weights."""
        t_val = time.perf_counter()
        val_loss, val_acc, n_val = self.evaluate_subset(self.plan.val_images)
        self.emit(
            "val",
            step=step,
            epoch=round(step / self.plan.steps_per_epoch, 4),
            val_loss=val_loss,
            val_acc=val_acc,
            images=n_val,
        )
        meter.pause(time.perf_counter() - t_val)  # not training time: off the rates and the ETA

    def _end_epoch(
        self, result: RunResult, epoch: int, step: int, sums: _EpochSums, meter: Meter
    ) -> RunResult | None:
        """Validate, checkpoint and report a finished epoch; a diverged result if the loss is not finite."""
        spe, lr = self.plan.steps_per_epoch, self.step.lr_writer.current
        loss_sum, correct_sum, seen = sums.totals(self.world)
        train_loss = float(loss_sum) / spe
        if not math.isfinite(train_loss):
            return self._diverged(result, epoch, step, lr, train_loss)
        train_time = meter.train_time()
        val_loss, val_acc = self.evaluate()  # rank 0's, on every rank
        if not math.isfinite(val_loss):  # the last step of the epoch broke the weights: never checkpoint them
            return self._diverged(result, epoch, step, lr, val_loss, "validation loss")
        best = result.best_val_acc
        is_best = best is None or val_acc > best
        best = val_acc if is_best else best
        self._checkpoint(epoch + 1, step, best, is_best)
        epoch_time, eta = meter.epoch_times((self.cfg.epochs - epoch - 1) * spe)
        cuda = self.device.type == "cuda"
        rec = self.emit(
            "epoch",
            epoch=epoch + 1,
            step=step,
            train_loss=train_loss,
            train_acc=int(correct_sum) / max(seen, 1),
            val_loss=val_loss,
            val_acc=val_acc,
            lr=lr,
            images_per_s=round((seen - meter.seen_before) / max(train_time, 1e-9), 1),
            epoch_time_s=round(epoch_time, 3),
            eta_s=round(eta, 1),
            gpu_mem_mb=torch.cuda.max_memory_allocated(self.device) / 2**20 if cuda else None,
            best=is_best,
        )
        result.history.append(rec)
        result.epochs_done, result.steps_done = epoch + 1, step
        result.best_val_acc, result.last_val_acc, result.last_val_loss = best, val_acc, val_loss
        result.last_train_loss = train_loss
        if self.world.main:
            runs.update_run_meta(self.run_dir, epochs_done=epoch + 1, best_val_acc=best, last_val_acc=val_acc)
        return None

    def _stopped(self, result: RunResult, epoch: int, step: int, partial: dict) -> RunResult:
        """Stop on request; save where the epoch got to (unless the loss is no longer finite)."""
        value = float(partial["loss_sum"])
        if not math.isfinite(value):
            return self._diverged(result, epoch, step, self.step.lr_writer.current, value)
        self._checkpoint(epoch, step, result.best_val_acc, False, partial=partial)
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
        base = self.cfg.lr
        sched = f" (scheduled from --lr {base:.3g})" if abs(lr - base) > 1e-12 * base else ""
        msg = (
            f"the {which} became {what} at step {step} (epoch {epoch + 1}) with learning rate "
            f"{lr:.3g}{sched}; the run stopped. Try a lower learning rate (e.g. --lr {base / 10:.3g}), "
            f"warm-up, or check the data"
        )
        if (self.run_dir / "last.safetensors").exists():
            weights, st = runs.load_checkpoint(self.run_dir, "last")
            self.model.load_state_dict(weights)  # roll back to the last finite checkpoint
            msg += f"; the weights were rolled back to the last checkpoint (step {int(st['step'])})"
        self.emit("error", message=msg)
        self.emit("status", state="diverged", message=msg)
        result.status, result.message, result.steps_done = "diverged", msg, step
        return result

    # ------------------------------------------------------------------ eval + checkpoints
    def evaluate(self) -> tuple[float, float]:
        """Loss and accuracy on the validation set. Under torchrun rank 0 evaluates (its BatchNorm
        statistics are the ones DDP keeps and the checkpoint holds) and tells the others."""
        if not self.world.active:
            loss, acc, _n = self.evaluate_subset(None)
            return loss, acc
        loss_acc = self.evaluate_subset(None)[:2] if self.world.main else None
        return distributed.broadcast_object(loss_acc, self.world)

    @torch.no_grad()
    def evaluate_subset(self, limit: int | None) -> tuple[float, float, int]:
        """Mean loss, accuracy and the image count on the first ``limit`` validation images (None: all)."""
        data, dev = self.data, self.device
        self.model.eval()
        total_loss = torch.zeros((), device=dev, dtype=torch.float64)
        correct = torch.zeros((), device=dev, dtype=torch.int64)
        n = len(data.val_y) if limit is None else min(len(data.val_y), int(limit))
        bs = max(self.plan.batch, 256)
        for i in range(0, n, bs):
            x = data.val_x[i : min(i + bs, n)].to(dev, non_blocking=True)
            y = data.val_y[i : min(i + bs, n)].to(dev, non_blocking=True)
            x = augment.normalize(x, data.mean, data.std)
            if self.precision.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self.precision.autocast():
                out = self.model(x)
            total_loss += F.cross_entropy(out.float(), y, reduction="sum").double()
            correct += (out.argmax(1) == y).sum()
        self.model.train()
        return float(total_loss) / n, int(correct) / n, n

    def _checkpoint(
        self, epoch: int, step: int, best: float | None, is_best: bool, partial: dict | None = None
    ) -> None:
        """``epoch`` counts finished epochs; ``partial`` marks a stop inside the next one."""
        if not self.world.main:  # rank 0 writes the job's checkpoint
            return
        state = {
            "epoch": epoch,
            "step": step,
            "best_val_acc": best,
            "optimizer": checkpoint_state(self.step.optimizer),
            "rng": rng_state(self.data.gens),
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
