"""A 4-configuration sweep of a tiny network: the Ray backend (``ray.init(num_cpus=2)``, one CPU per
trial) against the local pool (``--parallel 2``, one torch thread per run), the same parallelism.

Reported: each backend's wall time (Ray's start-up timed apart, then counted in as a user pays it),
and the ratio Ray / local. The runs alternate (local, Ray, local, Ray, ...) so a busy machine's load
falls on both. Needs the ray extra (pip install 'skipwire[ray]').

    python bench/bench_sweep_ray.py [--rounds 2] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "training"))  # the tests' tiny network


def tiny():
    from train_helpers import tiny_resnet

    from graph.model import Stage

    p = tiny_resnet((1, 12, 12), classes=4, width=4, blocks=1, name="tiny")
    g = p.graph
    g.set_stages(
        [
            Stage("layer1", "index", [g.node_by_name("b00").id]),
            Stage("layer2", "index", [g.node_by_name("b10").id]),
        ]
    )
    return p


def sweep(out: Path, epochs: int, ray: dict | None) -> float:
    from training.sweep import parse_vary, run_sweep

    t0 = time.perf_counter()
    res = run_sweep(
        tiny(),
        parse_vary(["depth=1,2", "width=1,2"]),
        out,
        epochs=epochs,
        batch_size=500,
        dataset="synthetic",
        device="cpu",
        parallel=1 if ray else 2,
        ray=ray,
    )
    wall = time.perf_counter() - t0
    assert res.status == "completed" and [r["runs_done"] for r in res.rows] == [1, 1, 1, 1], res.status
    return wall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    import os

    import ray

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray's servers on 127.0.0.1 only

    from training.sweep_ray import runtime_env

    local, on_ray, inits = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            local.append(sweep(Path(tmp) / f"local{i}", args.epochs, None))
            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
            inits.append(time.perf_counter() - t0)
            try:
                on_ray.append(sweep(Path(tmp) / f"ray{i}", args.epochs, {"address": None, "trial_cpus": 1}))
            finally:
                ray.shutdown()
            print(
                f"round {i + 1}: local --parallel 2 {local[-1]:.1f} s; Ray sweep {on_ray[-1]:.1f} s "
                f"+ ray.init {inits[-1]:.1f} s",
                flush=True,
            )
    lo, ra, it = statistics.median(local), statistics.median(on_ray), statistics.median(inits)
    print(f"ray {ray.__version__}, 4 configurations x {args.epochs} epochs, medians of {args.rounds} rounds")
    print(f"local --parallel 2: {lo:.1f} s")
    print(f"Ray num_cpus=2:     {ra:.1f} s sweep, {it:.1f} s ray.init")
    print(f"ratio Ray / local: {ra / lo:.2f} (sweep only), {(ra + it) / lo:.2f} (with ray.init)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
