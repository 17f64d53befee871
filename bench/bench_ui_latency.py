"""Benchmark the editor's responsiveness while a training child floods it with metrics.

A spawned child process (the same queue and ``TrainingProcess.poll`` path as a
real run, without torch) sends 1,000 metric records a second for ``--seconds``
(step records, a gradient-norm profile of 20 layers every 50 steps, an epoch
record every 500 steps) into a shown ``TrainingPanel`` with its plots built.
Meanwhile a 10 ms ``QTimer`` (PreciseTimer) measures the event loop's latency:
how late each tick fires. First ``--idle`` seconds without the child, for
reference. Goal: max and p99 lateness under load below 50 ms.

Run: ``QT_QPA_PLATFORM=offscreen python bench/bench_ui_latency.py [--seconds 5] [--rate 1000]``.
Figures are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LAYERS = [f"layer{i // 3 + 1}.{i % 3}.conv.weight" for i in range(20)]


def producer(payload: dict, link) -> int:
    """The child: ``rate`` records a second for ``seconds``, then a "completed" status."""
    from training.metrics import record

    rate, seconds = payload["rate"], payload["seconds"]

    link.put(
        record(
            "status",
            state="running",
            message="bench",
            total_steps=int(rate * seconds),
            steps_per_epoch=500,
            epochs=max(1, int(rate * seconds) // 500),
        )
    )
    t0 = time.perf_counter()
    sent = step = 0
    while not link.should_stop():
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate)
        while sent < due:
            step += 1
            if step % 500 == 0:
                e = step // 500
                link.put(
                    record(
                        "epoch",
                        epoch=e,
                        step=step,
                        train_loss=1 / e,
                        train_acc=1 - 0.5 / e,
                        val_loss=1.1 / e,
                        val_acc=1 - 0.6 / e,
                        lr=0.1,
                        images_per_s=12000.0,
                        epoch_time_s=0.5,
                        eta_s=3.0,
                        gpu_mem_mb=None,
                        best=True,
                    )
                )
            elif step % 50 == 0:
                link.put(
                    record(
                        "grad",
                        step=step,
                        epoch=step / 500,
                        layers=LAYERS,
                        norms=[10 ** (-1 - i / 10) * (1 + 0.1 * math.sin(step)) for i in range(20)],
                    )
                )
            else:
                link.put(
                    record(
                        "step",
                        step=step,
                        epoch=step / 500,
                        loss=2.3 * math.exp(-step / 2000) + 0.05 * math.sin(step),
                        lr=0.1,
                        images_per_s=12000.0,
                    )
                )
            sent += 1
        time.sleep(0.001)
    link.put(record("status", state="completed", message=f"sent {sent} records"))
    return 0


def start_producer(rate: float, seconds: float):
    from training.process import start_child

    return start_child("bench.bench_ui_latency:producer", {"rate": rate, "seconds": seconds}, "bench-run")


def measure(app, seconds: float, interval_ms: int = 10) -> list[float]:
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    late: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(interval_ms)

    def tick() -> None:
        now = clock.nsecsElapsed()
        late.append(max(0.0, (now - last[0]) / 1e6 - interval_ms))
        last[0] = now

    timer.timeout.connect(tick)
    timer.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.0005)
    timer.stop()
    return late


def summary(late: list[float]) -> dict:
    s = sorted(late)
    return {
        "ticks": len(s),
        "p50_ms": round(statistics.median(s), 2),
        "p99_ms": round(s[min(len(s) - 1, int(0.99 * len(s)))], 2),
        "max_ms": round(s[-1], 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--idle", type=float, default=2.0)
    ap.add_argument("--screenshot", help="save the panel after the run to this PNG")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.app_style import apply_theme

    apply_theme(app, "dark")
    from app.document import Document
    from app.training_ui import TrainingPanel
    from graph.templates import make

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"skipwire-bench-runs-{os.getpid()}"
    panel = TrainingPanel(
        Document(make("resnet20")),
        runs_dir=tmp,
        factory=lambda p, c, d: start_producer(args.rate, args.seconds),
    )
    panel.resize(1600, 480)
    panel.show()
    panel.ensure_plots()
    app.processEvents()

    # CPU time (this thread) of each piece of GUI work, independent of how busy the machine is
    work: dict[str, list[float]] = {"drain_tick": [], "plot_refresh": [], "paint": []}

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                work[name].append((time.thread_time() - t) * 1000)

        return wrapper

    panel.controller._timer.timeout.disconnect()
    panel.controller._timer.timeout.connect(timed("drain_tick", panel.controller._on_tick))
    panel._plot_timer.timeout.disconnect()
    panel._plot_timer.timeout.connect(timed("plot_refresh", panel._refresh_plots))
    view = panel.plots.view
    view.paintEvent = timed("paint", view.paintEvent)

    idle = summary(measure(app, args.idle))
    for v in work.values():
        v.clear()
    ticks_before = panel.controller.drained
    panel.start()
    # the spawned child needs a moment to start; measure from its first record on
    t_wait = time.perf_counter()
    while panel.controller.drained == ticks_before and time.perf_counter() - t_wait < 30:
        app.processEvents()
        time.sleep(0.005)
    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    load0 = os.getloadavg()[0]
    loaded = summary(measure(app, args.seconds))
    gui_cpu = (time.thread_time() - cpu0) / args.seconds
    load1 = os.getloadavg()[0]
    while panel.controller.busy and time.perf_counter() - t0 < args.seconds + 30:
        app.processEvents()
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    run = next(iter(panel.store.runs.values()))
    result = {
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "idle": idle,
        "under_load": loaded,
        "records_received": panel.controller.drained,
        "steps_plotted": run.loss.count,
        "points_on_loss_curve": len(run.loss.data()[0]),
        "drain_wall_s": round(wall, 2),
        "final_state": run.state,
        "goal_ms": 50,
        "gui_thread_cpu_pct": round(100 * gui_cpu, 1),
        "load_avg_1min": [round(load0, 1), round(load1, 1)],
        "cores": os.cpu_count(),
        "gui_work_cpu_ms": {
            k: {
                "count": len(v),
                "p50": round(statistics.median(v), 2) if v else None,
                "max": round(max(v), 2) if v else None,
            }
            for k, v in work.items()
        },
        "ok": loaded["max_ms"] < 50 and loaded["p99_ms"] < 50,
    }
    print(json.dumps(result, indent=2))
    if args.screenshot:
        panel.grab().save(args.screenshot)
    panel.shutdown()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
