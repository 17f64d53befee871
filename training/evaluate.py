"""Evaluate a run: accuracy, loss, per-class accuracy and the confusion matrix.

``evaluate_run(run_dir, dataset=None, checkpoint="best", device="auto") -> dict``
builds the run's own ``model.py``, loads the checkpoint's weights and runs the
validation split of the run's dataset (or of ``dataset``), normalised with
the run's training statistics. ``confusion[i][j]`` counts images of true
class i predicted as class j.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from graph.errors import UserError
from training import augment, datasets, runs
from training.engine import pick_device
from training.modelsrc import module_from_source


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    idx = target.long() * num_classes + pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def evaluate_run(
    run_dir: str | Path,
    dataset: str | None = None,
    checkpoint: str = "best",
    device: str = "auto",
    batch_size: int = 512,
    on_progress=None,
) -> dict:
    """``on_progress(file, done, total)`` follows a download when the dataset is not in the cache yet."""
    info = runs.load_run(run_dir)
    tag = checkpoint if info.has_checkpoint(checkpoint) else "last"
    weights, _ = runs.load_checkpoint(info.path, tag)
    cfg = info.config
    data_meta = info.meta.get("data", {})
    shape = data_meta.get("shape")
    classes = data_meta.get("num_classes")
    if not shape or not classes:
        raise UserError(f"{info.path}/run.json lacks the dataset facts (shape, classes)")
    spec = dataset or cfg.get("dataset", "synthetic")
    data = datasets.load(spec, shape, classes, float(cfg.get("val_fraction", 0.1)), on_progress=on_progress)
    dev = pick_device(device)
    model = module_from_source(info.model_source, info.meta.get("model_class"))
    model.load_state_dict(weights)
    model.to(dev).eval()
    mean = torch.tensor(data_meta.get("mean") or data.mean, dtype=torch.float32, device=dev)
    std = torch.tensor(data_meta.get("std") or data.std, dtype=torch.float32, device=dev)
    preds, loss_sum = [], 0.0
    with torch.no_grad():
        for i in range(0, len(data.val_y), batch_size):
            x = augment.normalize(data.val_x[i : i + batch_size].to(dev), mean, std)
            y = data.val_y[i : i + batch_size].to(dev)
            out = model(x).float()
            loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
            preds.append(out.argmax(1).cpu())
    pred = torch.cat(preds)
    target = data.val_y
    cm = confusion_matrix(pred, target, classes)
    per_class = [(float(cm[k, k]) / float(cm[k].sum())) if int(cm[k].sum()) else None for k in range(classes)]
    names = data.class_names if len(data.class_names) == classes else [str(k) for k in range(classes)]
    n = len(target)
    return {
        "run": str(info.path),
        "checkpoint": tag,
        "dataset": str(data.spec),
        "images": n,
        "accuracy": int((pred == target).sum()) / n,
        "loss": loss_sum / n,
        "class_names": names,
        "per_class_accuracy": per_class,
        "confusion": cm.tolist(),
    }


def format_report(r: dict) -> str:
    names = r["class_names"]
    lines = [
        f"run {r['run']} ({r['checkpoint']} checkpoint) on {r['dataset']}, {r['images']:,} images",
        f"accuracy {r['accuracy']:.2%}   loss {r['loss']:.4f}",
        "",
        "per-class accuracy:",
    ]
    width = max(len(n) for n in names)
    for n, a in zip(names, r["per_class_accuracy"], strict=True):
        lines.append(f"  {n:<{width}}  {'-' if a is None else f'{a:.2%}'}")
    cm = r["confusion"]
    cw = max(5, max(len(str(v)) for row in cm for v in row) + 1)
    lines += [
        "",
        "confusion matrix (rows: true class, columns: predicted):",
        " " * (width + 2) + "".join(f"{k:>{cw}}" for k in range(len(names))),
    ]
    for n, row in zip(names, cm, strict=True):
        lines.append(f"  {n:<{width}}" + "".join(f"{v:>{cw}}" for v in row))
    return "\n".join(lines)
