"""TensorBoard event files for a run, made from its metric records (training/metrics.py).

``MetricsWriter`` hands every record it writes to ``metrics.jsonl`` to an ``EventLog`` of the same
folder, so every run (the editor's, ``train``, a sweep's on this machine or on a Ray worker) also
has ``events.out.tfevents.*`` files and ``tensorboard --logdir runs/`` shows it:

- scalars, by step: ``loss/train_step``, ``lr``, ``images_per_s`` (step records); ``loss/train``,
  ``loss/val``, ``accuracy/train``, ``accuracy/val``, ``images_per_s/epoch`` (epoch records);
  ``accuracy/val_subset`` (the validation on a subset during a long epoch);
- histograms: ``gradients/norm`` and ``gradients/log10_norm``, the gradient-norm profile over the
  layers at each grad record;
- text: ``graph/summary``, the project's per-layer table (graph/summary.py), from project.json;
- hparams: in a sweep's run folder, the values the sweep varies (from ``../sweep.json``), with
  ``accuracy/val`` and ``loss/val`` as the metrics of the HParams view.

The writer is PyTorch's (``torch.utils.tensorboard``), which needs the ``tensorboard`` package
(the ``tensorboard`` extra: ``pip install 'skipwire[tensorboard]'``). Without it runs train as
before, without event files, and the process says so once on stderr.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path

EXTRA = "pip install 'skipwire[tensorboard]'"
_told = False


def open_event_log(run_dir: str | Path):
    """An ``EventLog`` for ``run_dir``, or None where tensorboard is not installed (said once)."""
    global _told
    try:
        return EventLog(run_dir)
    except ImportError:
        if not _told:
            _told = True
            sys.stderr.write(
                f"skipwire: no TensorBoard event files: tensorboard is not installed ({EXTRA})\n"
            )
        return None


class EventLog:
    def __init__(self, run_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = Path(run_dir)
        self._w = SummaryWriter(log_dir=str(self.run_dir), flush_secs=30)
        self._header_done = False

    def write(self, rec: dict) -> None:
        kind = rec.get("kind")
        if not self._header_done:
            self._header_done = True
            self._header()
        step = rec.get("step")
        step = int(step) if isinstance(step, (int, float)) else None
        w = self._w
        if kind == "step" and step is not None:
            self._scalars(step, {"loss/train_step": rec.get("loss"), "lr": rec.get("lr")})
            self._scalars(step, {"images_per_s": rec.get("images_per_s")})
        elif kind == "epoch" and step is not None:
            self._scalars(
                step,
                {
                    "loss/train": rec.get("train_loss"),
                    "loss/val": rec.get("val_loss"),
                    "accuracy/train": rec.get("train_acc"),
                    "accuracy/val": rec.get("val_acc"),
                    "images_per_s/epoch": rec.get("images_per_s"),
                    "epoch": rec.get("epoch"),
                },
            )
            w.flush()
        elif kind == "val" and step is not None:
            self._scalars(
                step, {"accuracy/val_subset": rec.get("val_acc"), "loss/val_subset": rec.get("val_loss")}
            )
        elif kind == "grad" and step is not None:
            import numpy as np

            norms = np.array([n for n in rec.get("norms") or [] if _finite(n)], dtype=np.float64)
            if norms.size:
                w.add_histogram("gradients/norm", norms, step)
                w.add_histogram("gradients/log10_norm", np.log10(np.maximum(norms, 1e-30)), step)
        elif kind in ("status", "error"):
            state = rec.get("state", "error")
            if state in ("completed", "stopped", "diverged", "error"):
                w.add_text("status", f"{state}: {rec.get('message', '')}")
                w.flush()

    def close(self) -> None:
        self._w.close()

    # ---------------------------------------------------------------- helpers
    def _scalars(self, step: int, values: dict) -> None:
        for tag, v in values.items():
            if _finite(v):
                self._w.add_scalar(tag, float(v), step)

    def _header(self) -> None:
        """The graph's summary as text, and a sweep run's varied values as hparams."""
        text = graph_summary_text(self.run_dir / "project.json")
        if text:
            self._w.add_text("graph/summary", text)
        values = sweep_values(self.run_dir)
        if values:
            from torch.utils.tensorboard.summary import hparams

            for summary in hparams(values, {"accuracy/val": None, "loss/val": None}):
                self._w.file_writer.add_summary(summary)
        self._w.flush()


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def graph_summary_text(project_json: Path) -> str | None:
    """The per-layer table as a Markdown code block (TensorBoard's text view), or None."""
    try:
        from graph.projectfile import project_from_dict
        from graph.shapes import analyze
        from graph.summary import render_table, summarize

        project = project_from_dict(
            json.loads(project_json.read_text(encoding="utf-8")), source=str(project_json)
        )
        table = render_table(summarize(analyze(project)))
    except Exception:  # noqa: BLE001 - a missing or unreadable project only leaves the text out
        return None
    return "\n".join("    " + line for line in table.splitlines())


def sweep_values(run_dir: Path) -> dict | None:
    """The varied values of a run inside a sweep folder (``{"depth": "3", "lr": 0.1}``), or None."""
    spec_path = run_dir.parent / "sweep.json"
    if not spec_path.exists():
        return None
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        entry = next(e for e in spec["runs"] if e["dir"] == run_dir.name)
        axes = spec["axes"]
        combo = list(itertools.product(*[a["values"] for a in axes]))[int(entry["config"])]
    except (OSError, ValueError, KeyError, StopIteration, IndexError, TypeError):
        return None
    out: dict = {}
    for a, v in zip(axes, combo, strict=True):
        try:
            out[a["name"]] = float(v) if a["name"] in ("lr", "weight_decay", "width") else v
        except ValueError:
            out[a["name"]] = v
    out["repeat"] = int(entry.get("repeat", 0)) + 1
    return out


__all__ = ["EXTRA", "EventLog", "graph_summary_text", "open_event_log", "sweep_values"]
