"""codegen/train_script.py, the exported training script's source, agrees with training/: the lr schedule
step by step over every preset, the optimizer, the dataset readers and the defaults."""

from __future__ import annotations

import gzip
import struct
import sys

import pytest
import torch
from torch import nn

import codegen.train_script as script
from codegen.script_template import render_script, template_source
from graph.training_defaults import TRAINING_DEFAULTS, resolved
from training import datasets
from training.config import PRESETS, TrainConfig, apply_preset
from training.engine import make_optimizer
from training.schedule import lr_at


def _configs() -> list[TrainConfig]:
    base = TrainConfig()
    out = [base, *(apply_preset(base, name) for name in PRESETS)]
    for schedule in ("step", "cosine", "onecycle", "constant"):
        for warmup in (0, 0.5, 2):
            out.append(base.with_overrides(schedule=schedule, warmup_epochs=warmup))
    out.append(base.with_overrides(milestones=[0.0, 0.3, 1.0], gamma=0.5))
    out.append(base.with_overrides(milestones=[0.01, 0.02], gamma=0.2))
    return out


def _settings(cfg: TrainConfig) -> dict:
    """What the exporter writes into the script for a project whose training section is ``cfg``."""
    return resolved(cfg.to_project_training())


@pytest.mark.parametrize(
    "cfg", _configs(), ids=lambda c: f"{c.preset or 'default'}-{c.schedule}-{c.warmup_epochs}"
)
def test_script_schedule_matches_the_trainer_step_by_step(cfg):
    t = _settings(cfg)
    for epochs, steps_per_epoch in ((1, 1), (1, 3), (2, 1), (3, 7), (10, 13)):
        cfg_e = cfg.with_overrides(epochs=epochs)
        total = epochs * steps_per_epoch
        for step in range(-1, total + 2):
            want = lr_at(step, cfg_e, steps_per_epoch)
            got = script.lr_at(step, total, steps_per_epoch, float(cfg.lr), t)
            assert got == pytest.approx(want, rel=1e-12, abs=0), (epochs, steps_per_epoch, step)


def test_a_one_step_run_starts_undecayed_in_both():
    """The disagreement this test was written for: the script decayed at step 0 of a 1-step run."""
    cfg = TrainConfig().with_overrides(epochs=1)
    assert lr_at(0, cfg, 1) == 0.1
    assert script.lr_at(0, 1, 1, 0.1, _settings(cfg)) == 0.1


@pytest.mark.parametrize(
    "cfg",
    _configs()[:3] + [TrainConfig(optimizer="adamw", lr=1e-3)],
    ids=lambda c: f"{c.preset or 'default'}-{c.optimizer}",
)
def test_script_optimizer_matches_the_trainer(cfg):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model[1].requires_grad_(False)
    ours = make_optimizer(model, cfg)
    theirs = script.make_optimizer(model, float(cfg.lr), _settings(cfg))
    assert type(ours) is type(theirs)
    keys = ("momentum", "weight_decay", "nesterov", "betas")  # both set "lr" before every step
    (a,), (b,) = ours.param_groups, theirs.param_groups
    assert {k: a.get(k) for k in keys} == {k: b.get(k) for k in keys}
    assert [p.data_ptr() for p in a["params"]] == [p.data_ptr() for p in b["params"]]


def test_defaults_are_defined_once():
    cfg = TrainConfig()
    for key, value in TRAINING_DEFAULTS.items():
        got = getattr(cfg, key)
        assert (list(got) if isinstance(got, (list, tuple)) else got) == (
            list(value) if isinstance(value, tuple) else value
        ), key
    assert resolved(None) == resolved(cfg.to_project_training()) | {"val_fraction": cfg.val_fraction}
    assert "t.get(" not in template_source()  # the script holds no defaults of its own


# ------------------------------------------------------------------ dataset readers
def _idx(data: torch.Tensor) -> bytes:
    dims = tuple(data.shape)
    return (
        bytes([0, 0, 8, len(dims)])
        + struct.pack(">" + "I" * len(dims), *dims)
        + bytes(data.flatten().tolist())
    )


def _same(a, b) -> None:
    assert len(a) == len(b) == 4
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and torch.equal(x, y)


@pytest.fixture
def val_fraction(monkeypatch):
    monkeypatch.setattr(script, "SETTINGS", dict(script.SETTINGS, training=resolved({"val_fraction": 0.2})))
    return 0.2


@pytest.mark.parametrize("parts", [("train",), ("train", "t10k")])
def test_script_reads_mnist_as_the_trainer_does(tmp_path, val_fraction, parts):
    g = torch.Generator().manual_seed(1)
    for prefix in parts:
        n = 23 if prefix == "train" else 7
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8)
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(labels))
    ds = datasets.load_mnist(tmp_path, val_fraction)
    _same(script.mnist(tmp_path), (ds.train_x, ds.train_y, ds.val_x, ds.val_y))


@pytest.mark.parametrize("with_test", [False, True])
def test_script_reads_cifar10_as_the_trainer_does(tmp_path, val_fraction, with_test):
    g = torch.Generator().manual_seed(2)

    def batch(n: int) -> bytes:
        labels = torch.randint(0, 10, (n, 1), generator=g, dtype=torch.uint8)
        pixels = torch.randint(0, 256, (n, 3072), generator=g, dtype=torch.uint8)
        return bytes(torch.cat([labels, pixels], 1).flatten().tolist())

    root = tmp_path / "cifar-10-batches-bin"
    root.mkdir()
    (root / "data_batch_1.bin").write_bytes(batch(9))
    (root / "data_batch_2.bin").write_bytes(batch(8))
    if with_test:
        (root / "test_batch.bin").write_bytes(batch(5))
    ds = datasets.load_cifar10(tmp_path, val_fraction)
    _same(script.cifar10(tmp_path), (ds.train_x, ds.train_y, ds.val_x, ds.val_y))


def test_the_template_is_filled_in_completely():
    text = render_script("class Net(nn.Module):\n    pass\n", "Net", {"name": "N", "training": {}})
    assert "Skipwire template" not in text and "MODEL_CLASS = Net" in text
    assert "(the generated model classes)" not in text
    compile(text, "train.py", "exec")


@pytest.mark.parametrize("layout", ["flat", "train_val"])
@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 6, 10)])
def test_script_reads_image_folders_as_the_trainer_does(tmp_path, val_fraction, layout, shape):
    """Same files, same classes, same pixels: channel conversion and the antialiased bilinear resize agree."""
    image = pytest.importorskip("PIL.Image")
    g = torch.Generator().manual_seed(3)
    parts = ["train", "val"] if layout == "train_val" else ["."]
    modes = ["RGB", "L", "RGBA", "P"]
    for part in parts:
        for k, cls in enumerate(("cat", "dog", "eel")):
            d = tmp_path / part / cls
            d.mkdir(parents=True)
            for i in range(3):
                h, w = 5 + 3 * i, 7 + 2 * k
                pixels = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
                im = image.fromarray(pixels.numpy(), "RGB").convert(modes[(i + k) % len(modes)])
                im.save(d / f"{i}.png")
            (d / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    ds = datasets.load_folder(tmp_path, shape, val_fraction)
    _same(script.folder(tmp_path, shape), (ds.train_x, ds.train_y, ds.val_x, ds.val_y))


def test_script_folder_without_pillow_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL raises ImportError
    (tmp_path / "cat").mkdir()
    with pytest.raises(SystemExit) as info:
        script.folder(tmp_path, (3, 8, 8))
    assert info.value.code == 2 and "need Pillow" in capsys.readouterr().err
