"""End to end on real data: a tiny generated ResNet learns the shared MNIST test set on CPU."""

from __future__ import annotations

import time

import pytest
from train_helpers import MNIST_DIR, tiny_resnet

from training import engine
from training.config import TrainConfig
from training.metrics import read_metrics


@pytest.mark.slow
@pytest.mark.skipif(
    not MNIST_DIR.is_dir(),
    reason=f"the shared MNIST set is absent ({MNIST_DIR}); users' checkouts do not have ../shared/data/mnist",
)
def test_tiny_resnet_reaches_95_percent_on_mnist(tmp_path):
    # stride-2 stem (14x14), BasicBlocks at 16 and 32 channels: about 24k parameters.
    project = tiny_resnet((1, 28, 28), classes=10, width=16, stem_stride=2, name="mnist-tiny")
    cfg = TrainConfig(
        dataset=f"mnist:{MNIST_DIR}",
        val_fraction=0.2,  # 8,000 / 2,000, fixed split
        epochs=3,
        batch_size=64,
        optimizer="adamw",
        lr=0.005,
        weight_decay=5e-4,
        schedule="onecycle",
        pct_start=0.15,
        augment="none",
        grad_every=0,
        seed=0,
    )
    t0 = time.perf_counter()
    result = engine.train(project, cfg, tmp_path / "run")
    took = time.perf_counter() - t0
    epochs = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "epoch"]
    summary = [(r["epoch"], round(r["val_acc"], 4)) for r in epochs]
    assert result.status == "completed", result.message
    assert result.best_val_acc >= 0.95, f"validation accuracy by epoch {summary} ({took:.0f} s)"
