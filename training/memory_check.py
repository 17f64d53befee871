"""Measure what the memory estimate (graph/memory.py) predicts, on the CPU, from the tensors themselves.

``measure(project, batch, precision)`` runs one training step of the generated module: the bytes kept
for the backward pass are counted exactly with ``torch.autograd.graph.saved_tensors_hooks`` (each
storage once, parameters left out), then parameters, gradients and the optimizer's state after one
step are counted from their tensors. bf16 runs the forward pass under CPU autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from graph.memory import optimizer_buffers


def measure(project, batch: int, precision: str = "fp32", seed: int = 0) -> dict[str, int]:
    from codegen.build import build_module
    from graph.training_defaults import TRAINING_DEFAULTS, flatten

    torch.manual_seed(seed)
    model = build_module(project).train()
    shape = tuple(int(v) for v in project.graph.nodes_of_type("Input")[0].params["shape"])
    x = torch.randn(batch, *shape)
    param_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    param_storages |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in param_storages:
            kept[s.data_ptr()] = max(kept.get(s.data_ptr(), 0), s.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(x)
        else:
            out = model(x)
    y = torch.zeros(batch, dtype=torch.long)
    loss = F.cross_entropy(out.float(), y) if out.dim() == 2 else out.float().pow(2).mean()
    loss.backward()
    name, _ = optimizer_buffers(project.training)
    flat = {**TRAINING_DEFAULTS, **flatten(project.training)}
    params = [p for p in model.parameters() if p.requires_grad]
    if name.startswith("SGD"):
        opt = torch.optim.SGD(params, lr=0.01, momentum=float(flat.get("momentum") or 0.0))
    else:
        opt = torch.optim.AdamW(params, lr=1e-3)
    opt.step()
    state = sum(
        v.numel() * v.element_size()
        for st in opt.state.values()
        for v in st.values()
        if isinstance(v, torch.Tensor) and v.dim() > 0
    )
    return {
        "param_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "grad_bytes": sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None),
        "optimizer_bytes": state,
        "activation_bytes": sum(kept.values()),
    }


__all__ = ["measure"]
