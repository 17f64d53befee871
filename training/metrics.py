"""The metric record schema: small JSON-able dicts, one per event.

Every record has ``"kind"`` and ``"time"`` (seconds since the epoch). Kinds:

- ``step``:   step, epoch (fractional), loss (mean train loss over the steps since
              the last step record), lr, images_per_s, eta_s
- ``epoch``:  epoch (1-based, completed), step, train_loss, train_acc, val_loss,
              val_acc, lr, images_per_s, epoch_time_s, eta_s, gpu_mem_mb (None off
              CUDA), best (bool: this epoch is the best so far)
- ``val``:    step, epoch (fractional), val_loss, val_acc, images: validation on the first
              ``images`` of the validation set during a long epoch (every ~30 s of training)
- ``grad``:   step, epoch, layers (module paths of weights), norms (L2 norm of
              each weight's gradient; plot on a log scale)
- ``status``: state ("starting" | "running" | "fast_path" | "eager" | "checkpoint"
              | "completed" | "stopped" | "diverged" | "resumed"), message, plus
              free keys (device, total_steps, epochs, steps_per_epoch, ...)
- ``error``:  message (one or a few sentences for the user), and optionally
              traceback (for a log, never shown as the main text)

A run that was killed and resumed repeats the steps after its last checkpoint:
step numbers may then appear twice in ``metrics.jsonl``; the later record wins.

The same dicts go to ``metrics.jsonl`` (one JSON object per line), to TensorBoard event files
beside it (training/tensorboard_log.py), through the child-process queue, and to the
``on_metric`` callback of ``engine.train``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KINDS = ("step", "epoch", "val", "grad", "status", "error")
FINAL_STATES = ("completed", "stopped", "diverged")

REQUIRED = {
    "step": ("step", "epoch", "loss", "lr"),
    "epoch": (
        "epoch",
        "step",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "images_per_s",
        "epoch_time_s",
        "eta_s",
        "gpu_mem_mb",
        "best",
    ),
    "val": ("step", "epoch", "val_loss", "val_acc", "images"),
    "grad": ("step", "epoch", "layers", "norms"),
    "status": ("state", "message"),
    "error": ("message",),
}


def record(kind: str, **fields: Any) -> dict:
    """Build one record; fills in ``time``. Non-finite floats become None (JSON has no NaN)."""
    if kind not in KINDS:
        raise ValueError(f"unknown metric kind {kind!r}")
    rec = {"kind": kind, "time": round(time.time(), 3)}
    for k, v in fields.items():
        rec[k] = _clean(v)
    return rec


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def validate(rec: dict) -> list[str]:
    """Problems with a record (empty when it follows the schema)."""
    kind = rec.get("kind")
    if kind not in KINDS:
        return [f"unknown kind {kind!r}"]
    return [f"{kind} record lacks {k!r}" for k in REQUIRED[kind] if k not in rec]


class MetricsWriter:
    """Appends records to ``metrics.jsonl``, flushing each line so a crash loses nothing.

    With ``events`` (the default) every record also goes to TensorBoard event files in the same
    folder (training/tensorboard_log.py) where tensorboard is installed; a failure there is said
    once and never stops the run."""

    def __init__(self, path: str | Path, events: bool = True) -> None:
        self.path = Path(path)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._events = None
        if events:
            from training.tensorboard_log import open_event_log

            self._events = open_event_log(self.path.parent)

    def write(self, rec: dict) -> None:
        self._f.write(json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n")
        self._f.flush()
        if self._events is not None:
            try:
                self._events.write(rec)
            except Exception as exc:  # noqa: BLE001 - the event files are a copy; the run goes on
                self._drop_events(exc)

    def close(self) -> None:
        self._f.close()
        if self._events is not None:
            try:
                self._events.close()
            except Exception as exc:  # noqa: BLE001
                self._drop_events(exc)

    def _drop_events(self, exc: Exception) -> None:
        import sys

        self._events = None
        sys.stderr.write(f"skipwire: TensorBoard event files of {self.path.parent} stop here ({exc})\n")


def read_metrics(path: str | Path) -> list[dict]:
    """All records of a metrics file; a torn last line (crash mid-write) is skipped."""
    return list(iter_metrics(path))


def iter_metrics(path: str | Path) -> Iterator[dict]:
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
