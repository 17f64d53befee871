"""The CUDA fast path: the whole training step as one captured CUDA graph.

Recipe (NOTES.md, measured on an H200 with torch 2.11): the model in
channels_last under bf16 autocast; static input and label tensors that each
step copies into; warm up a few steps on a side stream; ``zero_grad(set_to_none=True)``;
capture forward, backward and ``optimizer.step()`` with ``torch.cuda.graph``;
then each step is one ``replay()``. The learning rate is a 0-d device tensor
shared by every param group (``SGD(fused=True)`` and ``AdamW(capturable=True)``
read it live inside the graph; ``foreach`` SGD would break the capture with an
implicit ``.item()``); ``LrWriter`` fills it before each replay. Augmentation
runs outside the graph (training/augment.py) on the resident data, and the
loss is read back only every N steps, where it is checked for NaN.

The warm-up steps really update the weights and the optimizer state, so both
are snapshotted before and restored after: the first real step starts from
exactly the state an eager run would have.
"""

from __future__ import annotations

import torch
from torch import nn


def fast_path_problem(model: nn.Module) -> str | None:
    """Why this model cannot be captured, or None. (Data-dependent control flow cannot be seen here;
    a capture that fails for that reason falls back to eager in the engine.)"""
    if not torch.cuda.is_available():
        return "no CUDA"
    if not hasattr(torch.cuda, "graph"):
        return "this torch has no CUDA graphs"
    if any(p.device.type != "cuda" for p in model.parameters()):
        return "the model is not on the GPU"
    return None


class GraphStep:
    """``step(x, y) -> (loss, correct)``: copies into the static tensors and replays the graph.
    The returned tensors are the graph's static outputs (overwritten by the next replay)."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        criterion: nn.Module,
        batch_shape: tuple[int, ...],
        amp: bool,
        channels_last: bool,
        device: torch.device,
        warmup: int = 3,
    ) -> None:
        self.model, self.optimizer = model, optimizer
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.static_x = torch.zeros(batch_shape, device=device).contiguous(memory_format=fmt)  # no RNG draw
        self.static_y = torch.zeros(batch_shape[0], dtype=torch.int64, device=device)
        self.amp = amp

        def body():
            # no autocast weight cache inside a captured graph (torch's CUDA-graph notes)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp, cache_enabled=False):
                out = model(self.static_x)
                loss = criterion(out, self.static_y)
            loss.backward()
            optimizer.step()
            return loss.detach(), (out.detach().argmax(1) == self.static_y).sum()

        model_snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        opt_snapshot = {
            p: {k: (v.detach().clone() if torch.is_tensor(v) else v) for k, v in st.items()}
            for p, st in optimizer.state.items()
        }
        rng = torch.cuda.get_rng_state(device)
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                optimizer.zero_grad(set_to_none=True)
                body()
        torch.cuda.current_stream(device).wait_stream(side)
        torch.cuda.synchronize(device)
        restore(model, optimizer, model_snapshot, opt_snapshot)
        torch.cuda.set_rng_state(rng, device)
        optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.correct = body()
        torch.cuda.synchronize(device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor):
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        return self.loss, self.correct


@torch.no_grad()
def restore(
    model: nn.Module, optimizer: torch.optim.Optimizer, model_snapshot: dict, opt_snapshot: dict
) -> None:
    """Put weights, buffers and optimizer state back in place (same tensors: the graph keeps their addresses).
    State the warm-up created (momentum buffers, Adam moments, step counts) is zeroed, which is what a
    fresh optimizer's first step computes with (SGD momentum: 0*m + g = g, dampening 0; Adam: step 0)."""
    for k, v in model.state_dict().items():
        v.copy_(model_snapshot[k])
    for p, st in optimizer.state.items():
        saved = opt_snapshot.get(p, {})
        for k, v in st.items():
            if torch.is_tensor(v):
                if k in saved and torch.is_tensor(saved[k]):
                    v.copy_(saved[k])
                else:
                    v.zero_()
