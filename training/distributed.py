"""Several processes, one run: torchrun and DistributedDataParallel (README.md "Training at scale").

``main.py train`` (and an exported ``train.py``) started by ``torchrun --nproc_per_node N``
finds ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in its environment; ``setup`` then joins the
process group: NCCL on CUDA (rank ``LOCAL_RANK`` on GPU ``LOCAL_RANK``), gloo on the CPU. Without
torchrun (``WORLD_SIZE`` unset or 1) nothing here is used and the run is the single-process one.

How the ranks share a run (training/trainer.py):
- ``--batch-size`` is the global batch; each rank trains on its own slice of every batch (the
  epoch's permutation and the augmentation's random numbers are drawn for the whole batch on every
  rank from the same seeded generators, and each rank keeps its part), so the ranks' batches
  together are the single-process run's batch. The learning rate and its schedule follow the
  global batch and the step, as in one process.
- DDP averages the gradients. BatchNorm normalises over each rank's slice and its running
  statistics are rank 0's (DDP broadcasts rank 0's buffers before each forward); SyncBatchNorm
  (``sync_bn``, CUDA only, off by default) normalises over the global batch instead.
- Rank 0 alone creates the run folder, writes metrics and checkpoints and validates; the others
  wait at their next collective. Every random stream is the same on every rank, so a checkpoint
  holds the whole state and resumes on any number of processes with the same global batch.
- A stop asked of any rank (Ctrl-C, the editor's stop flag) stops every rank at the same step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from graph.errors import UserError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


SINGLE = World()


def from_env() -> World:
    """This process's place in a torchrun job (``World()`` when not started by torchrun)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise UserError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({exc})") from None
    if size <= 1:
        return SINGLE
    return World(rank, size, local)


def setup(device_name: str) -> World:
    """Join the process group once (a second call returns the same world)."""
    world = from_env()
    if not world.active or dist.is_initialized():
        return world
    cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    return world


def finish() -> None:
    """Leave the process group (a process that exits without doing so may abort in gloo's threads:
    "terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()


def joined() -> bool:
    return dist.is_initialized()


def device_for(device: torch.device, world: World) -> torch.device:
    """Rank ``LOCAL_RANK``'s GPU on CUDA."""
    if world.active and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def broadcast_object(value, world: World):
    """Rank 0's ``value`` on every rank."""
    if not world.active:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any."""
    if not world.active:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def sum_all(t: torch.Tensor, world: World) -> torch.Tensor:
    """The sum over the ranks of ``t`` (a new tensor; ``t`` itself when there is one process)."""
    if not world.active:
        return t
    out = t.clone()
    dist.all_reduce(out)
    return out


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()
