"""Training throughput: the generated model against a hand-written equivalent, in one run.

"The code we generate is the model we train" should cost nothing: the
generated resnet20 (graph.templates.make("resnet20") -> codegen.build.build_module)
and a hand-written resnet20 (He et al. option A, written here the way people
write it) train on the same batches; the two are timed in alternating rounds so
that load on a shared machine hits both alike. Prints images/s of each and
the ratio (generated / hand-written).

    python bench/bench_train_throughput.py [--model resnet20] [--batch 64] [--steps 10] [--rounds 5]
                                           [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F
from torch import nn


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.stride != 1 or self.pad:
            sc = F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.pad))
        return F.relu(out + sc)


class HandResNet(nn.Module):
    """He et al. 2016's CIFAR ResNet (option A shortcuts), 6n+2 layers."""

    def __init__(self, n: int = 3, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(_Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def step_rate(model, opt, x, y, steps: int) -> float:
    dev = x.device
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from codegen.build import build_module
    from graph.templates import make

    depth = int(args.model.replace("resnet", ""))
    dev = torch.device(args.device)
    torch.manual_seed(0)
    gen = build_module(make(args.model)).to(dev)
    hand = HandResNet((depth - 2) // 6).to(dev)
    n_gen = sum(p.numel() for p in gen.parameters())
    n_hand = sum(p.numel() for p in hand.parameters())
    x = torch.randn(args.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    opts = {id(m): torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in (gen, hand)}
    for m in (gen, hand):  # warm-up
        step_rate(m, opts[id(m)], x, y, 2)
    rates: dict[str, list[float]] = {"generated": [], "hand-written": []}
    for r in range(args.rounds):
        order = [("generated", gen), ("hand-written", hand)]
        if r % 2:
            order.reverse()
        for name, m in order:
            rates[name].append(step_rate(m, opts[id(m)], x, y, args.steps))
    g, h = statistics.median(rates["generated"]), statistics.median(rates["hand-written"])
    print(
        f"{args.model} on {dev} (threads {torch.get_num_threads()}), batch {args.batch}, "
        f"{args.rounds} alternating rounds of {args.steps} SGD steps"
    )
    print(f"parameters: generated {n_gen:,}, hand-written {n_hand:,}")
    print(
        f"generated:    median {g:,.0f} images/s (rounds: "
        f"{', '.join(f'{v:,.0f}' for v in rates['generated'])})"
    )
    print(
        f"hand-written: median {h:,.0f} images/s (rounds: "
        f"{', '.join(f'{v:,.0f}' for v in rates['hand-written'])})"
    )
    print(f"ratio generated / hand-written: {g / h:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
