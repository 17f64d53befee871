"""Inspect: how long a preview takes, and the training-memory estimate against a measurement.

Preview: a 110-layer net (resnet110 and plain110) with 16 synthetic samples, as the Inspect panel and
``python main.py inspect`` run it: build the generated module (seeded), take the samples, one forward
pass with a hook on every node (statistics taken in the hook) and one backward pass. The baseline,
timed in the same run on the same module and batch, is a bare forward + backward without hooks.
Median and best of ``--repeat`` runs after one warm-up.

Memory: graph/memory.py's estimate against training/memory_check.measure (one training step on
the CPU; bytes kept for backward counted with saved_tensors_hooks, each storage once; parameters,
gradients and the optimizer's state from the tensors). fp32 eager; bf16 under CPU autocast. No GPU:
torch.cuda.max_memory_allocated is not measured here.

    python bench/bench_inspect.py [--repeat 5] [--threads 2] [--skip-memory] [--resnet50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def preview(name: str, repeat: int) -> dict:
    import torch
    import torch.nn.functional as F

    from graph.templates import make
    from training.inspect import inspect
    from training.inspect_inputs import WeightsChoice, check_project, load_samples, prepare_model

    project = make(name)
    full, stages, base = [], [], []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        analysis = check_project(project)
        prepared = prepare_model(project, WeightsChoice(), analysis)
        t1 = time.perf_counter()
        batch = load_samples(project, analysis, samples=16)
        t2 = time.perf_counter()
        result = inspect(project, analysis, prepared, batch)
        t3 = time.perf_counter()
        x = batch.x.clone().requires_grad_(True)
        model = prepared.model
        t4 = time.perf_counter()
        F.cross_entropy(model(x), batch.y).backward()
        t5 = time.perf_counter()
        if i:  # the first run warms up
            full.append(t3 - t0)
            stages.append((t1 - t0, t2 - t1, t3 - t2))
            base.append(t5 - t4)
    del torch
    med = statistics.median
    return {
        "name": name,
        "nodes": len(result.records),
        "full": (med(full), min(full)),
        "build": med(s[0] for s in stages),
        "samples": med(s[1] for s in stages),
        "inspect": (med(s[2] for s in stages), min(s[2] for s in stages)),
        "baseline": (med(base), min(base)),
    }


def memory(name: str, batch: int, precision: str, input_shape: str | None = None) -> dict:
    from graph.memory import training_memory
    from graph.shapes import analyze
    from graph.templates import make
    from training.memory_check import measure

    project = make(name, None, input_shape, None)
    est = training_memory(analyze(project), batch, precision)
    t0 = time.perf_counter()
    got = measure(project, batch, precision)
    total = sum(got.values())
    return {
        "case": f"{name} b{batch} {precision}",
        "est_act": est.activations,
        "got_act": got["activation_bytes"],
        "est_total": est.total,
        "got_total": total,
        "ratio": est.total / total,
        "seconds": time.perf_counter() - t0,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--resnet50", action="store_true", help="also resnet50 at batch 64 (about 6 GB of RAM)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("\npreview of 16 samples (seconds): median / best")
    for name in ("resnet110", "plain110"):
        r = preview(name, args.repeat)
        print(
            f"  {name}: {r['nodes']} nodes; whole preview {r['full'][0]:.2f} / {r['full'][1]:.2f} "
            f"(build {r['build']:.2f}, samples {r['samples']:.2f}, hooked forward+backward+stats "
            f"{r['inspect'][0]:.2f} / {r['inspect'][1]:.2f}); bare forward+backward {r['baseline'][0]:.2f} / "
            f"{r['baseline'][1]:.2f}; hooked / bare {r['inspect'][0] / r['baseline'][0]:.2f}x"
        )
    if args.skip_memory:
        return 0
    print("\ntraining memory, estimate against the CPU measurement (MiB)")
    cases = [("resnet20", 128, "fp32"), ("resnet56", 128, "fp32"), ("resnet20", 128, "bf16")]
    if args.resnet50:
        cases.append(("resnet50", 64, "fp32"))
    for case in cases:
        m = memory(*case)
        mib = 2**20
        print(
            f"  {m['case']}: kept for backward {m['est_act'] / mib:.1f} est / "
            f"{m['got_act'] / mib:.1f} measured; "
            f"total {m['est_total'] / mib:.1f} / {m['got_total'] / mib:.1f}; ratio {m['ratio']:.4f} "
            f"({m['seconds']:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
