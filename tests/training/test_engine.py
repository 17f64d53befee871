"""The training loop on CPU: metrics file format, resume bitwise identical, NaN, stop, transfer."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import tiny_resnet

from graph.errors import UserError
from training import engine, runs
from training.config import TrainConfig
from training.metrics import read_metrics, validate

SHAPE = (1, 12, 12)


def small_cfg(**kw) -> TrainConfig:
    base = {"epochs": 3, "batch_size": 100, "lr": 0.05, "schedule": "onecycle", "grad_every": 10, "seed": 3}
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def project():
    return tiny_resnet(SHAPE, classes=4, width=4)


@pytest.fixture(scope="module")
def full_run(project, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "full"
    return engine.train(project, small_cfg(), run), run


def test_run_folder_and_metrics_format(full_run, project):
    result, run = full_run
    assert result.status == "completed" and result.epochs_done == 3
    for name in (
        "project.json",
        "config.json",
        "model.py",
        "run.json",
        "metrics.jsonl",
        "last.safetensors",
        "last.pt",
        "best.safetensors",
        "best.pt",
    ):
        assert (run / name).exists(), name
    assert json.loads((run / "project.json").read_text())["graph"] == project.to_dict()["graph"]
    assert "class Tiny(nn.Module)" in (run / "model.py").read_text()
    recs = read_metrics(run / "metrics.jsonl")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(recs) and all(json.loads(line) for line in lines)
    assert all(validate(r) == [] for r in recs), [validate(r) for r in recs if validate(r)]
    kinds = [r["kind"] for r in recs]
    spe = 5000 // 100
    assert kinds.count("step") == 3 * spe  # one per step on CPU
    assert kinds.count("grad") == 3 * spe // 10 + 4  # and at steps 1, 2, 4, 8 (from initialisation on)
    epochs = [r for r in recs if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3] and epochs[-1]["step"] == 3 * spe
    assert recs[-1]["kind"] == "status" and recs[-1]["state"] == "completed"
    grad = next(r for r in recs if r["kind"] == "grad")
    assert (
        grad["layers"][0] == "conv1" and len(grad["layers"]) == len(grad["norms"]) and min(grad["norms"]) > 0
    )
    assert epochs[-1]["val_acc"] > 0.5  # it learns (4 classes: chance is 0.25)
    info = runs.load_run(run)
    assert info.status == "completed" and info.epochs_done == 3 and info.best_val_acc == result.best_val_acc
    assert [r.name for r in runs.list_runs(run.parent)] == ["full"]
    # the rest of a checkpoint loads with weights_only=True
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["epoch"] == 3 and "optimizer" in state and "rng" in state


def test_resume_is_bitwise_identical_on_cpu(full_run, project, tmp_path):
    _, full = full_run
    run = tmp_path / "interrupted"
    seen = []

    def stop():  # stop in the middle of epoch 2
        return len(seen) >= 50 + 7

    r = engine.train(
        project,
        small_cfg(),
        run,
        on_metric=lambda m: seen.append(m) if m["kind"] == "step" else None,
        should_stop=stop,
    )
    assert (
        r.status == "stopped" and "epoch 2 at step 57" in r.message and runs.load_run(run).status == "stopped"
    )
    state = torch.load(run / "last.pt", weights_only=True)  # saved where it stopped, inside epoch 2
    assert state["epoch"] == 1 and state["step"] == 57 and state["partial"]["batch"] == 7
    r2 = engine.resume(run)
    assert r2.status == "completed" and r2.epochs_done == 3
    a, b = load_file(str(full / "last.safetensors")), load_file(str(run / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ea = [m for m in read_metrics(full / "metrics.jsonl") if m["kind"] == "epoch"]
    eb = [m for m in read_metrics(run / "metrics.jsonl") if m["kind"] == "epoch"]
    assert [m["val_loss"] for m in ea] == [m["val_loss"] for m in eb]  # epoch 1 once, then 2 and 3 resumed
    assert [m["train_loss"] for m in ea] == [m["train_loss"] for m in eb]  # epoch 2's sums survived the stop
    assert any(
        m.get("state") == "resumed" and "step 57" in m["message"] for m in read_metrics(run / "metrics.jsonl")
    )
    with pytest.raises(UserError):  # nothing left to do is not an error...
        engine.resume(tmp_path / "nope")
    assert engine.resume(run).status == "completed"  # ...resuming a finished run says so and returns


def test_nan_stops_with_a_clear_message_and_rolls_back(project, tmp_path):
    # epoch 1 trains normally; at 50% the rate jumps 1e7-fold and the loss blows up in epoch 2
    cfg = small_cfg(epochs=2, schedule="step", milestones=[0.5], gamma=1e8, lr=0.05, grad_every=0)
    run = tmp_path / "nan"
    r = engine.train(project, cfg, run)
    assert r.status == "diverged" and r.epochs_done == 1
    assert ("nan" in r.message or "inf" in r.message) and "--lr" in r.message and "rolled back" in r.message
    recs = read_metrics(run / "metrics.jsonl")
    assert any(m["kind"] == "error" for m in recs) and recs[-1]["state"] == "diverged"
    w = load_file(str(run / "last.safetensors"))
    assert all(torch.isfinite(v.float()).all() for v in w.values())
    assert runs.load_run(run).status == "diverged"


def test_huge_lr_diverges_in_the_first_epoch(project, tmp_path):
    r = engine.train(project, small_cfg(epochs=1, lr=1e6, schedule="constant", grad_every=0), tmp_path / "x")
    assert r.status == "diverged" and "learning rate 1e+06" in r.message


def test_transfer_weights_and_refusals(full_run, tmp_path):
    _, full = full_run
    other = tiny_resnet(SHAPE, classes=3, width=4, name="three")
    cfg = small_cfg(epochs=1, weights=str(full / "best.safetensors"), grad_every=0)
    msgs = []
    r = engine.train(other, cfg, tmp_path / "t", on_metric=lambda m: msgs.append(m.get("message", "")))
    assert r.status == "completed"
    assert any("loaded" in m and "fc.weight" in m for m in msgs)
    from safetensors.torch import save_file

    save_file({"encoder.proj.weight": torch.zeros(3, 3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(UserError, match="none of the weights"):
        engine.train(other, small_cfg(epochs=1, weights=str(tmp_path / "other.safetensors")), tmp_path / "w")
    with pytest.raises(UserError, match="does not exist"):
        engine.train(other, small_cfg(epochs=1, weights=str(tmp_path / "missing.pt")), tmp_path / "w2")
    with pytest.raises(UserError, match="already exists"):
        engine.train(other, small_cfg(epochs=1), full)


def test_dataset_refusal_before_training(project, tmp_path):
    bad = tiny_resnet((3, 12, 12), classes=4, width=4)
    mnist = tmp_path / "m"
    mnist.mkdir()
    import struct

    import numpy as np

    (mnist / "t10k-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + struct.pack(">3I", 20, 28, 28) + np.zeros(20 * 784, np.uint8).tobytes()
    )
    (mnist / "t10k-labels-idx1-ubyte").write_bytes(
        bytes([0, 0, 8, 1]) + struct.pack(">I", 20) + (np.arange(20) % 10).astype(np.uint8).tobytes()
    )
    with pytest.raises(UserError) as e:
        engine.train(bad, small_cfg(dataset=f"mnist:{mnist}"), tmp_path / "r")
    assert "1x28x28" in e.value.message and "--input 1,28,28" in e.value.message
    assert not (tmp_path / "r").exists()  # refused before a run folder was made
    (tmp_path / "junk.pt").write_bytes(b"not weights")
    with pytest.raises(UserError, match="cannot read weights"):
        engine.train(bad, small_cfg(weights=str(tmp_path / "junk.pt")), tmp_path / "r2")
    assert not (tmp_path / "r2").exists()  # an unreadable weights file too


def test_oom_message_names_batch_size():
    msg = engine.oom_message(small_cfg(batch_size=512, compile=True), torch.device("cpu"))
    assert "batch size 512" in msg and "--batch-size 256" in msg and "compile" in msg
    assert engine._is_oom(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not engine._is_oom(RuntimeError("shape mismatch"))


def test_dataloader_path_trains_like_the_resident_path(project, tmp_path):
    """Data that does not fit the GPU goes through a DataLoader; same batches, same numbers (CPU)."""
    r = engine.train(project, small_cfg(epochs=1, loader="dataloader", workers=0), tmp_path / "dl")
    a = engine.train(project, small_cfg(epochs=1), tmp_path / "res")
    assert r.status == a.status == "completed"
    wa, wb = (
        load_file(str(tmp_path / "dl" / "last.safetensors")),
        load_file(str(tmp_path / "res" / "last.safetensors")),
    )
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_load_weights_file_formats(full_run, tmp_path):
    _, full = full_run
    sd = runs.load_weights_file(full / "best.safetensors")
    torch.save(sd, tmp_path / "w.pt")
    torch.save({"state_dict": sd, "epoch": 3}, tmp_path / "ckpt.pth")
    for p in (tmp_path / "w.pt", tmp_path / "ckpt.pth", full):  # a run folder means its best weights
        got = runs.load_weights_file(p)
        assert got.keys() == sd.keys() and all(torch.equal(got[k], sd[k]) for k in sd)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(UserError, match="state_dict"):
        runs.load_weights_file(tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read weights"):
        runs.load_weights_file(tmp_path / "junk.pt")
    import pickle

    (tmp_path / "objects.pt").write_bytes(pickle.dumps({"w": object()}, protocol=2))
    with pytest.raises(UserError, match="never unpickles") as exc:
        runs.load_weights_file(tmp_path / "objects.pt")
    assert "\x1b" not in exc.value.message and "two options" not in exc.value.message
