"""Benchmark the code emitter and the generated code.

1. Emitting resnet152 and densenet121 (goal: under 100 ms): ``emit(project, analysis)`` alone,
   and ``emit(project)`` including shape inference; ``build_module`` (exec +
   construction + initialisation) for reference.
2. Training-step throughput of the generated resnet20 against the same
   network written by hand in torchvision's style (bench/handwritten_resnet20.py),
   measured side by side in one process: the hand-written model gets the
   generated one's weights (strict load; outputs checked equal), both train
   with the same SGD settings on the same synthetic batches, and rounds of
   steps alternate between them (which one goes first alternates too) so
   that load from other processes hits both alike. Both wall-clock and
   process CPU time are reported: on a shared machine CPU time (one thread)
   is blind to time spent waiting for a core. Goal: ratio >= 0.98.

On CUDA (``--device cuda``) the same comparison runs on the GPU, timed with a
synchronisation around each round (wall clock only); the outputs are compared
on the CPU first, where they are bitwise equal.

Run: ``python bench/bench_codegen.py [--repeat N] [--batch B] [--rounds R] [--steps S] [--device cpu|cuda]``.
Figures are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from codegen.build import build_module
from codegen.emitter import emit
from graph.shapes import analyze
from graph.templates import make


def _times(fn, repeat: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_emit(repeat: int) -> None:
    for name in ("resnet152", "densenet121"):
        project = make(name)
        analysis = analyze(project)
        emit_only = _times(lambda p=project, a=analysis: emit(p, a), repeat)
        with_analysis = _times(lambda p=project: emit(p), repeat)
        lines = len(emit(project, analysis).source.splitlines())
        print(
            f"emit {name} ({lines} lines): median {statistics.median(emit_only) * 1e3:.1f} ms, "
            f"best {min(emit_only) * 1e3:.1f} ms (goal < 100 ms)"
        )
        print(
            f"emit {name} incl. analyze: median {statistics.median(with_analysis) * 1e3:.1f} ms, "
            f"best {min(with_analysis) * 1e3:.1f} ms"
        )
    project = make("resnet152")
    analysis = analyze(project)
    build = _times(lambda: build_module(project, analysis), max(3, repeat // 10))
    print(f"build_module resnet152 (exec + construct + init): median {statistics.median(build) * 1e3:.0f} ms")


def bench_train(batch: int, rounds: int, steps: int, threads: int, device: str = "cpu") -> None:
    import torch
    from handwritten_resnet20 import ResNet20

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    generated = build_module(make("resnet20"))
    hand = ResNet20()
    hand.load_state_dict(generated.state_dict(), strict=True)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    generated.eval()
    hand.eval()
    with torch.no_grad():
        assert torch.equal(generated(x), hand(x)), "the two networks differ"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    x, y = x.to(dev), y.to(dev)
    models = {"generated": generated.to(dev).train(), "hand-written": hand.to(dev).train()}

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    opts = {
        k: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4) for k, m in models.items()
    }
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(name: str, n: int) -> tuple[float, float]:
        """Seconds per step: wall clock, and this process's CPU time (blind to waiting for a core)."""
        model, opt = models[name], opts[name]
        sync()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        sync()
        return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n

    for name in models:
        run(name, 2)  # warm-up
    wall: dict[str, list[float]] = {k: [] for k in models}
    cpu: dict[str, list[float]] = {k: [] for k in models}
    for r in range(rounds):
        order = list(models) if r % 2 == 0 else list(reversed(models))
        for name in order:
            w, c = run(name, steps)
            wall[name].append(w)
            cpu[name].append(c)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu, {threads} thread(s)"
    print(f"training step, resnet20, batch {batch}, {where}, {rounds} alternating rounds of {steps} steps:")
    for label, data in (("wall", wall), ("cpu", cpu)) if dev.type == "cpu" else (("wall", wall),):
        med = {k: statistics.median(v) for k, v in data.items()}
        best = {k: min(v) for k, v in data.items()}
        for k in models:
            print(
                f"  {label:4s} {k:12s}: median {med[k] * 1e3:6.0f} ms/step ({batch / med[k]:5.0f} images/s), "
                f"best {best[k] * 1e3:6.0f} ms ({batch / best[k]:5.0f} images/s)"
            )
        print(
            f"  {label:4s} throughput ratio generated / hand-written: median "
            f"{med['hand-written'] / med['generated']:.3f}, "
            f"best {best['hand-written'] / best['generated']:.3f} (goal >= 0.98)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for the training comparison (1 is steadiest on a shared machine)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (cuda when available)")
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    import torch

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, Python {platform.python_version()}"
    )
    bench_emit(args.repeat)
    if not args.skip_train:
        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        bench_train(args.batch, args.rounds, args.steps, args.threads, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
