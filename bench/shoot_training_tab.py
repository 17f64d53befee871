"""Not a benchmark: makes the Training tab screenshots in docs/screenshots/ from real runs.

Runs the degradation experiment (plain20, plain56, resnet20, resnet56) on the
synthetic dataset at 1x16x16 for a few epochs on the CPU, and saves the panel
during the third run, after all four (overlaid, with the hover read-out), and
after a run that fails (a dataset folder that does not exist).

Run: ``QT_QPA_PLATFORM=offscreen python bench/shoot_training_tab.py [--epochs 4] [--out docs/screenshots]``
(a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--input", default="1,16,16")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots"))
    ap.add_argument("--runs", default=None, help="runs folder (default: a new temporary folder)")
    ap.add_argument("--size", default="1600x560")
    return ap.parse_args()


def make_panel(app, args: argparse.Namespace, runs_dir: Path):
    """The Training tab (dark theme) on resnet20 with the experiment's settings, shown at ``--size``."""
    from app.app_style import apply_theme

    apply_theme(app, "dark")
    from app.document import Document
    from app.training_ui import TrainingPanel
    from graph.templates import make

    project = make("resnet20", input_shape=args.input)
    # one intra-op thread: on a busy 2-core machine the default two made the children 10-50x slower
    project.training = {
        "grad_every": 4,
        "epochs": args.epochs,
        "batch_size": 64,
        "device": "cpu",
        "threads": 1,
    }
    panel = TrainingPanel(Document(project), runs_dir=runs_dir)
    w, h = (int(v) for v in args.size.split("x"))
    panel.resize(w, h)
    panel.show()
    panel.ensure_plots()
    app.processEvents()
    return panel


def main() -> int:
    args = parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_dir = Path(args.runs or tempfile.mkdtemp(prefix="skipwire-shots-"))

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    panel = make_panel(app, args, runs_dir)

    def wait(cond, timeout):
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        return cond()

    def shot(name):
        for _ in range(5):
            app.processEvents()
            time.sleep(0.05)
        panel.refresh_plots()
        app.processEvents()
        path = out / name
        panel.grab().save(str(path))
        print("saved", path, flush=True)

    assert panel.start_experiment(), panel.form.problem.text()
    started = time.monotonic()

    def third_half():
        job = panel.controller.current
        if job is None or job.label != "ResNet-20":
            return False
        run = panel.store.get(job.key)
        return bool(run and run.total_steps and run.step >= 0.55 * run.total_steps)

    if wait(third_half, 1800):
        shot("training_during.png")
    wait(lambda: not panel.controller.busy, 3600)
    print(f"experiment took {time.monotonic() - started:.0f} s; {panel.status.text()}", flush=True)
    keys = panel.run_list.checked()
    if keys:
        panel.run_list.tree.setCurrentItem(panel.run_list.item(keys[1] if len(keys) > 1 else keys[0]))
    shown = [panel.store.get(k) for k in keys]
    if shown and shown[0].total_steps:
        panel.plots.show_crosshair(0.8 * shown[0].total_steps, "loss")
    shot("training_overlay.png")

    # a run that fails in the child: the message is shown, the panel stays usable
    panel.plots.hide_crosshair()
    panel.form.dataset.setCurrentIndex(panel.form.dataset.findData("mnist"))
    panel.form.data_dir.setText(str(runs_dir / "no-such-folder"))
    panel.start()
    wait(lambda: not panel.controller.busy, 120)
    shot("training_error.png")
    print("error shown:", panel.last_error, flush=True)
    panel.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
