"""The exported training script trains exactly what the app trains (issue 20).

`export --format script` writes the project and a call into Skipwire's engine (training/bundle.py),
so there is no second recipe. These tests prove it end to end, as a user runs both: the same
project, config, seed and data on the CPU; `main.py train` and `python train.py` give bitwise-equal
losses for the first 200 steps (augmentation on) and the same validation loss and accuracy after
one epoch, for resnet20 on 2,000 real MNIST digits (tests/training/data/mnist2000), for a small
residual net (conv-bn-relu, two basic blocks, width 8) on the CIFAR-shaped synthetic set (3x32x32,
5,000 training images; resnet20 there took 155 s of this suite on a busy 2-core machine), and the
same under torchrun with 2 processes (MNIST, one epoch of 112 steps). Steps per epoch are chosen
>= 200 (batch 8 of 1,800 MNIST training images, 24 of 5,000 synthetic) so that one epoch covers
the 200 steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.export import export_script
from graph.projectfile import save_project
from graph.templates import make
from training.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "training"))
from train_helpers import tiny_resnet

# each test trains twice in child processes (under torchrun too): minutes beside a CPU hog
pytestmark = pytest.mark.timeout(300)

MNIST = ROOT / "tests" / "training" / "data" / "mnist2000"


def _launch(argv: list[str], cwd: Path, nproc: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))  # PYTHONPATH: as if installed
    if nproc > 1:
        argv = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *argv]
    res = subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]


def _app_and_script(tmp_path: Path, project, args: list[str], nproc: int = 1) -> tuple[Path, Path]:
    """The run folders of `main.py train` and of the exported `train.py` with the same options."""
    save_project(project, tmp_path / "project.json")
    export_script(project, tmp_path / "train.py")
    _launch([str(ROOT / "main.py"), "train", "project.json", *args, "--out", "app"], tmp_path, nproc)
    _launch(["train.py", *args, "--out", "script"], tmp_path, nproc)
    ((app,), (script,)) = ((tmp_path / "app").iterdir(), (tmp_path / "script").iterdir())
    return app, script


def _same_training(app: Path, script: Path, steps: int) -> list[float]:
    a, s = read_metrics(app / "metrics.jsonl"), read_metrics(script / "metrics.jsonl")
    losses_a = [r["loss"] for r in a if r["kind"] == "step"][:steps]
    losses_s = [r["loss"] for r in s if r["kind"] == "step"][:steps]
    assert len(losses_a) == steps
    assert losses_s == losses_a  # bitwise: the same float32 values, printed the same
    (ep_a,), (ep_s,) = [r for r in a if r["kind"] == "epoch"], [r for r in s if r["kind"] == "epoch"]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
        assert ep_s[key] == ep_a[key], key
    for name in ("model.py", "config.json", "project.json"):
        assert (script / name).read_text() == (app / name).read_text(), name
    status = next(r for r in s if r["kind"] == "status" and r["state"] == "running")
    assert status["augment"] != "none"  # the recipe's augmentation is on in both
    return losses_a


@pytest.mark.slow
def test_script_equals_the_app_on_mnist(tmp_path):
    project = make("resnet20", classes=10, input_shape="1,28,28")
    args = [
        "--dataset",
        f"mnist:{MNIST}",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--seed",
        "5",
    ]
    app, script = _app_and_script(tmp_path, project, args)
    losses = _same_training(app, script, 200)
    assert sum(losses[-20:]) < sum(losses[:20])  # it learns: the comparison is not of two flat lines


@pytest.mark.slow
def test_script_equals_the_app_on_cifar_shaped_synthetic_data(tmp_path):
    project = tiny_resnet((3, 32, 32), classes=10, width=8, name="cifar-shaped")
    args = ["--dataset", "synthetic", "--epochs", "1", "--batch-size", "24", "--device", "cpu", "--seed", "2"]
    app, script = _app_and_script(tmp_path, project, args)
    _same_training(app, script, 200)
    assert json.loads((app / "run.json").read_text())["data"]["shape"] == [3, 32, 32]


@pytest.mark.slow
def test_script_equals_the_app_under_torchrun_with_two_processes(tmp_path):
    project = make("resnet20", classes=10, input_shape="1,28,28")
    args = ["--dataset", f"mnist:{MNIST}", "--epochs", "1", "--batch-size", "16", "--device", "cpu"]
    app, script = _app_and_script(tmp_path, project, args, nproc=2)
    _same_training(app, script, 1800 // 16)
    assert json.loads((script / "run.json").read_text())["processes"] == 2
