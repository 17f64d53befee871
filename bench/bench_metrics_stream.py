"""Event-loop latency while a training child sends 1,000 metric updates per second.

A child process (the kind training/process.py starts, through the same pipes)
puts metric dicts into its records pipe at a fixed rate: step records, a gradient-norm profile of
20 layers every 50 steps, an epoch record every 500. The parent runs a plain
20 Hz loop (the editor's 50 ms QTimer, without Qt) that drains the queue with
``TrainingProcess.poll()`` each tick. Reported: how late each tick started
(the event-loop latency a user would feel), how long each poll took, and
whether every record arrived.

    python bench/bench_metrics_stream.py [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sender(payload: dict, link) -> int:
    """The child (training/child.py calls it): records through the same pipe as a training run."""
    from training.metrics import record

    rate, seconds = payload["rate"], payload["seconds"]

    layers = [f"layer{i // 6 + 1}.{i % 6}.conv{1 + i % 2}" for i in range(20)]
    n = int(rate * seconds)
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        if link.should_stop():
            break
        link.put(
            record("step", step=i, epoch=i / 500, loss=2.3 / (1 + i / 1000), lr=0.1, images_per_s=60000.0)
        )
        if i % 50 == 0:
            link.put(
                record(
                    "grad",
                    step=i,
                    epoch=i // 500 + 1,
                    layers=layers,
                    norms=[0.01 * (k + 1) for k in range(20)],
                )
            )
        if i % 500 == 0:
            link.put(
                record(
                    "epoch",
                    epoch=i // 500,
                    step=i,
                    train_loss=1.0,
                    train_acc=0.5,
                    val_loss=1.1,
                    val_acc=0.5,
                    lr=0.1,
                    images_per_s=60000.0,
                    epoch_time_s=0.5,
                    eta_s=10.0,
                    gpu_mem_mb=None,
                    best=True,
                )
            )
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    link.put(record("status", state="completed", message="done"))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--period-ms", type=float, default=50.0)
    args = ap.parse_args()

    from training.process import start_child

    proc = start_child(
        "bench.bench_metrics_stream:sender", {"rate": args.rate, "seconds": args.seconds}, ROOT
    )
    period = args.period_ms / 1000
    late, poll_ms, got = [], [], []
    first_step_at = None
    next_tick = time.perf_counter() + period
    while True:
        now = time.perf_counter()
        if now < next_tick:
            time.sleep(next_tick - now)
        start = time.perf_counter()
        late.append((start - next_tick) * 1000)
        recs = proc.poll(max_items=5000)
        poll_ms.append((time.perf_counter() - start) * 1000)
        got += recs
        if first_step_at is None and any(r["kind"] == "step" for r in recs):
            first_step_at = len(late)
        next_tick += period
        if proc.finished:
            break
    proc.join(30)
    steps = sum(1 for r in got if r["kind"] == "step")
    busy = late[first_step_at:] if first_step_at is not None else late
    busy_poll = poll_ms[first_step_at:] if first_step_at is not None else poll_ms
    worst = max(a + b for a, b in zip(busy, busy_poll, strict=True))
    print(
        f"sent {int(args.rate * args.seconds):,} step records at {args.rate}/s (+ grad and epoch records); "
        f"received {steps:,} step records, {len(got):,} records in all"
    )
    print(f"ticks while streaming: {len(busy)} at {args.period_ms:.0f} ms")
    print(
        f"tick lateness ms: median {statistics.median(busy):.2f}, p99 "
        f"{sorted(busy)[int(len(busy) * 0.99) - 1]:.2f}, "
        f"max {max(busy):.2f}"
    )
    print(
        f"poll() time ms: median {statistics.median(busy_poll):.2f}, p99 "
        f"{sorted(busy_poll)[int(len(busy_poll) * 0.99) - 1]:.2f}, max {max(busy_poll):.2f}"
    )
    print(f"worst event-loop latency (lateness + poll): {worst:.2f} ms (goal < 50 ms)")
    return 0 if worst < 50 and steps == int(args.rate * args.seconds) else 1


if __name__ == "__main__":
    sys.exit(main())
