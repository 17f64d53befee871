"""GPU training throughput: plain fp32 eager against the fast path, for a GPU session.

For resnet20 and resnet56 (the templates, built from generated code) at batch
128 and 512, on 50,000 random uint8 CIFAR-sized images resident on the GPU,
each step gathers a batch through an on-device permutation and augments it
(pad 4 + random crop + flip, training/augment.py), then either

- eager: fp32, contiguous, ``SGD(momentum=0.9)`` with a float learning rate, or
- fast: training/fastpath.py's ``GraphStep`` - bf16 autocast, channels_last,
  ``SGD(fused=True)`` reading a device-tensor learning rate written by
  ``LrWriter`` each step, the whole step replayed as one CUDA graph, the loss
  read back every 100 steps.

Prints images/s for each and the speed-up. ``--check`` also trains resnet20 on
the synthetic dataset for a few epochs through ``engine.train`` with the fast
path on and off, printing the status messages (did the capture succeed or fall
back?), accuracy and images/s of each, so that the engine's own use of the fast
path is verified, not only this script's.

For a GPU session, one command (about 3-5 minutes on an H100/H200, most of it
the --check trainings; results are printed as they come, so a cut-off run
still leaves the table so far):

    python bench/bench_gpu_train.py --check

    python bench/bench_gpu_train.py [--models resnet20,resnet56] [--batches 128,512] [--steps 200] [--check]
    python bench/bench_gpu_train.py --smoke     # CPU, seconds: the script and the engine calls still work

``--smoke`` runs the same code on the CPU with tiny sizes (eager only: the
fast path needs CUDA) and the --check trainings on a 1x8x8 synthetic set, so
that this script is known not to be broken before a GPU session spends its
minutes on it (tests/training/test_bench_smoke.py runs it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F

from training import augment
from training.config import TrainConfig
from training.engine import make_optimizer
from training.schedule import LrWriter

N_IMAGES = 50_000
MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]


def _model(name: str, dev: torch.device, channels_last: bool):
    from codegen.build import build_module
    from graph.templates import make

    torch.manual_seed(0)
    m = build_module(make(name)).to(dev)
    return m.to(memory_format=torch.channels_last) if channels_last else m


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


SMOKE = False  # --smoke: tiny sizes on the CPU


def run(name: str, batch: int, steps: int, dev: torch.device, fast: bool) -> float:
    cfg = TrainConfig(
        epochs=1, batch_size=batch, lr=0.1, momentum=0.9, weight_decay=5e-4, schedule="onecycle"
    )
    data = torch.randint(0, 256, (N_IMAGES, 3, 32, 32), dtype=torch.uint8, device=dev)
    labels = torch.randint(0, 10, (N_IMAGES,), device=dev)
    mean = torch.tensor(MEAN, device=dev)
    std = torch.tensor(STD, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    spe = N_IMAGES // batch
    model = _model(name, dev, channels_last=fast)
    model.train()
    if fast:
        from training.fastpath import GraphStep

        lr_t = torch.tensor(0.1, device=dev)
        opt = make_optimizer(model, cfg, lr_tensor=lr_t, fused=True)
        step_fn = GraphStep(model, opt, torch.nn.CrossEntropyLoss(), (batch, 3, 32, 32), True, True, dev)
        lrw = LrWriter(opt, cfg, spe, lr_tensor=lr_t)
    else:
        opt = make_optimizer(model, cfg)
        lrw = LrWriter(opt, cfg, spe)

        def step_fn(x, y):
            out = model(x)
            loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach(), None

    perm = torch.randperm(N_IMAGES, generator=gen, device=dev)
    warm = 2 if SMOKE else 20
    last_loss = None
    t0 = None
    for i in range(warm + steps):
        if i == warm:
            _sync(dev)
            t0 = time.perf_counter()
        j = i % spe
        if j == 0 and i:
            perm = torch.randperm(N_IMAGES, generator=gen, device=dev)
        idx = perm[j * batch : (j + 1) * batch]
        x = augment.augment_batch(data.index_select(0, idx), mean, std, "crop_flip", gen)
        y = labels.index_select(0, idx)
        lrw.set(i % spe)
        loss, _ = step_fn(x, y)
        if (i + 1) % 100 == 0:
            last_loss = float(loss)
            if not torch.isfinite(torch.tensor(last_loss)):
                raise RuntimeError(f"{name} batch {batch}: loss is NaN at step {i + 1}")
    _sync(dev)
    ips = steps * batch / (time.perf_counter() - t0)
    if last_loss is None:
        last_loss = float(loss)
    return ips


def _project(name: str):
    from graph.templates import make

    return make(name)


_SMOKE_DATA: list[str] = []  # --smoke: a 64-image fabricated CIFAR batch instead of the synthetic 5,000


def _data() -> dict:
    if not SMOKE:
        return {}
    if not _SMOKE_DATA:
        import atexit
        import shutil

        top = tempfile.mkdtemp(prefix="skipwire-smoke-")
        atexit.register(shutil.rmtree, top, True)
        d = Path(top) / "cifar"
        _fake_cifar_bin(d, 64)
        _SMOKE_DATA.append(f"cifar10:{d}")
    return {"dataset": _SMOKE_DATA[0]}


def _sizes(batch: int) -> dict:
    return {"batch_size": 16 if SMOKE else batch, "threads": 1 if SMOKE else 0, **_data()}


def check(dev: torch.device, epochs: int) -> None:
    from training.engine import train

    print(
        f"\nengine.train check: resnet20 on {_data().get('dataset', 'synthetic')}, {epochs} epochs, "
        f"batch {_sizes(512)['batch_size']}, one-cycle"
    )
    for label, kw in (
        ("fast path", {"fast_path": True, "amp": True, "channels_last": True}),
        ("eager bf16", {"fast_path": False, "amp": True, "channels_last": True}),
        ("eager fp32", {"fast_path": False, "amp": False, "channels_last": False}),
    ):
        cfg = TrainConfig(
            epochs=epochs,
            lr=0.4,
            schedule="onecycle",
            nesterov=True,
            weight_decay=5e-4,
            label_smoothing=0.1,
            device=dev.type,
            grad_every=0,
            **_sizes(512),
            **kw,
        )
        notes: list[str] = []

        def keep(m: dict, notes: list[str] = notes) -> None:
            if m["kind"] in ("status", "error") and m.get("state") in (
                "fast_path",
                "eager",
                "diverged",
                None,
            ):
                notes.append(m["message"])

        with tempfile.TemporaryDirectory() as tmp:
            r = train(_project("resnet20"), cfg, Path(tmp) / "run", on_metric=keep)
        ips = [h["images_per_s"] for h in r.history]
        print(
            f"  {label:10s}: status {r.status}, fast path used: {r.fast_path}, val acc "
            f"{r.last_val_acc if r.last_val_acc is None else f'{r.last_val_acc:.2%}'}, images/s by epoch "
            f"{[round(v) for v in ips]}; {'; '.join(notes) or ''}"
        )


def _fake_cifar_bin(folder: Path, n: int) -> None:
    """A CIFAR-10 binary batch of ``n`` random images (the real loader and augmentation, no download)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rec = rng.integers(0, 256, (n, 3073), dtype=np.uint8)
    rec[:, 0] %= 10
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data_batch_1.bin").write_bytes(rec.tobytes())
    (folder / "test_batch.bin").write_bytes(rec[:1000].tobytes())


def check_engine_throughput(dev: torch.device, batch: int = 128, epochs: int = 3) -> None:
    """The goal of issue 5: Skipwire's own trainer (engine.train, cifar10:DIR loader, augmentation on
    the device, fast path) at 60,000+ images/s for resnet20 at batch 128. 50,000 CIFAR-sized images;
    the first epoch includes the capture, so look at the later ones."""
    from graph.templates import make
    from training.engine import train

    n = 64 if SMOKE else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        _fake_cifar_bin(Path(tmp) / "cifar", n)
        for label, kw in (
            ("fast path", {"fast_path": True, "amp": True, "channels_last": True}),
            ("eager fp32", {"fast_path": False, "amp": False, "channels_last": False}),
        ):
            sizes = {**_sizes(batch), "dataset": f"cifar10:{Path(tmp) / 'cifar'}"}
            cfg = TrainConfig(
                epochs=1 if SMOKE else epochs,
                lr=0.1,
                schedule="step",
                device=dev.type,
                grad_every=0,
                **sizes,
                **kw,
            )
            notes: list[str] = []

            def keep(m: dict, notes: list[str] = notes) -> None:
                if m["kind"] == "status" and m.get("state") in ("fast_path", "eager"):
                    notes.append(m["message"])

            r = train(make("resnet20"), cfg, Path(tmp) / label.replace(" ", "_"), on_metric=keep)
            ips = [round(h["images_per_s"]) for h in r.history]
            print(
                f"engine.train resnet20, cifar10:DIR ({n:,} images), batch {cfg.batch_size}, {label}: "
                f"images/s by epoch {ips}; fast path used: {r.fast_path}; {'; '.join(notes)}",
                flush=True,
            )


def check_resume_and_nan(dev: torch.device) -> None:
    """On the fast path: stop in the middle of the second epoch, resume, compare with an uninterrupted
    run (docs/architecture.md: within tolerance on CUDA, bitwise on the CPU); then a learning rate that must
    diverge (the NaN check every 100 steps and the roll-back)."""
    from safetensors.torch import load_file

    from training.engine import resume, train

    cfg = TrainConfig(epochs=2, lr=0.1, schedule="onecycle", device=dev.type, grad_every=0, **_sizes(128))
    with tempfile.TemporaryDirectory() as tmp:
        full = train(_project("resnet20"), cfg, Path(tmp) / "full")
        spe = full.steps_done // 2
        calls = []

        def stop() -> bool:  # asked once before every step: stop in the middle of the second epoch
            calls.append(1)
            return len(calls) > spe + max(1, spe // 2)

        part = train(_project("resnet20"), cfg, Path(tmp) / "part", should_stop=stop)
        again = resume(Path(tmp) / "part")
        a = load_file(str(Path(tmp) / "full" / "last.safetensors"))
        b = load_file(str(Path(tmp) / "part" / "last.safetensors"))
        diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].is_floating_point())
        same = all(torch.equal(a[k], b[k]) for k in a)
        print(
            f"\nresume on {dev.type} (fast path {full.fast_path}): stopped '{part.message}'; resumed "
            f"{again.status}; "
            f"val acc uninterrupted {full.last_val_acc:.2%} vs resumed {again.last_val_acc:.2%}; "
            f"max weight difference {diff:.3g}{' (bitwise identical)' if same else ''}"
        )
        bad = cfg.with_overrides(lr=1e4, schedule="constant", epochs=1)
        r = train(_project("resnet20"), bad, Path(tmp) / "nan")
        print(f"lr 1e4: status {r.status}; {r.message}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet20,resnet56")
    ap.add_argument("--batches", default="128,512")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--check-epochs", type=int, default=4)
    ap.add_argument(
        "--smoke", action="store_true", help="CPU, tiny sizes, --check included: is the script intact?"
    )
    args = ap.parse_args()
    if args.smoke:
        global SMOKE
        SMOKE = True
        args.device, args.steps, args.batches, args.models = "cpu", 2, "8", "resnet20"
        args.check, args.check_epochs = True, 1
        torch.set_num_threads(1)
    dev = torch.device(args.device)
    torch.backends.cudnn.benchmark = True  # as the engine does on CUDA (fixed batch shapes)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here; run with --device cpu for a smoke test of the eager path")
        return 2
    global N_IMAGES
    if dev.type != "cuda":
        N_IMAGES = 64 if SMOKE else 2_000
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    print(
        f"device: {name}; torch {torch.__version__}; {args.steps} timed steps after {2 if SMOKE else 20} "
        f"warm-up steps"
    )
    print(f"{'model':10s} {'batch':>5s} {'fp32 eager img/s':>17s} {'fast path img/s':>16s} {'speed-up':>9s}")
    for m in args.models.split(","):
        for b in (int(v) for v in args.batches.split(",")):
            eager = run(m, b, args.steps, dev, fast=False)
            if dev.type == "cuda":
                try:
                    fast = run(m, b, args.steps, dev, fast=True)
                    fs, sp = f"{fast:16,.0f}", f"{fast / eager:8.2f}x"
                except Exception as exc:  # noqa: BLE001 - report and go on
                    fs, sp = "failed", f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
            else:
                fs, sp = "n/a (CPU)", ""
            print(f"{m:10s} {b:5d} {eager:17,.0f} {fs:>16s} {sp:>9s}", flush=True)
    if args.check:
        check_engine_throughput(dev)
        check(dev, args.check_epochs)
        check_resume_and_nan(dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
