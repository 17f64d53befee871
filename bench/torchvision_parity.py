"""Outputs of our generated torchvision mirrors vs torchvision itself.

Needs torchvision, which Skipwire does not depend on; run it in a separate venv:

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.14.1 torchvision==0.29.1
    PYTHONPATH=. /tmp/tv/bin/python bench/torchvision_parity.py

For each model: torchvision's model with seeded random weights, its
state_dict loaded into our generated module with strict=True, then the same
input through both, in eval mode and in train mode (batch statistics).
"""

from __future__ import annotations

import sys

import torch
from torchvision import models

from codegen.build import build_module
from graph.templates import make

MODELS = ("resnet18", "resnet50", "densenet121", "resnext50_32x4d", "wide_resnet50_2")


def main(names: list[str]) -> int:
    torch.manual_seed(0)
    worst = 0.0
    for name in names or MODELS:
        ref = getattr(models, name)(weights=None)
        with torch.no_grad():  # random running statistics, so eval mode is a real test too
            for m in ref.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
                    m.weight.normal_(1, 0.1)
                    m.bias.normal_(0, 0.1)
        ours = build_module(make(name))
        result = ours.load_state_dict(ref.state_dict(), strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        x = torch.randn(2, 3, 224, 224)
        for mode in ("eval", "train"):
            ref.train(mode == "train")
            ours.train(mode == "train")
            with torch.no_grad():
                a, b = ref(x), ours(x)
            diff = (a - b).abs().max().item()
            scale = a.abs().max().item()
            worst = max(worst, diff / scale)
            print(
                f"{name:18s} {mode:5s} max|diff| {diff:.3g} (max|out| {scale:.3g}) equal: {torch.equal(a, b)}"
            )
    print(f"worst relative difference: {worst:.3g}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
