"""Before and after Start: a rough time estimate for the run, and one-click fixes for a refused start.

No torch here: the estimate comes from the graph's MACs per image (shape inference), the number
of training images of the dataset, and a rough rate for the device; a dataset refusal's message
(training.datasets.check_fit) is read back into the edit that fixes it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

# Rough sustained rates of one training step (forward + backward + update is ~3x the forward MACs),
# from BENCHMARKS.md: resnet20 (41 MMACs) trains at ~550 images/s on 2 CPU threads (~34 GMAC/s per
# core with the backward pass), and at ~61,000 images/s on an H200 (NOTES.md).
CPU_MACS_PER_S_PER_CORE = 30e9
GPU_MACS_PER_S = 5e12
TRAIN_MAC_FACTOR = 3.0
LONG_RUN_S = 300.0  # a run longer than this asks before it starts

# training images per epoch (the validation split of datasets without one comes off these)
DATASET_IMAGES = {
    "mnist": 54_000,
    "fashion_mnist": 54_000,
    "cifar10": 50_000,
    "cifar100": 50_000,
    "cifar100_coarse": 50_000,
}
SYNTH_TRAIN, SYNTH_VAL, SYNTH_MAX_BYTES = 5000, 1000, 128 * 2**20  # as training.datasets.synthetic


def has_gpu() -> bool:
    """An NVIDIA GPU is visible (without importing torch)."""
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def train_images(dataset: str, input_shape) -> int | None:
    """Training images per epoch, or None where it is not known without reading the data. A folder
    is counted (an MNIST folder by its file headers, an image folder by its files): issue 25, a
    3,000-image folder was described as 54,000 images."""
    kind, _sep, where = dataset.partition(":")
    kind = kind or "synthetic"
    if kind == "synthetic":
        per = 1
        for d in input_shape or (3, 32, 32):
            per *= int(d)
        total = SYNTH_TRAIN + SYNTH_VAL
        if total * per > SYNTH_MAX_BYTES:
            return max(2, int(SYNTH_TRAIN * SYNTH_MAX_BYTES / (total * per)))
        return SYNTH_TRAIN
    if where:
        return folder_images(kind, where)
    return DATASET_IMAGES.get(kind)


IMAGE_EXTS = (".png", ".ppm", ".pgm", ".pnm", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
VAL_FRACTION = 0.1  # what training.datasets splits off a folder without its own validation part
_COUNTS: dict[tuple[str, str, float], int | None] = {}


def folder_images(kind: str, where: str) -> int | None:
    """The training images of a dataset folder as the trainer will split it (None: unreadable)."""
    root = os.path.expanduser(where)
    try:
        key = (kind, root, os.stat(root).st_mtime)
    except OSError:
        return None
    if key not in _COUNTS:
        try:
            _COUNTS[key] = _count(kind, root)
        except (OSError, ValueError):
            _COUNTS[key] = None
    return _COUNTS[key]


def _count(kind: str, root: str) -> int | None:
    if kind in ("mnist", "fashion_mnist"):
        train, test = _idx_count(root, "train"), _idx_count(root, "t10k")
        if train and test:
            return train
        n = train or test
        return n - max(1, round(n * VAL_FRACTION)) if n else None
    if kind == "folder":
        subs = {e.name.lower(): e.path for e in os.scandir(root) if e.is_dir()}
        val = next((subs[k] for k in ("val", "valid", "validation", "test") if k in subs), None)
        if "train" in subs and val:
            return _image_files(subs["train"])
        n = _image_files(root)
        return n - max(1, round(n * VAL_FRACTION)) if n else None
    return DATASET_IMAGES.get(kind)  # CIFAR folders hold the standard 50,000


def _idx_count(root: str, prefix: str) -> int | None:
    import glob
    import gzip
    import struct

    for pat in (f"{prefix}-images-idx*-ubyte", f"{prefix}-images.idx*-ubyte"):
        for path in sorted(glob.glob(os.path.join(root, pat)) + glob.glob(os.path.join(root, pat + ".gz"))):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                head = f.read(8)
            if len(head) == 8 and head[:2] == b"\0\0":
                return struct.unpack(">I", head[4:8])[0]
    return None


def _image_files(folder: str) -> int:
    n = 0
    for cls in os.scandir(folder):
        if cls.is_dir() and not cls.name.startswith("."):
            n += sum(1 for f in os.scandir(cls.path) if f.is_file() and f.name.lower().endswith(IMAGE_EXTS))
    return n


@dataclass
class Estimate:
    seconds: float
    device: str  # "the CPU" / "the GPU"
    images: int
    epochs: int
    measured: bool = False  # from a run of this session on this device, not the built-in rate
    basis: str = ""  # whose measured speed: "this network" or "a network of similar size"

    def per_epoch(self) -> float:
        return self.seconds / max(self.epochs, 1)

    def epochs_within(self, limit_s: float) -> int:
        return max(1, int(limit_s // max(self.per_epoch(), 1e-9)))


# Rates measured by runs of this session: ("cpu" | "gpu") -> [(MACs per image, MACs per second)]. A
# rate is used only for a network of about the same size (issue 25: a tiny network's rate, bound by
# data loading, made ResNet-20's estimate 2 min 53 s for a 15 s run).
MEASURED: dict[str, list[tuple[int, float]]] = {}
SIMILAR = 2.0  # a measured rate stands for networks within this factor of its MACs


def record_rate(device: str, images_per_s: float, macs: int) -> None:
    """Remember a run's training rate (``device`` as the run reports it: "cpu", "cuda:0", ...)."""
    if images_per_s and macs and images_per_s > 0:
        rates = MEASURED.setdefault("gpu" if device.startswith("cuda") else "cpu", [])
        rates[:] = [r for r in rates if r[0] != macs] + [(int(macs), images_per_s * macs * TRAIN_MAC_FACTOR)]


def measured_rate(kind: str, macs: int) -> tuple[float, bool] | None:
    """(MACs per second, same network) of the measured run nearest in size, within SIMILAR."""
    best = None
    for m, rate in MEASURED.get(kind, []):
        ratio = max(m, macs) / max(min(m, macs), 1)
        if ratio <= SIMILAR and (best is None or ratio < best[0]):
            best = (ratio, rate, m == macs)
    return (best[1], best[2]) if best else None


def estimate(macs: int, dataset: str, input_shape, epochs: int, device: str) -> Estimate | None:
    images = train_images(dataset, input_shape)
    if not macs or images is None:
        return None
    gpu = device == "cuda" or (device == "auto" and has_gpu())
    measured = measured_rate("gpu" if gpu else "cpu", macs)
    rate = (
        measured[0]
        if measured
        else (GPU_MACS_PER_S if gpu else CPU_MACS_PER_S_PER_CORE * max(1, os.cpu_count() or 1))
    )
    seconds = epochs * images * macs * TRAIN_MAC_FACTOR / rate
    basis = "" if measured is None else ("this network" if measured[1] else "a network of similar size")
    return Estimate(seconds, "the GPU" if gpu else "the CPU", images, epochs, measured is not None, basis)


def format_duration(seconds: float) -> str:
    s = max(1, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" if s >= 600 else f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


# ----- fixes for a refused start -------------------------------------------------------------
@dataclass
class StartFix:
    label: str  # the button: "Set input to 1x28x28"
    kind: str  # "input" | "classes"
    value: object  # [c, h, w] or an int


_SHAPE = re.compile(r"images are (\d+)x(\d+)x(\d+) but the project's input is")
_CLASSES = re.compile(r"has (\d+) classes but the project's output has (\d+)")


def fixes_for(message: str) -> list[StartFix]:
    """The one-click fixes for a training refusal's message (training.datasets.check_fit)."""
    m = _SHAPE.search(message)
    if m:
        c, h, w = (int(v) for v in m.groups())
        return [StartFix(f"Set input to {c}x{h}x{w}", "input", [c, h, w])]
    m = _CLASSES.search(message)
    if m:
        n = int(m.group(1))
        return [StartFix(f"Set classes to {n}", "classes", n)]
    return []


def plain_reason(message: str) -> str:
    """The refusal without its command-line advice (the editor offers a button instead)."""
    for cut in ("; create the project with", "; set it with --input"):
        if cut in message:
            return message.split(cut)[0] + "."
    return message


def fix_edit(project, fix: StartFix):
    """(edit, label) that applies ``fix`` to ``project``; None where the project has no such node."""
    from graph import edits as E
    from graph.templates.common import head_linear

    if fix.kind == "input":
        inputs = project.graph.nodes_of_type("Input")
        if not inputs:
            return None
        shape = "x".join(str(v) for v in fix.value)
        return E.SetParam(None, inputs[0].id, "shape", list(fix.value)), f"Set input shape to {shape}"
    fc = head_linear(project)
    if fc is None:
        return None
    return E.SetParam(None, fc.id, "out_features", int(fix.value)), f"Set classes to {fix.value}"
