"""Will training fit? Memory for one training step at a batch size and precision, from shape inference.

``training_memory(analysis, batch, precision, device_bytes)`` adds up:

- parameters (float32, also under bf16 autocast: the weights stay float32),
- gradients of the trainable parameters (float32),
- optimizer state: SGD with momentum one buffer per trainable parameter, AdamW two, SGD without
  momentum none (the project's training settings),
- activations kept for the backward pass: each layer declares what it keeps (``LayerType.saves``,
  graph/layers.py); a tensor kept by two layers (a ReLU's output and the next convolution's input) is
  counted once, by following which node produced it, also across block instances and shortcuts.
  Elements take 4 bytes in fp32 and 2 in bf16.

The verdict compares the total with the device's memory less ``HEADROOM`` (the CUDA context,
cuDNN workspaces and allocator fragmentation are not modelled): "fits: 9.8 of 139 GiB", or
"does not fit: try batch 64" (the largest power of two that fits). Pure Python, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any

from graph import registry
from graph.shapes import Analysis

GIB = 2**30
HEADROOM = 0.9  # the share of a device's memory the estimate may fill
PRECISIONS = {"fp32": 4, "bf16": 2}
# devices to compare against (their memory as the CUDA runtime reports it, rounded down)
DEVICES: dict[str, float] = {
    "H200 (139 GiB)": 139.0,
    "H100 80 GB (79 GiB)": 79.0,
    "A100 40 GB (39 GiB)": 39.0,
    "RTX 4090 (23 GiB)": 23.0,
    "T4 (14 GiB)": 14.0,
}


@dataclass(frozen=True)
class MemoryEstimate:
    batch: int
    precision: str
    params: int  # bytes
    grads: int
    optimizer: int
    activations: int
    optimizer_name: str
    device_bytes: int | None = None

    @property
    def total(self) -> int:
        return self.params + self.grads + self.optimizer + self.activations

    @property
    def fixed(self) -> int:
        """What does not grow with the batch."""
        return self.params + self.grads + self.optimizer

    @property
    def fits(self) -> bool | None:
        return None if self.device_bytes is None else self.total <= self.device_bytes * HEADROOM

    def suggested_batch(self) -> int | None:
        """The largest power of two that fits (None: not even batch 1, or no device)."""
        if self.device_bytes is None or self.batch < 1:
            return None
        per_sample = self.activations / self.batch
        room = self.device_bytes * HEADROOM - self.fixed
        if room <= 0:
            return None
        most = int(room // per_sample) if per_sample > 0 else self.batch
        if most < 1:
            return None
        b = 1
        while b * 2 <= most:
            b *= 2
        return b

    def verdict(self) -> str:
        if self.device_bytes is None:
            return f"needs {gib(self.total)} GiB"
        if self.fits:
            return f"fits: {gib(self.total)} of {gib(self.device_bytes)} GiB"
        b = self.suggested_batch()
        if b is None:
            return (
                f"does not fit: the weights, gradients and optimizer state alone need {gib(self.fixed)} "
                f"of {gib(self.device_bytes)} GiB"
            )
        return f"does not fit ({gib(self.total)} of {gib(self.device_bytes)} GiB): try batch {b}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "precision": self.precision,
            "optimizer": self.optimizer_name,
            "param_bytes": self.params,
            "grad_bytes": self.grads,
            "optimizer_bytes": self.optimizer,
            "activation_bytes": self.activations,
            "total_bytes": self.total,
            "device_bytes": self.device_bytes,
            "fits": self.fits,
            "verdict": self.verdict(),
        }


def gib(n: float) -> str:
    v = n / GIB
    return f"{v:.1f}" if v >= 0.95 else f"{v:.2f}"


def optimizer_buffers(training: dict | None) -> tuple[str, int]:
    """(name, float32 buffers per trainable parameter) of the project's optimizer."""
    from graph.training_defaults import TRAINING_DEFAULTS, flatten

    flat = {**TRAINING_DEFAULTS, **flatten(training)}
    name = str(flat.get("optimizer", "sgd")).lower()
    if name == "sgd":
        momentum = float(flat.get("momentum") or 0.0)
        return ("SGD with momentum", 1) if momentum > 0 else ("SGD", 0)
    return ("AdamW", 2)


def training_memory(
    analysis: Analysis, batch: int, precision: str = "fp32", device_bytes: int | None = None
) -> MemoryEstimate:
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a whole number of at least 1, got {batch!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    name, buffers = optimizer_buffers(analysis.project.training)
    trainable = analysis.trainable_params
    return MemoryEstimate(
        batch=batch,
        precision=precision,
        params=analysis.total_params * 4,
        grads=trainable * 4,
        optimizer=trainable * 4 * buffers,
        activations=int(saved_elements(analysis) * batch * PRECISIONS[precision]),
        optimizer_name=name,
        device_bytes=device_bytes,
    )


def saved_elements(analysis: Analysis) -> float:
    """Elements per sample kept for the backward pass, each tensor counted once."""
    shared: dict[str, float] = {}
    own = [0.0]
    _level(analysis.root, "", None, shared, own)
    return sum(shared.values()) + own[0]


def _level(
    info, prefix: str, input_key: str | None, shared: dict[str, float], own: list[float]
) -> str | None:
    """Adds what this graph level keeps; returns the key of the tensor its BlockOutput returns."""
    keys: dict[str, str | None] = {}
    result: str | None = None

    def source(edge) -> str | None:
        return keys.get(edge.src)

    for nid in info.order:
        ni = info.nodes.get(nid)
        if ni is None:
            continue
        t = ni.node.type
        edges = [e for e in info.in_edges.get(nid, []) if e is not None]
        key = f"{prefix}{nid}"
        if t == "BlockInput":
            keys[nid] = input_key
            continue
        if t == "Input":
            keys[nid] = key
            continue
        if t in ("BlockOutput", "Output"):
            result = source(edges[0]) if edges else None
            continue
        if ni.children is not None:
            keys[nid] = _level(ni.children, key + ".", source(edges[0]) if edges else None, shared, own)
            continue
        if _returns_its_input(t, ni.params) and edges:  # a view or the input itself: the same storage
            keys[nid] = source(edges[0])
            continue
        keys[nid] = key
        _count_layer(info, ni, key, edges, prefix, keys, shared, own)
    _count_projections(info, keys, shared, own)
    return result


def _count_layer(
    info,
    ni,
    key: str,
    edges: list,
    prefix: str,
    keys: dict[str, str | None],
    shared: dict[str, float],
    own: list[float],
) -> None:
    """Adds what one layer keeps: the tensors it names (its output or inputs, which other layers may
    keep too) into ``shared``, the rest of its rule's total into ``own``."""
    lt = registry.get(ni.node.type)
    if lt is None or ni.out_shape is None or any(s is None for s in ni.in_shapes):
        return
    ins = [tuple(s) for s in ni.in_shapes]
    total = lt.saved_elements(ni.params, ins, tuple(ni.out_shape))
    kind = getattr(lt.saves, "tensors", None)
    named: list[tuple[str | None, float]] = []
    if kind == "output":
        named = [(key, prod(ni.out_shape))]
    elif kind in ("input", "inputs"):
        picked = edges[:1] if kind == "input" else edges
        named = [(_edge_key(info, prefix, e, keys), prod(s)) for e, s in zip(picked, ins, strict=False)]
    if sum(n for _, n in named) > total:  # the rule keeps less than those tensors here (a setting)
        named = []
    for k, n in named:
        if k is None:
            own[0] += n
        else:
            shared[k] = max(shared.get(k, 0.0), n)
    own[0] += max(0.0, total - sum(n for _, n in named))


def _count_projections(info, keys: dict[str, str | None], shared: dict[str, float], own: list[float]) -> None:
    """conv_bn shortcut projections: the conv keeps its input, BN the conv's output."""
    for edge_id, sc in info.shortcuts.items():
        if sc.applied.startswith("conv_bn"):
            edge = info.graph.edges[edge_id]
            src = keys.get(edge.src)
            if src is not None:
                shared[src] = max(shared.get(src, 0.0), prod(sc.in_shape))
            own[0] += prod(sc.out_shape)


def _returns_its_input(type_name: str, params: dict) -> bool:
    """Layers whose output shares its input's storage (declared: LayerType.returns_input), so a tensor
    kept before and after them is one tensor."""
    lt = registry.get(type_name)
    return lt is not None and lt.returns_input is not None and bool(lt.returns_input(params))


def _edge_key(info, prefix: str, edge, keys: dict[str, str | None]) -> str | None:
    """The tensor an edge carries into its destination: a projection makes a new one."""
    sc = info.shortcuts.get(edge.id)
    if sc is not None and sc.applied != "identity":
        return f"{prefix}{edge.id}"
    return keys.get(edge.src)


__all__ = [
    "DEVICES",
    "GIB",
    "HEADROOM",
    "PRECISIONS",
    "MemoryEstimate",
    "gib",
    "saved_elements",
    "training_memory",
]
