"""The optimizer of a run: built from the config, loaded from and saved into a checkpoint."""

from __future__ import annotations

import torch
from torch import nn

from training.config import TrainConfig
from training.failures import TrainingError
from training.schedule import lr_at


def make_optimizer(
    model: nn.Module, cfg: TrainConfig, lr_tensor: torch.Tensor | None = None, fused: bool = False
) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError("the model has no trainable parameters (every layer is frozen?)")
    lr = lr_tensor if lr_tensor is not None else lr_at(0, cfg, 1)
    if cfg.optimizer == "sgd":
        kw = {"fused": True} if fused else {}
        return torch.optim.SGD(
            params,
            lr=lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            nesterov=bool(cfg.nesterov and cfg.momentum > 0),
            **kw,
        )
    kw = {"capturable": True} if fused else {}
    return torch.optim.AdamW(params, lr=lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, **kw)


_FLAG_KEYS = ("fused", "capturable", "foreach", "differentiable", "lr")


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a saved optimizer state into an optimizer built for this path (eager or graph):
    hyperparameters come from the saved groups, the path's flags and lr object stay."""
    keep = [{k: g[k] for k in _FLAG_KEYS if k in g} for g in opt.param_groups]
    opt.load_state_dict(state)
    for g, k in zip(opt.param_groups, keep, strict=True):
        g.update(k)
    for group in opt.param_groups:
        on_device = bool(group.get("capturable") or group.get("fused"))
        for p in group["params"]:
            st = opt.state.get(p, {})
            for key, v in list(st.items()):
                if not torch.is_tensor(v):
                    continue
                if key == "step":
                    st[key] = v.to(p.device, torch.float32) if on_device else v.to("cpu", torch.float32)
                elif v.device != p.device:
                    st[key] = v.to(p.device)


def checkpoint_state(opt: torch.optim.Optimizer) -> dict:
    """Optimizer state for a checkpoint: lr as a float, tensors on the CPU."""
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        if torch.is_tensor(g.get("lr")):
            g["lr"] = float(g["lr"])
    sd["state"] = {
        k: {n: (v.detach().cpu().clone() if torch.is_tensor(v) else v) for n, v in s.items()}
        for k, s in sd["state"].items()
    }
    return sd
