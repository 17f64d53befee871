"""`main.py train` under torchrun on the CPU (2 gloo processes) against its exact reference.

DDP without SyncBatchNorm computes, per step: each rank's loss on its half of the global batch with
BatchNorm over that half, the average of the two halves' gradients, one optimizer step; BatchNorm's
running statistics are rank 0's (DDP broadcasts rank 0's buffers before each forward). The
reference below computes exactly that in one process from the same seeded streams (the engine
draws the batch order and the augmentation for the whole global batch on every rank), then
continues with whole batches, which is what a 2-process checkpoint resumed in 1 process trains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import tiny_resnet

from training import augment, datasets, engine, placement
from training.config import TrainConfig
from training.metrics import read_metrics
from training.modelsrc import model_source, module_from_source
from training.optim import make_optimizer
from training.rng import seed_all
from training.schedule import lr_at

ROOT = Path(__file__).resolve().parents[2]
SHAPE, CLASSES, BATCH, SEED = (1, 12, 12), 4, 128, 3


def torchrun(nproc: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return subprocess.run(
        [*cmd, str(ROOT / "main.py"), *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def reference(project, cfg: TrainConfig, halves_per_epoch: list[int], schedule_cfg: list[TrainConfig]):
    """Step losses and the weights after each epoch, with ``halves`` slices of each batch per epoch and
    that epoch's schedule (a resume with more epochs stretches the schedule from there on)."""
    torch.set_num_threads(1)
    seed_all(cfg.seed)
    model = module_from_source(*model_source(project))
    data = datasets.load(cfg.dataset, SHAPE, CLASSES, cfg.val_fraction)
    placed = placement.place(data, cfg, torch.device("cpu"))
    mode = augment.resolve_mode(cfg.augment, data.spec.kind)
    opt = make_optimizer(model, cfg)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    n = len(placed.train_y)
    spe = n // BATCH
    losses, weights, step = [], [], 0
    model.train()
    for halves, sched in zip(halves_per_epoch, schedule_cfg, strict=True):
        perm = torch.randperm(n, generator=placed.gens["order"])
        for i in range(spe):
            idx = perm[i * BATCH : (i + 1) * BATCH]
            x = augment.augment_batch(
                placed.train_x[idx], placed.mean, placed.std, mode, placed.gens["augment"]
            )
            y = placed.train_y[idx]
            for g in opt.param_groups:
                g["lr"] = lr_at(step, sched, spe)
            opt.zero_grad(set_to_none=True)
            part, step_losses, rank0_buffers = BATCH // halves, [], None
            for h in range(halves):
                loss = criterion(model(x[h * part : (h + 1) * part]), y[h * part : (h + 1) * part])
                (loss / halves).backward()
                step_losses.append(float(loss.detach()))
                if h == 0:
                    rank0_buffers = {k: b.clone() for k, b in model.named_buffers()}
            with torch.no_grad():  # the running statistics DDP keeps: rank 0's
                for k, b in model.named_buffers():
                    b.copy_(rank0_buffers[k])
            opt.step()
            losses.append(sum(step_losses) / halves)
            step += 1
        weights.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return losses, weights


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    project = tiny_resnet(SHAPE, classes=CLASSES, width=4)
    (tmp / "tiny.json").write_text(json.dumps(project.to_dict()))
    args = ["train", "tiny.json", "--device", "cpu", "--epochs", "2", "--batch-size", str(BATCH)]
    res = torchrun(2, *args, "--seed", str(SEED), "--lr", "0.05", "--out", "runs", cwd=tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = (tmp / "runs").iterdir()
    return project, run, res


def test_two_gloo_processes_match_the_averaged_halves_reference(two_process_run):
    project, run, res = two_process_run
    assert res.stderr.count("finished 2 epochs") == 1  # rank 0 alone reports
    cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    assert cfg.batch_size == BATCH and json.loads((run / "run.json").read_text())["processes"] == 2
    recs = read_metrics(run / "metrics.jsonl")
    got = [r["loss"] for r in recs if r["kind"] == "step"]
    want, weights = reference(project, cfg, [2, 2], [cfg, cfg])
    assert len(got) == len(want) == 2 * (5000 // BATCH) >= 50
    assert got == pytest.approx(want, rel=1e-4, abs=1e-5)
    final = load_file(run / "last.safetensors")
    for k, v in weights[-1].items():
        torch.testing.assert_close(final[k], v, rtol=1e-3, atol=1e-4, msg=k)


def test_a_two_process_checkpoint_resumes_in_one_process(two_process_run):
    project, run, _ = two_process_run
    result = engine.resume(run, epochs=3, device="cpu")
    assert result.status == "completed" and result.epochs_done == 3
    cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    longer = cfg.with_overrides(epochs=3)
    want, weights = reference(project, cfg, [2, 2, 1], [cfg, cfg, longer])
    got = [r["loss"] for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "step"]
    assert got[-(5000 // BATCH) :] == pytest.approx(want[-(5000 // BATCH) :], rel=1e-4, abs=1e-5)
    final = load_file(run / "last.safetensors")
    for k, v in weights[-1].items():
        torch.testing.assert_close(final[k], v, rtol=1e-3, atol=1e-4, msg=k)
