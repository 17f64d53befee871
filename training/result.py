"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunResult:
    status: str  # completed | stopped | diverged
    run_dir: Path
    epochs_done: int = 0
    steps_done: int = 0
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    last_val_loss: float | None = None
    last_train_loss: float | None = None
    message: str = ""
    fast_path: bool = False
    device: str = "cpu"
    history: list[dict] = field(default_factory=list)  # the epoch records
