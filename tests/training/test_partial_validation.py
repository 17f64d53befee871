"""Validation on a subset during long epochs, and the gradient profile from the first steps: the
accuracy and gradient plots get points in a short run, and the training itself is unchanged
(same weights bitwise on CPU, same step count, resume still exact)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import tiny_resnet

from training import engine
from training.config import TrainConfig
from training.metrics import read_metrics, validate

SHAPE = (1, 12, 12)


def cfg(**kw) -> TrainConfig:
    base = {"epochs": 2, "batch_size": 100, "lr": 0.05, "schedule": "onecycle", "grad_every": 10, "seed": 5}
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def project():
    return tiny_resnet(SHAPE, classes=4, width=4)


def _weights(run):
    return load_file(str(run / "last.safetensors"))


def test_grad_profile_steps():
    due = [s for s in range(1, 130) if engine.grad_profile_due(s, 50)]
    assert due == [1, 2, 4, 8, 16, 32, 50, 100]
    assert not any(engine.grad_profile_due(s, 0) for s in range(1, 10))


def test_subset_validation_changes_nothing_in_the_training(project, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PARTIAL_VAL_EVERY_S", 0.0)
    plain = engine.train(project, cfg(), tmp_path / "plain")
    monkeypatch.setattr(engine, "PARTIAL_VAL_EVERY_S", 1e-9)  # after every step but an epoch's last
    monkeypatch.setattr(engine, "PARTIAL_VAL_IMAGES", 300)
    checked = engine.train(project, cfg(), tmp_path / "checked")
    assert plain.steps_done == checked.steps_done == 2 * 50
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "checked")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    recs = read_metrics(tmp_path / "checked" / "metrics.jsonl")
    vals = [r for r in recs if r["kind"] == "val"]
    assert all(validate(r) == [] for r in vals)
    assert [r["step"] for r in vals] == [s for s in range(1, 101) if s % 50]  # never at an epoch's end
    assert all(r["images"] == 300 and 0 <= r["val_acc"] <= 1 for r in vals)
    assert vals[0]["epoch"] == 0.02 and vals[-1]["epoch"] == 1.98
    assert vals[-1]["val_acc"] > vals[0]["val_acc"]  # it learns, and the plot shows it mid-epoch
    assert not [r for r in read_metrics(tmp_path / "plain" / "metrics.jsonl") if r["kind"] == "val"]
    ea = [r for r in read_metrics(tmp_path / "plain" / "metrics.jsonl") if r["kind"] == "epoch"]
    eb = [r for r in recs if r["kind"] == "epoch"]
    assert [r["val_loss"] for r in ea] == [r["val_loss"] for r in eb]  # the full validation as before


def test_resume_with_subset_validation_is_still_bitwise(project, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PARTIAL_VAL_EVERY_S", 0.0)
    engine.train(project, cfg(), tmp_path / "full")
    monkeypatch.setattr(engine, "PARTIAL_VAL_EVERY_S", 1e-9)
    monkeypatch.setattr(engine, "PARTIAL_VAL_IMAGES", 200)
    steps = []
    r = engine.train(
        project,
        cfg(),
        tmp_path / "stopped",
        on_metric=lambda m: steps.append(m) if m["kind"] == "step" else None,
        should_stop=lambda: len(steps) >= 63,
    )
    assert r.status == "stopped"
    assert engine.resume(tmp_path / "stopped").status == "completed"
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "stopped")
    assert all(torch.equal(a[k], b[k]) for k in a)
