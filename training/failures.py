"""How training fails for the user: the error type, and out-of-memory told apart with advice."""

from __future__ import annotations

import torch

from graph.errors import UserError
from training.config import TrainConfig


class TrainingError(UserError):
    """Training failed (exit code 1): out of memory, a crash in the model, ..."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1)


def is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch.cuda, "OutOfMemoryError", ())
    if oom_type and isinstance(exc, oom_type):
        return True
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


def oom_message(cfg: TrainConfig, device: torch.device) -> str:
    where = "GPU" if device.type == "cuda" else "memory"
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory / 2**30
        where = f"GPU memory ({torch.cuda.get_device_name(device)}, {total:.0f} GiB)"
    half = max(1, cfg.batch_size // 2)
    tips = [f"a smaller batch: --batch-size {half}"]
    if device.type == "cuda" and not cfg.amp:
        tips.append("bf16 autocast (amp on)")
    if cfg.compile:
        tips.append("torch.compile off")
    tips.append("a smaller input or a narrower network")
    return f"ran out of {where} at batch size {cfg.batch_size}; try " + ", or ".join(tips)


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """``exc``'s first line of text (empty when it has none), cut to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0] if str(exc) else ""
    return text if limit is None else text[:limit]
