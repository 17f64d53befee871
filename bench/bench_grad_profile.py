"""The per-layer gradient-norm profile: plain56 against resnet56, at initialisation.

He et al. (2016) motivate shortcuts with deep plain nets that train worse; the
gradient reaching the early layers is the quick way to see it. Both templates
are built from generated code, one batch of synthetic CIFAR-shaped data goes
forward and backward, and ``engine.grad_profile`` (the same function that
produces the "grad" metric records) gives each conv/linear weight's gradient
norm. Prints the norms of a few layers along the depth and the ratio of the
first conv's gradient to the last conv's, which is what the editor's log-scale
plot shows at a glance.

    python bench/bench_grad_profile.py [--batch 64] [--steps 0]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def profile(name: str, batch: int, steps: int):
    import torch
    import torch.nn.functional as F

    from codegen.build import build_module
    from graph.templates import make
    from training import augment, datasets
    from training.engine import grad_profile

    torch.manual_seed(0)
    model = build_module(make(name))
    ds = datasets.synthetic((3, 32, 32), 10, n_train=batch * max(steps, 1), n_val=10)
    mean, std = (torch.tensor(v) for v in datasets.channel_stats(ds.train_x))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for i in range(max(steps, 1)):
        x = augment.normalize(ds.train_x[i * batch : (i + 1) * batch], mean, std)
        y = ds.train_y[i * batch : (i + 1) * batch]
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        if i < steps - 1:
            opt.step()
    named = [(k, p) for k, p in model.named_parameters() if p.dim() > 1]
    return grad_profile(named)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument(
        "--steps", type=int, default=0, help="SGD steps before the profile (0: at initialisation)"
    )
    args = ap.parse_args()
    for name in ("plain56", "resnet56"):
        layers, norms = profile(name, args.batch, args.steps)
        convs = [(n, v) for n, v in zip(layers, norms, strict=True) if not n.startswith("fc")]
        picks = [
            convs[0],
            convs[len(convs) // 4],
            convs[len(convs) // 2],
            convs[3 * len(convs) // 4],
            convs[-1],
        ]
        print(f"{name}: {len(layers)} weight tensors; gradient L2 norms along the depth:")
        for n, v in picks:
            print(f"    {n:28s} {v:.3e}")
        ratio = convs[0][1] / convs[-1][1]
        print(f"    first conv / last conv: {ratio:.3g} (log10 {math.log10(ratio):+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
