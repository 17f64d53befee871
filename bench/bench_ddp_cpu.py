"""DDP on the CPU: 2 gloo processes of 1 thread each against 1 process of 1 thread (issue 20).

Both train the generated resnet20 on the synthetic set (5,000 images, 3x32x32) for one epoch
through ``engine.train`` at the same per-process batch (1 process: --batch B; 2 processes: global
batch 2B), the two set-ups alternating per round. The figure is the epoch record's
``images_per_s`` (the job's, training only); per process it is that divided by the process count.
Where the time goes: each DDP step all-reduces the gradients (resnet20: 0.27 M floats); the
2-process job also times 20 gloo all-reduces of a buffer of that size by themselves.

    python bench/bench_ddp_cpu.py [--batch 64] [--rounds 2]

Needs 2 free cores to mean anything; the machine's load is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, os, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
from graph.templates import make
from training import engine
from training.config import TrainConfig
cfg = TrainConfig(epochs=1, batch_size=int(sys.argv[2]), grad_every=0, seed=0, device="cpu", log_every=20)
r = engine.train(make("resnet20"), cfg, sys.argv[3])
res = {"ips": r.history[-1]["images_per_s"] if r.history else None}
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    import torch.distributed as dist
    from codegen.build import build_module
    if not dist.is_initialized():  # engine.train ends its process group with the run
        dist.init_process_group("gloo")
    n = sum(p.numel() for p in build_module(make("resnet20")).parameters())
    buf = torch.zeros(n)
    for _ in range(3):
        dist.all_reduce(buf)
    t = time.perf_counter()
    for _ in range(20):
        dist.all_reduce(buf)
    res["allreduce_ms"] = (time.perf_counter() - t) / 20 * 1000
    res["params"] = n
    dist.destroy_process_group()
if int(os.environ.get("RANK", "0")) == 0:
    print("RESULT " + json.dumps(res), flush=True)
"""


def _run(nproc: int, batch: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as d:
        child = Path(d) / "child.py"
        child.write_text(_CHILD)
        run_dir = str(Path(d) / "run")
        cmd = [sys.executable, str(child), str(ROOT), str(batch * nproc), run_dir]
        if nproc > 1:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
            cmd += [str(child), str(ROOT), str(batch * nproc), run_dir]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=d)
    if out.returncode != 0:
        raise RuntimeError(f"{nproc} process(es) failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64, help="per-process batch")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    one, two, allreduce = [], [], []
    for r in range(args.rounds):
        for nproc in (1, 2) if r % 2 == 0 else (2, 1):
            res = _run(nproc, args.batch)
            if nproc == 1:
                one.append(res["ips"])
            else:
                two.append(res["ips"] / 2)
                allreduce.append(res["allreduce_ms"])
    step_ms = args.batch / statistics.median(two) * 1000
    print(
        f"resnet20, synthetic 5,000 images, 1 epoch, cpu, 1 thread per process, "
        f"per-process batch {args.batch}, "
        f"{args.rounds} alternating rounds; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"1 process:   {statistics.median(one):,.1f} images/s (rounds: {', '.join(f'{v:,.1f}' for v in one)})"
    )
    print(
        f"2 processes: {statistics.median(two):,.1f} images/s per process "
        f"(rounds: {', '.join(f'{v:,.1f}' for v in two)})"
    )
    print(f"ratio per process, 2 / 1: {statistics.median(two) / statistics.median(one):.3f}")
    print(
        f"gloo all-reduce of the gradients' size alone: {statistics.median(allreduce):.2f} ms, "
        f"a step at 2 processes: {step_ms:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
