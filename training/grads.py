"""The gradient profile: per-layer L2 norms of the weight gradients, and when to record it."""

from __future__ import annotations

import torch
from torch import nn


def grad_profile(named: list[tuple[str, nn.Parameter]]) -> tuple[list[str], list[float]]:
    """Per-layer L2 norms of the weight gradients (conv and linear weights: tensors of 2+ dims)."""
    names, grads = [], []
    for n, p in named:
        if p.grad is not None:
            names.append(n.removesuffix(".weight"))
            grads.append(p.grad.detach())
    if not grads:
        return [], []
    norms = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]).tolist()
    return names, norms


def grad_profile_due(step: int, every: int) -> bool:
    """Record the gradient profile at steps 1, 2, 4, 8, ... below ``every``, then every ``every`` steps:
    a short run gets a plot from its first steps (initialisation is where a deep plain net's profile is
    steepest)."""
    if every <= 0 or step <= 0:
        return False
    return step % every == 0 or (step < every and step & (step - 1) == 0)
