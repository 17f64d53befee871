"""The training engine's own throughput, this tree against another checkout, in one run.

A refactor of the training loop (issue 23) or a new path through it (DDP, issue 20) must not
slow the single-process run down. Each round trains the generated resnet20 on the synthetic set
(5,000 images, 3x32x32) for one epoch through ``engine.train`` in a fresh process per tree, the
trees alternating so that load on a shared machine hits both alike; the figure is the epoch
record's ``images_per_s`` (training only, validation excluded). Prints the medians and the ratio.

    python bench/bench_engine_ab.py --baseline DIR [--rounds 3] [--threads 1] [--batch 128]

DIR: a checkout of the baseline commit (``git worktree add`` or ``git archive | tar -x``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(int(sys.argv[2]))
from graph.templates import make
from training import engine
from training.config import TrainConfig
cfg = TrainConfig(epochs=1, batch_size=int(sys.argv[3]), grad_every=0, seed=0, device="cpu")
with tempfile.TemporaryDirectory() as d:
    r = engine.train(make("resnet20"), cfg, d + "/run")
print(json.dumps({"ips": r.history[-1]["images_per_s"], "loss": r.last_train_loss}))
"""


def one(tree: Path, threads: int, batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tree), str(threads), str(batch)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    trees = {"this tree": ROOT, "baseline": args.baseline.resolve()}
    rates: dict[str, list[float]] = {k: [] for k in trees}
    losses: dict[str, set] = {k: set() for k in trees}
    for r in range(args.rounds):
        order = list(trees.items())
        if r % 2:
            order.reverse()
        for name, tree in order:
            res = one(tree, args.threads, args.batch)
            rates[name].append(res["ips"])
            losses[name].add(res["loss"])
    print(
        f"engine.train resnet20, synthetic 5,000 images, 1 epoch, batch {args.batch}, cpu, "
        f"{args.threads} thread(s), {args.rounds} alternating rounds"
    )
    for name in trees:
        print(
            f"{name:10s} median {statistics.median(rates[name]):,.1f} images/s "
            f"(rounds: {', '.join(f'{v:,.1f}' for v in rates[name])}); train loss {sorted(losses[name])}"
        )
    ratio = statistics.median(rates["this tree"]) / statistics.median(rates["baseline"])
    print(f"ratio this tree / baseline: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
