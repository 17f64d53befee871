"""What one node's output looks like on a batch: the statistics the Inspect panel and ``inspect`` show.

``tensor_stats(t, kind)`` reduces a (B, ...) activation to plain numbers at the moment a hook sees it
(later in-place operations, such as ``out += identity`` or ``ReLU(inplace=True)``, cannot change
what is recorded). ``NodeRecord`` is one node's row: JSON-ready through ``as_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from graph import registry

HIST_BINS = 40
MAX_VALUES = 8192  # values kept per node for its histogram
MAX_MAP_CHANNELS = 64  # feature maps kept per node (of sample 0) for the panel's grid
# node types whose output saturates: value ranges where the gradient is nearly zero
# layer type -> (low, high) bounds past which an output counts as saturated (LayerType.saturates)
SATURATING = {lt.name: lt.saturates for lt in registry.all_types() if lt.saturates is not None}


@dataclass
class NodeRecord:
    """One node (or shortcut projection) of the generated module, on the inspected samples."""

    name: str  # the generated attribute path: "layer1.0.conv1"; a shortcut: "layer2.0.downsample"
    type: str
    shape: tuple[int, ...]  # per sample
    mean: float
    std: float
    min: float
    max: float
    norm: float  # mean over samples of each sample's L2 norm
    zero_fraction: float  # of all values, exactly zero
    dead_fraction: float  # of units (channel x position), zero for every sample of the batch
    saturated_fraction: float | None = None  # Sigmoid / Tanh gates: values where the slope is ~0
    grad_norm: float | None = None  # L2 norm of d loss / d output over the batch (after backward)
    inputs: list[tuple[str, float]] = field(default_factory=list)  # a merge: (input, norm) per input
    depth: int = 0  # nesting: 0 at the top level, 1 inside a block instance, ...
    node_id: str = ""
    block: str | None = None  # the block definition the node belongs to (None: the top-level graph)
    owner: str = ""  # the block instance holding it, by node names ("layer2_0"; "" at the top level)
    values: Any = None  # float32 1-D: up to MAX_VALUES of the output's values, evenly strided
    maps: Any = None  # float32 (C<=64, H, W) of sample 0, or None for vectors

    def histogram(self, bins: int = HIST_BINS) -> tuple[list[float], list[int]]:
        """Bin edges and counts over [min, max] of the kept values (all of them up to MAX_VALUES)."""
        if self.values is None or self.values.numel() == 0:
            return [], []
        lo, hi = (self.min, self.max) if self.max > self.min else (self.min - 0.5, self.max + 0.5)
        counts = torch.histc(self.values, bins=bins, min=lo, max=hi)
        step = (hi - lo) / bins
        return [lo + i * step for i in range(bins + 1)], [int(c) for c in counts.tolist()]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "shape": list(self.shape),
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "norm": self.norm,
            "zero_fraction": self.zero_fraction,
            "dead_fraction": self.dead_fraction,
            "grad_norm": self.grad_norm,
        }
        if self.saturated_fraction is not None:
            out["saturated_fraction"] = self.saturated_fraction
        if self.inputs:
            out["input_norms"] = {label: value for label, value in self.inputs}
        return out


def tensor_stats(t: torch.Tensor, kind: str, keep_maps: bool = True) -> dict[str, Any]:
    """Plain numbers (and a histogram, sample 0's maps) of a (B, ...) activation."""
    x = t.detach()
    if x.dtype != torch.float32:
        x = x.float()
    b = x.shape[0]
    flat = x.reshape(b, -1)
    n = flat.numel()
    lo = hi = mean = std = norm = zero_fraction = dead_fraction = 0.0
    if n:
        norms = torch.linalg.vector_norm(flat, dim=1)
        lo_t, hi_t = torch.aminmax(flat)
        lo, hi, mean = float(lo_t), float(hi_t), float(flat.sum()) / n
        square_mean = float(norms.square().sum()) / n
        std = math.sqrt(max(square_mean - mean * mean, 0.0)) if math.isfinite(square_mean) else math.inf
        norm = float(norms.mean())
        magnitude = flat.abs()
        if math.isfinite(square_mean):  # |sign| is 1 where a value is not zero: one cheap pass to count them
            zero_fraction = 1.0 - float(flat.sign().abs_().sum()) / n
        else:
            zero_fraction = float((flat == 0).sum()) / n
        dead_fraction = float((magnitude.amax(dim=0) == 0).sum()) / flat.shape[1]
    finite = math.isfinite(lo) and math.isfinite(hi) and math.isfinite(mean)
    out: dict[str, Any] = {
        "shape": tuple(x.shape[1:]),
        "mean": mean,
        "std": std,
        "min": lo,
        "max": hi,
        "norm": norm,
        "zero_fraction": zero_fraction,
        "dead_fraction": dead_fraction,
        "saturated_fraction": None,
        "values": None,
        "maps": None,
    }
    if kind in SATURATING and n:
        a, z = SATURATING[kind]
        out["saturated_fraction"] = float(((flat <= a) | (flat >= z)).float().mean())
    if finite and n:  # a strided sample of the values, for a histogram when one is shown
        step = max(1, n // MAX_VALUES)
        out["values"] = flat.reshape(-1)[::step][:MAX_VALUES].clone()
    if keep_maps and x.dim() == 4:
        out["maps"] = x[0, :MAX_MAP_CHANNELS].clone()
    return out


def make_record(name: str, kind: str, stats: dict[str, Any], **extra: Any) -> NodeRecord:
    fields = {k: stats[k] for k in ("shape", "mean", "std", "min", "max", "norm", "zero_fraction")}
    return NodeRecord(
        name=name,
        type=kind,
        dead_fraction=stats["dead_fraction"],
        saturated_fraction=stats["saturated_fraction"],
        values=stats["values"],
        maps=stats["maps"],
        **fields,
        **extra,
    )


__all__ = [
    "HIST_BINS",
    "MAX_MAP_CHANNELS",
    "MAX_VALUES",
    "SATURATING",
    "NodeRecord",
    "make_record",
    "tensor_stats",
]
