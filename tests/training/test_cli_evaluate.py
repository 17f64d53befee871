"""`main.py train | evaluate | runs`, exit codes, and evaluate's confusion matrix."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import tiny_resnet

import main
from graph.projectfile import save_project
from training.evaluate import confusion_matrix, evaluate_run, format_report


def test_confusion_matrix_counts():
    pred = torch.tensor([0, 1, 1, 2, 2, 2, 0])
    true = torch.tensor([0, 1, 2, 2, 2, 0, 0])
    cm = confusion_matrix(pred, true, 3)
    assert cm.tolist() == [[2, 0, 1], [0, 1, 0], [0, 1, 2]]
    assert int(cm.sum()) == 7 and int(cm.trace()) == int((pred == true).sum())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    p = tiny_resnet((1, 8, 8), classes=3, width=4, name="Tiny CLI")
    f = tmp / "tiny.skipwire"
    save_project(p, f)
    code = main.main(
        [
            "train",
            str(f),
            "--epochs",
            "2",
            "--batch-size",
            "250",
            "--lr",
            "0.05",
            "--out",
            str(tmp / "runs"),
            "--seed",
            "1",
        ]
    )
    assert code == 0
    (run,) = (tmp / "runs").iterdir()
    return tmp, f, run


def test_train_runs_evaluate(trained, capsys):
    tmp, _f, run = trained
    assert run.name.startswith("tiny-cli-")
    assert main.main(["runs", str(tmp / "runs")]) == 0
    out = capsys.readouterr().out
    assert run.name in out and "completed" in out and "2/2" in out
    assert main.main(["evaluate", str(run), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    cm = torch.tensor(r["confusion"])
    assert cm.shape == (3, 3) and int(cm.sum()) == r["images"] == 1000
    assert r["accuracy"] == pytest.approx(int(cm.trace()) / 1000)
    meta = json.loads((run / "run.json").read_text())
    assert r["accuracy"] == pytest.approx(meta["best_val_acc"])  # the best checkpoint, same split
    assert main.main(["evaluate", str(run)]) == 0
    text = capsys.readouterr().out
    assert "confusion matrix" in text and "per-class accuracy" in text and "class0" in text
    assert format_report(evaluate_run(run)).startswith("run ")


def test_resume_from_cli_extends(trained, capsys):
    _tmp, f, run = trained
    assert main.main(["train", str(f), "--resume", str(run), "--epochs", "3"]) == 0
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 3


def test_exit_codes(trained, tmp_path, capsys):
    _tmp, f, _run = trained
    assert main.main(["train", str(tmp_path / "nope.skipwire")]) == 2
    assert main.main(["train", str(f), "--dataset", f"mnist:{tmp_path}/none", "--out", str(tmp_path)]) == 2
    assert main.main(["train", str(f), "--preset", "turbo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "unknown preset" in err and "Traceback" not in err
    assert (
        main.main(
            [
                "train",
                str(f),
                "--lr",
                "1e6",
                "--epochs",
                "1",
                "--batch-size",
                "250",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 1
    )
    assert "loss became" in capsys.readouterr().err
    assert main.main(["evaluate", str(tmp_path)]) == 2
    assert main.main(["runs", str(tmp_path / "empty")]) == 0


def test_progress_bar_draws_on_a_terminal():
    import io

    from training.cli import ProgressBar
    from training.metrics import record

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err, out = Tty(), io.StringIO()
    bar = ProgressBar(stream=err, out=out, run_dir="runs/r1")
    bar(
        record(
            "status",
            state="running",
            message="training; loaded 3 of 4 tensors",
            device="cpu",
            total_steps=100,
            steps_per_epoch=50,
            epochs=2,
            dataset="synthetic",
        )
    )
    lines = [ln.strip() for ln in err.getvalue().replace("\r", "\n").splitlines() if ln.strip()]
    assert lines == ["run folder: runs/r1", "training on cpu: synthetic", "loaded 3 of 4 tensors"]
    bar(record("step", step=1, epoch=0.02, loss=2.3, lr=0.1, images_per_s=100.0))
    bar.last_draw = 0.0
    bar(record("step", step=40, epoch=0.8, loss=1.25, lr=0.1, images_per_s=1000.0))
    bar(
        record(
            "epoch",
            epoch=1,
            step=50,
            train_loss=1.0,
            train_acc=0.5,
            val_loss=1.1,
            val_acc=0.55,
            lr=0.1,
            images_per_s=1000.0,
            epoch_time_s=5.0,
            eta_s=5.0,
            gpu_mem_mb=None,
            best=True,
        )
    )
    text = err.getvalue()
    assert "epoch 1/2 [#########" in text and "40%" in text and "loss 1.2500" in text and "ETA" in text
    assert out.getvalue().startswith("epoch 1/2  train loss 1.0000 acc 50.00%  val loss 1.1000 acc 55.00%")
