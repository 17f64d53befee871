"""Schedules (pure functions of the step, written into param groups or a device tensor),
the batch augmentation, and the fast path's warm-up restore, all on CPU."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

from training import augment
from training.config import PRESETS, TrainConfig, apply_preset, find_preset
from training.fastpath import restore
from training.schedule import LrWriter, lr_at


def test_step_schedule_milestones_and_warmup():
    cfg = TrainConfig(epochs=10, lr=0.1, schedule="step", milestones=[0.5, 0.75], gamma=0.1)
    spe = 10
    assert lr_at(0, cfg, spe) == 0.1 and lr_at(49, cfg, spe) == 0.1
    assert lr_at(50, cfg, spe) == pytest.approx(0.01) and lr_at(75, cfg, spe) == pytest.approx(0.001)
    one = cfg.with_overrides(epochs=1)  # a one-step run: a 50% milestone must not decay its first step
    assert lr_at(0, one, 1) == 0.1
    warm = cfg.with_overrides(warmup_epochs=1)
    assert [round(lr_at(s, warm, spe), 6) for s in (0, 4, 9, 10)] == [
        round(0.1 / 11, 6),
        round(0.5 / 11, 6),
        round(1 / 11, 6),
        0.1,
    ]


def test_cosine_and_onecycle_shapes():
    cfg = TrainConfig(epochs=4, lr=1.0, schedule="cosine")
    lrs = [lr_at(s, cfg, 25) for s in range(100)]
    assert lrs[0] == 1.0 and lrs[-1] < 0.01 and all(a >= b for a, b in itertools.pairwise(lrs))
    one = TrainConfig(epochs=4, lr=1.0, schedule="onecycle", pct_start=0.3)
    lrs = [lr_at(s, one, 25) for s in range(100)]
    peak = max(range(100), key=lambda i: lrs[i])
    assert peak == 30 and lrs[0] == pytest.approx(1 / 25) and lrs[-1] < 1e-4


def test_presets():
    cfg = apply_preset(TrainConfig(), "resnet paper (cifar)")
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size) == (
        "sgd",
        0.1,
        0.9,
        1e-4,
        128,
    )
    assert cfg.milestones == [0.5, 0.75] and cfg.gamma == 0.1 and cfg.preset == "ResNet paper (CIFAR)"
    # "auto": crop + flip on CIFAR, but a preset must never mirror MNIST digits
    assert all(PRESETS[p]["augment"] == "auto" for p in PRESETS)
    assert find_preset("FAST") == "Fast" and set(PRESETS) == {"ResNet paper (CIFAR)", "Fast"}
    from graph.errors import UserError

    with pytest.raises(UserError, match="unknown preset"):
        find_preset("slow")
    # what users type on the command line
    for typed in (
        "ResNet paper (CIFAR)",
        "resnet-paper",
        "ResNet paper CIFAR",
        "paper",
        "cifar10",
        "he2016",
        "res",
    ):
        assert find_preset(typed) == "ResNet paper (CIFAR)", typed
    for typed in ("fast", "Fast ", "f"):
        assert find_preset(typed) == "Fast", typed
    with pytest.raises(UserError, match="unknown preset"):
        find_preset("")


def test_config_round_trip_from_project_training():
    from graph.model import DEFAULT_TRAINING

    cfg = TrainConfig.from_project(DEFAULT_TRAINING)
    assert cfg.optimizer == "sgd" and cfg.lr == 0.1 and cfg.milestones == [0.5, 0.75]
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig.from_project(cfg.to_project_training()) == cfg


def test_lr_writer_device_tensor_matches_float_lr():
    """The fast path's rate lives in one tensor read by fused SGD; it must train exactly like floats."""
    cfg = TrainConfig(epochs=2, lr=0.5, schedule="onecycle", momentum=0.9, weight_decay=1e-3, nesterov=True)
    torch.manual_seed(0)
    a = torch.nn.Linear(5, 3)
    b = copy.deepcopy(a)
    lr_t = torch.tensor(0.0)
    oa = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    ob = torch.optim.SGD(b.parameters(), lr=lr_t, momentum=0.9, weight_decay=1e-3, nesterov=True, fused=True)
    wa, wb = LrWriter(oa, cfg, 5), LrWriter(ob, cfg, 5, lr_tensor=lr_t)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    for step in range(10):
        la, lb = wa.set(step), wb.set(step)
        assert la == lb and float(lr_t) == pytest.approx(la) and ob.param_groups[0]["lr"] is lr_t
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            torch.nn.functional.cross_entropy(m(x), y).backward()
            o.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _reference_crop_flip(x, pad, oy, ox, mirror):
    xp = torch.nn.functional.pad(x, (pad,) * 4)
    h, w = x.shape[2:]
    out = []
    for i in range(len(x)):
        crop = xp[i, :, oy[i] : oy[i] + h, ox[i] : ox[i] + w]
        out.append(crop.flip(2) if mirror[i] else crop)
    return torch.stack(out)


@pytest.mark.parametrize("flip", [False, True])
def test_crop_flip_matches_per_sample_slicing(flip):
    x = torch.randn(16, 3, 9, 7)
    g = torch.Generator().manual_seed(3)
    got = augment.crop_flip(x, 4, flip, g)
    g = torch.Generator().manual_seed(3)  # replay the same draws, in the same order
    oy = torch.randint(0, 9, (16, 1), generator=g).view(-1).tolist()
    ox = torch.randint(0, 9, (16, 1), generator=g).view(-1).tolist()
    mirror = (torch.rand((16, 1), generator=g) < 0.5).view(-1).tolist() if flip else [False] * 16
    assert torch.equal(got, _reference_crop_flip(x, 4, oy, ox, mirror))
    assert flip is False or 0 < sum(mirror) < 16


def test_augment_batch_normalises_and_is_reproducible():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.25, 0.3])
    plain = augment.augment_batch(x, mean, std, "none", None)
    torch.testing.assert_close(plain, (x.float() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    a = augment.augment_batch(x, mean, std, "crop_flip", torch.Generator().manual_seed(1))
    b = augment.augment_batch(x, mean, std, "crop_flip", torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert (
        augment.resolve_mode("auto", "mnist") == "crop"
        and augment.resolve_mode("auto", "cifar10") == "crop_flip"
    )


@pytest.mark.parametrize("opt_name", ["sgd", "adamw"])
def test_warmup_restore_gives_a_fresh_first_step(opt_name):
    """GraphStep warms up with real steps, then restores; the first real step must equal a fresh one."""

    def make():
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.BatchNorm1d(6), torch.nn.Linear(6, 2))
        o = (
            torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
            if opt_name == "sgd"
            else torch.optim.AdamW(m.parameters(), lr=0.01)
        )
        return m, o

    x, y = torch.randn(8, 6), torch.randint(0, 2, (8,))

    def step(m, o):
        o.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x), y).backward()
        o.step()

    fresh_m, fresh_o = make()
    step(fresh_m, fresh_o)
    m, o = make()
    snap = {k: v.clone() for k, v in m.state_dict().items()}
    osnap = {p: {k: v.clone() for k, v in s.items()} for p, s in o.state.items()}
    for _ in range(3):
        step(m, o)
    restore(m, o, snap, osnap)
    step(m, o)
    for (k, a), b in zip(fresh_m.state_dict().items(), m.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    assert math.isfinite(float(next(m.parameters()).detach().sum()))


def test_one_list_of_project_keys_and_a_new_project_leaves_out_adam_and_one_cycle_settings():
    """graph/training_defaults.py lists the keys a project file holds once (issue 23); a new project's
    file leaves out betas and pct_start, which only AdamW and the one-cycle schedule read."""
    from graph.training_defaults import NEW_PROJECT_KEYS, PROJECT_KEYS, new_project_training
    from training.config import TrainConfig

    assert [k for k in PROJECT_KEYS if k not in NEW_PROJECT_KEYS] == ["betas", "pct_start"]
    written = TrainConfig().to_project_training()
    assert "betas" in written["optimizer"] and "pct_start" in written["schedule"]
    fresh = new_project_training()
    assert "betas" not in fresh["optimizer"] and "pct_start" not in fresh["schedule"]
