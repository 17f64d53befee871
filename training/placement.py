"""The run's data on its devices, and the batches of an epoch.

The data are uint8 tensors held whole where they fit (on the GPU when it has
room, otherwise in host memory behind a DataLoader with workers and pinned
memory); each step gathers a batch through a per-epoch permutation. The two
owned generators (batch order on the data's device, augmentation on the
compute device) are seeded here from the run's seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from training import datasets
from training.config import TrainConfig


@dataclass(frozen=True)
class PlacedData:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    mean: torch.Tensor  # (C,) on the compute device
    std: torch.Tensor
    resident: bool  # held on the compute device (else host memory behind a DataLoader)
    gens: dict[str, torch.Generator]  # "order" (batch order), "augment"


def place(data: datasets.Dataset, cfg: TrainConfig, dev: torch.device) -> PlacedData:
    resident = True
    if cfg.loader != "auto":
        resident = cfg.loader == "resident"
    elif dev.type == "cuda":
        free, _ = torch.cuda.mem_get_info(dev)
        resident = data.nbytes < 0.4 * free
    elif dev.type == "mps":
        resident = data.nbytes < 2 * 2**30
    data_dev = dev if resident else torch.device("cpu")
    gens = {"order": torch.Generator(device=data_dev), "augment": torch.Generator(device=dev)}
    gens["order"].manual_seed(cfg.seed)
    gens["augment"].manual_seed(cfg.seed + 1)
    return PlacedData(
        data.train_x.to(data_dev),
        data.train_y.to(data_dev),
        data.val_x.to(data_dev),
        data.val_y.to(data_dev),
        torch.tensor(data.mean, dtype=torch.float32, device=dev),
        torch.tensor(data.std, dtype=torch.float32, device=dev),
        resident,
        gens,
    )


def batches(
    data: PlacedData,
    perm: torch.Tensor,
    first: int,
    steps: int,
    batch: int,
    cfg: TrainConfig,
    epoch: int,
    dev: torch.device,
    shard: tuple[int, int] | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """uint8 batches ``first``..``steps - 1`` of the epoch's permutation, on the compute device (not yet
    augmented: the loop augments after its stop check, so a stop never spends augmentation random numbers).
    ``shard=(offset, size)``: this rank's rows of each global batch of ``batch`` (under DDP)."""
    b = batch
    off, size = shard if shard is not None else (0, b)
    if data.resident:
        for i in range(first, steps):
            idx = perm[i * b + off : i * b + off + size]
            yield data.train_x.index_select(0, idx), data.train_y.index_select(0, idx)
        return
    loader = torch.utils.data.DataLoader(
        _IndexDataset(data.train_x, data.train_y),
        batch_sampler=[perm[i * b + off : i * b + off + size].tolist() for i in range(first, steps)],
        num_workers=cfg.workers,
        pin_memory=dev.type == "cuda",
        collate_fn=_collate,
        generator=torch.Generator().manual_seed(cfg.seed * 100003 + epoch),
    )  # not the global RNG
    for x, y in loader:
        yield x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)


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
    xs, ys = zip(*batch, strict=True)
    return torch.stack(xs), torch.stack(ys)
