"""Batch augmentation on whatever device the data lives on (GPU or CPU).

The ResNet paper's augmentation (He et al. 2016, 4.2): pad 4 pixels on each
side, take a random crop of the original size, flip horizontally with
probability 1/2. Done per sample on a whole batch at once: one ``torch.gather``
picks the rows, a second the columns; the flip is folded into the column
index with ``torch.where``. Padding is applied after normalisation, so the
pad value is the dataset mean (the paper subtracts the per-pixel mean first).
All randomness comes from the caller's ``torch.Generator``, whose state a
checkpoint saves, so a resumed run draws the same numbers.
"""

from __future__ import annotations

import torch


def normalize(x_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32, (x/255 - mean) / std with mean, std of shape (C,)."""
    x = x_uint8.to(torch.float32).div_(255.0)
    return x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


def crop_flip(
    x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator, part: tuple[int, int] | None = None
) -> torch.Tensor:
    """Random crop after zero padding by ``pad`` and (optionally) random horizontal flip, per sample.
    ``part=(offset, total)``: ``x`` is rows offset.. of a batch of ``total`` (one rank's slice under
    DDP); the random numbers are drawn for the whole batch and this slice's are used, so the ranks'
    slices together are augmented exactly as the whole batch would be in one process."""
    b, c, h, w = x.shape
    dev = x.device
    n, keep = (b, slice(None)) if part is None else (part[1], slice(part[0], part[0] + b))
    if pad > 0:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n, 1), device=dev, generator=generator)[keep]
    ox = torch.randint(0, 2 * pad + 1, (n, 1), device=dev, generator=generator)[keep]
    rows = oy + torch.arange(h, device=dev).view(1, h)  # (B, H) rows of the padded image
    cols = torch.arange(w, device=dev).view(1, w)
    if flip:
        mirror = torch.rand((n, 1), device=dev, generator=generator)[keep] < 0.5
        cols = torch.where(mirror, (w - 1) - cols, cols)
    cols = ox + cols  # (B, W)
    x = torch.gather(x, 2, rows.view(b, 1, h, 1).expand(b, c, h, x.shape[3]))
    x = torch.gather(x, 3, cols.view(b, 1, 1, w).expand(b, c, h, w))
    return x


def augment_batch(
    x_uint8: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    mode: str,
    generator: torch.Generator | None,
    pad: int = 4,
    part: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Normalise, then augment per ``mode`` ("crop_flip", "crop" or "none"); ``part``: see crop_flip."""
    x = normalize(x_uint8, mean, std)
    if mode == "none" or generator is None:
        return x
    return crop_flip(x, pad, mode == "crop_flip", generator, part)


def resolve_mode(mode: str, dataset_kind: str) -> str:
    """ "auto": crop + flip, except crop only for MNIST (digits are not mirror-symmetric)."""
    if mode != "auto":
        return mode
    return "crop" if dataset_kind == "mnist" else "crop_flip"
