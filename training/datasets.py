"""Datasets: parse a spec, load it into uint8 tensors, check it against the project.

Specs (README.md "Training"): ``synthetic`` (the default; generated, deterministic, no
download; follows the project's input shape and class count), ``mnist:DIR``
and ``fashion_mnist:DIR`` (IDX files, gzipped or not), ``cifar10:DIR`` (the
binary version, or the python version read through a restricted unpickler),
``cifar100:DIR`` (binary records of 3,074 bytes: coarse label, fine label,
image; the fine labels, or the 20 coarse ones with ``cifar100_coarse``),
``folder:DIR`` (one sub-folder per class; images resized to the input and
converted to its channel count). ``cifar10``, ``cifar100``, ``mnist`` and
``fashion_mnist`` without a folder use the download cache
(:mod:`training.download`), fetching into it first if needed.

``load(spec, input_shape, num_classes, val_fraction)`` returns a ``Dataset``:
uint8 tensors ``(N, C, H, W)`` and int64 labels for train and validation, the
per-channel mean and std of the training images, and the class names. A
dataset that cannot meet the project's input shape or class count raises
``UserError`` with the numbers and the fix, before any training starts.
Where a dataset has no separate validation set, a fixed-seed split takes
``val_fraction`` of it.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from graph.errors import UserError

KINDS = ("synthetic", "mnist", "fashion_mnist", "cifar10", "cifar100", "cifar100_coarse", "folder")
CACHED = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10", "cifar100": "cifar100"}
CACHED["cifar100_coarse"] = "cifar100"  # the same files, the coarse labels
SPLIT_SEED = 20160  # fixed: the train/validation split never depends on the run's seed


@dataclass(frozen=True)
class DatasetSpec:
    kind: str
    path: str | None = None

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"


@dataclass
class Dataset:
    spec: DatasetSpec
    train_x: torch.Tensor  # uint8 (N, C, H, W)
    train_y: torch.Tensor  # int64 (N,)
    val_x: torch.Tensor
    val_y: torch.Tensor
    num_classes: int
    class_names: list[str] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.train_x, self.train_y, self.val_x, self.val_y))

    def describe(self) -> str:
        c, h, w = self.shape
        return (
            f"{self.spec}: {len(self.train_y):,} training and {len(self.val_y):,} validation images, "
            f"{c}x{h}x{w}, {self.num_classes} classes"
        )


# ----------------------------------------------------------------------- spec
def parse_spec(spec: str | None) -> DatasetSpec:
    """``"mnist:DIR"`` -> DatasetSpec("mnist", "DIR"); None or "" -> synthetic."""
    if spec is None or not str(spec).strip():
        return DatasetSpec("synthetic")
    s = str(spec).strip()
    kind, _sep, path = s.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise UserError(
            f"unknown dataset {s!r}; use synthetic, cifar10, cifar100, mnist, fashion_mnist (downloaded "
            f"into the cache), the same with :DIR for a folder you fetched, or folder:DIR"
        )
    if kind == "synthetic":
        if path:
            raise UserError("the synthetic dataset takes no folder; write just 'synthetic'")
        return DatasetSpec("synthetic")
    if not path:
        if kind in CACHED:
            return DatasetSpec(kind)
        raise UserError(f"dataset {kind!r} needs a folder: {kind}:DIR")
    return DatasetSpec(kind, path)


def load(
    spec: str | DatasetSpec | None,
    input_shape,
    num_classes: int,
    val_fraction: float = 0.1,
    on_progress=None,
    should_cancel=None,
) -> Dataset:
    """Load a dataset shaped for a project with ``input_shape`` (C, H, W) and ``num_classes`` outputs.

    A cached kind without a folder is fetched first if it is not in the cache; ``on_progress(file,
    done, total)`` and ``should_cancel()`` follow that download."""
    sp = spec if isinstance(spec, DatasetSpec) else parse_spec(spec)
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3:
        raise UserError(
            f"training needs an image input C,H,W but the project's input is "
            f"{'x'.join(map(str, input_shape))}; set it with --input C,H,W"
        )
    if sp.kind == "synthetic":
        ds = synthetic(input_shape, num_classes)
    else:
        if sp.path is None:
            from training.download import ensure_dataset

            root = ensure_dataset(CACHED[sp.kind], on_progress=on_progress, should_cancel=should_cancel)
        else:
            root = Path(sp.path).expanduser()
        if not root.is_dir():
            raise UserError(f"dataset folder {str(root)!r} does not exist or is not a folder")
        if sp.kind in ("mnist", "fashion_mnist"):
            ds = load_mnist(root, val_fraction)
            if sp.kind == "fashion_mnist" and ds.num_classes == len(FASHION_CLASSES):
                ds.class_names = list(FASHION_CLASSES)
        elif sp.kind == "cifar10":
            ds = load_cifar10(root, val_fraction)
        elif sp.kind in ("cifar100", "cifar100_coarse"):
            ds = load_cifar100(root, val_fraction, coarse=sp.kind == "cifar100_coarse")
        else:
            ds = load_folder(root, input_shape, val_fraction)
        ds.spec = sp
    check_fit(ds, input_shape, num_classes)
    if not ds.mean:
        ds.mean, ds.std = channel_stats(ds.train_x)
    return ds


def check_fit(ds: Dataset, input_shape, num_classes: int) -> None:
    """Refuse a dataset whose image shape or class count differs from the project's, naming the fix."""
    c, h, w = ds.shape
    ic, ih, iw = input_shape
    name = ds.spec.kind
    if (c, h, w) != (ic, ih, iw):
        raise UserError(
            f"{name} images are {c}x{h}x{w} but the project's input is {ic}x{ih}x{iw}; "
            f"create the project with --input {c},{h},{w} "
            f"(python main.py new TEMPLATE --input {c},{h},{w} ...) "
            f"or set the Input node's shape to [{c}, {h}, {w}]"
        )
    if ds.num_classes != num_classes:
        raise UserError(
            f"{name} has {ds.num_classes} classes but the project's output has {num_classes}; "
            f"create the project with --classes {ds.num_classes} or set the head's out_features "
            f"to {ds.num_classes}"
        )
    if len(ds.train_y) == 0 or len(ds.val_y) == 0:
        raise UserError(f"{name} has too few images to split into training and validation sets")


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, on the 0..1 scale (chunked: no big float copy)."""
    c = x.shape[1]
    s = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    n = 0
    for chunk in x.split(4096):
        f = chunk.to(torch.float64) / 255.0
        s += f.sum(dim=(0, 2, 3))
        s2 += (f * f).sum(dim=(0, 2, 3))
        n += f.shape[0] * f.shape[2] * f.shape[3]
    mean = s / max(n, 1)
    std = (s2 / max(n, 1) - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return [float(v) for v in mean], [float(v) for v in std]


def split(x: torch.Tensor, y: torch.Tensor, val_fraction: float):
    """A fixed-seed split: (train_x, train_y, val_x, val_y)."""
    n = len(y)
    g = torch.Generator().manual_seed(SPLIT_SEED)
    perm = torch.randperm(n, generator=g)
    nv = max(1, round(n * val_fraction)) if n > 1 else 0
    vi, ti = perm[:nv].sort().values, perm[nv:].sort().values
    return x[ti], y[ti], x[vi], y[vi]


# ------------------------------------------------------------------ synthetic
SYNTH_TRAIN, SYNTH_VAL = 5000, 1000
SYNTH_MAX_BYTES = 128 * 2**20
SYNTH_MAX_SIDE = 32  # patterns are drawn at up to 32x32 and resized up for bigger inputs


def synthetic(
    input_shape, num_classes: int, n_train: int = SYNTH_TRAIN, n_val: int = SYNTH_VAL, seed: int = 7
) -> Dataset:
    """Generated images: each class is a smooth random pattern (gratings and a blob per channel);
    each sample shifts it (circularly), rescales its contrast, blends in up to 45% of another
    class's pattern and adds strong noise. Learnable, not trivial (a small CNN needs a few epochs),
    deterministic (fixed seed), no download."""
    c, h, w = (int(v) for v in input_shape)
    per = c * h * w
    total = n_train + n_val
    if total * per > SYNTH_MAX_BYTES:  # big inputs: fewer samples, same ratio, at least 2 per class
        scale = SYNTH_MAX_BYTES / (total * per)
        n_train, n_val = max(num_classes * 2, int(n_train * scale)), max(num_classes, int(n_val * scale))
    hs, ws = min(h, SYNTH_MAX_SIDE), min(w, SYNTH_MAX_SIDE)
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, hs).view(1, hs, 1)
    xx = torch.linspace(0, 1, ws).view(1, 1, ws)
    k = num_classes * c
    f = torch.rand(k, 3, 2, generator=g) * 4 + 0.5
    ph = torch.rand(k, 3, generator=g) * 6.283
    img = sum(
        torch.sin(
            6.283 * (f[:, j, 0].view(-1, 1, 1) * yy + f[:, j, 1].view(-1, 1, 1) * xx)
            + ph[:, j].view(-1, 1, 1)
        )
        for j in range(3)
    )
    centre = torch.rand(k, 2, generator=g)
    img = img + 2.0 * torch.exp(
        -((yy - centre[:, 0].view(-1, 1, 1)) ** 2 + (xx - centre[:, 1].view(-1, 1, 1)) ** 2) / 0.03
    )
    protos = img.view(num_classes, c, hs, ws)
    protos = (protos - protos.mean(dim=(2, 3), keepdim=True)) / protos.std(
        dim=(2, 3), keepdim=True
    ).clamp_min(1e-6)
    max_shift = max(1, min(hs, ws) // 6)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = (torch.arange(n) % num_classes)[torch.randperm(n, generator=g)]
        xs = torch.empty(n, c, h, w, dtype=torch.uint8)
        for start in range(0, n, 256):
            yb = y[start : start + 256]
            b = len(yb)
            other = protos[torch.randint(0, num_classes, (b,), generator=g)]
            mix = torch.rand(b, 1, 1, 1, generator=g) * 0.45
            contrast = 0.6 + torch.rand(b, 1, 1, 1, generator=g) * 0.8
            im = contrast * ((1 - mix) * protos[yb] + mix * other)
            sy, sx = torch.randint(-max_shift, max_shift + 1, (2, b, 1), generator=g)
            rows = (torch.arange(hs).view(1, hs) - sy) % hs
            cols = (torch.arange(ws).view(1, ws) - sx) % ws
            im = torch.gather(im, 2, rows.view(b, 1, hs, 1).expand(b, c, hs, ws))
            im = torch.gather(im, 3, cols.view(b, 1, 1, ws).expand(b, c, hs, ws))
            im = im + torch.randn(im.shape, generator=g) * 0.9
            if (hs, ws) != (h, w):
                im = torch.nn.functional.interpolate(im, size=(h, w), mode="bilinear", align_corners=False)
            xs[start : start + b] = (im * 40 + 128).clamp(0, 255).to(torch.uint8)
        return xs, y

    tx, ty = make(n_train)
    vx, vy = make(n_val)
    return Dataset(
        DatasetSpec("synthetic"), tx, ty, vx, vy, num_classes, [f"class{k}" for k in range(num_classes)]
    )


# ----------------------------------------------------------------------- MNIST
def _read_maybe_gz(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path} is not a readable gzip file ({exc})") from None
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array (uint8 data only, as MNIST's)."""
    p = Path(path)
    data = _read_maybe_gz(p)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise UserError(f"{p} is not an IDX file (bad magic number)")
    dtype, ndim = data[2], data[3]
    if dtype != 0x08:
        raise UserError(
            f"{p}: IDX data type 0x{dtype:02x} is not supported (MNIST uses unsigned bytes, 0x08)"
        )
    if len(data) < 4 + 4 * ndim:
        raise UserError(f"{p} is truncated")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    count = int(np.prod(dims)) if dims else 0
    body = data[4 + 4 * ndim :]
    if len(body) < count:
        raise UserError(f"{p} is truncated: expected {count:,} values, found {len(body):,}")
    return np.frombuffer(body, dtype=np.uint8, count=count).reshape(dims)


def _find_idx(root: Path, prefix: str, kind: str) -> Path | None:
    pats = [
        f"{prefix}-{kind}-idx*-ubyte",
        f"{prefix}-{kind}.idx*-ubyte",
        f"{prefix}-{kind}-idx*-ubyte.gz",
        f"{prefix}-{kind}.idx*-ubyte.gz",
    ]
    for pat in pats:
        hits = sorted(root.glob(pat))
        if hits:
            return hits[0]
    return None


def load_mnist(root: Path, val_fraction: float = 0.1) -> Dataset:
    """MNIST (or Fashion-MNIST) IDX files: train-* and t10k-*; either alone is split."""
    sets = {}
    for prefix in ("train", "t10k"):
        ip, lp = _find_idx(root, prefix, "images"), _find_idx(root, prefix, "labels")
        if ip and lp:
            x, y = read_idx(ip), read_idx(lp)
            if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
                raise UserError(
                    f"{ip.name} and {lp.name} do not fit together: images {x.shape}, labels {y.shape}"
                )
            sets[prefix] = (torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    if not sets:
        raise UserError(
            f"no MNIST files in {root}: expected train-images-idx3-ubyte[.gz] and "
            f"train-labels-idx1-ubyte[.gz] (and/or the t10k-* pair)"
        )
    if "train" in sets and "t10k" in sets:
        (tx, ty), (vx, vy) = sets["train"], sets["t10k"]
    else:
        x, y = next(iter(sets.values()))
        tx, ty, vx, vy = split(x, y, val_fraction)
    k = int(max(int(ty.max()), int(vy.max()))) + 1
    return Dataset(DatasetSpec("mnist", str(root)), tx, ty, vx, vy, k, [str(i) for i in range(k)])


# --------------------------------------------------------------------- CIFAR-10
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _latin1_encode(text, encoding="latin1"):
    """``_codecs.encode`` as pickle protocol 2 uses it to carry bytes from Python 3: latin-1 only."""
    if not isinstance(text, str) or encoding.replace("-", "").replace("_", "").lower() not in (
        "latin1",
        "iso88591",
    ):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class RestrictedUnpickler(pickle.Unpickler):
    """Admits only what CIFAR-10's python batches hold: numpy arrays (``_reconstruct``, ``ndarray``,
    ``dtype``; ``_frombuffer`` when a batch was re-saved with pickle protocol 5), besides plain dicts,
    lists, ints and byte strings (``_codecs.encode`` to latin-1 only, which is how protocol 2 from
    Python 3 writes bytes). Anything else is refused."""

    ALLOWED: frozenset = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (not part of a CIFAR-10 batch)")
        if name in ("ndarray", "dtype"):
            return getattr(np, name)
        if name == "encode":
            return _latin1_encode
        try:
            from numpy._core import multiarray, numeric  # numpy 2
        except ImportError:  # pragma: no cover - numpy 1
            from numpy.core import multiarray, numeric
        return numeric._frombuffer if name == "_frombuffer" else multiarray._reconstruct


def restricted_load(data: bytes):
    return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()


def _cifar_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = restricted_load(path.read_bytes())
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        UnicodeError,
    ) as exc:
        raise UserError(f"{path} is not a CIFAR-10 python batch: {exc}") from None
    if not isinstance(d, dict):
        raise UserError(f"{path} is not a CIFAR-10 python batch (not a dict)")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise UserError(f"{path}: 'data' is not a uint8 array of shape (N, 3072)")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise UserError(f"{path}: {len(labels)} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if raw.size % 3073:
        raise UserError(f"{path} is not a CIFAR-10 binary batch (size {raw.size} is not a multiple of 3073)")
    rec = raw.reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


def load_cifar10(root: Path, val_fraction: float = 0.1) -> Dataset:
    for d in (root, root / "cifar-10-batches-bin", root / "cifar-10-batches-py"):
        bins = sorted(d.glob("data_batch_*.bin"))
        test_bin = d / "test_batch.bin"
        pys = sorted(p for p in d.glob("data_batch_*") if p.suffix == "")
        test_py = d / "test_batch"
        if bins or test_bin.exists():
            train = [_cifar_binary_batch(p) for p in bins]
            test = [_cifar_binary_batch(test_bin)] if test_bin.exists() else []
            break
        if pys or test_py.exists():
            train = [_cifar_python_batch(p) for p in pys]
            test = [_cifar_python_batch(test_py)] if test_py.exists() else []
            break
    else:
        raise UserError(
            f"no CIFAR-10 batches in {root}: expected data_batch_1.bin ... test_batch.bin "
            f"(binary version) or data_batch_1 ... test_batch (python version)"
        )

    def cat(parts):
        return (
            torch.from_numpy(np.concatenate([p[0] for p in parts]).copy()),
            torch.from_numpy(np.concatenate([p[1] for p in parts])),
        )

    if train and test:
        (tx, ty), (vx, vy) = cat(train), cat(test)
    else:
        tx, ty, vx, vy = split(*cat(train or test), val_fraction)
    if int(max(ty.max(), vy.max())) > 9 or int(min(ty.min(), vy.min())) < 0:
        raise UserError(f"{root}: labels outside 0..9; is this CIFAR-100? (only CIFAR-10 is supported)")
    return Dataset(DatasetSpec("cifar10", str(root)), tx, ty, vx, vy, 10, list(CIFAR_CLASSES))


# -------------------------------------------------------------------- CIFAR-100
CIFAR100_RECORD = 3074  # coarse label, fine label, 3x32x32 image


def _cifar100_batch(path: Path, coarse: bool) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR100_RECORD:
        raise UserError(
            f"{path} is not a CIFAR-100 binary file (size {raw.size:,} is not a multiple of "
            f"{CIFAR100_RECORD})"
        )
    rec = raw.reshape(-1, CIFAR100_RECORD)
    return rec[:, 2:].reshape(-1, 3, 32, 32), rec[:, 0 if coarse else 1].astype(np.int64)


def _label_names(path: Path, count: int) -> list[str]:
    if path.is_file():
        names = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        names = [n for n in names if n]
        if len(names) == count:
            return names
    return [str(i) for i in range(count)]


def load_cifar100(root: Path, val_fraction: float = 0.1, coarse: bool = False) -> Dataset:
    """The binary version: train.bin and test.bin (either alone is split); fine labels unless coarse."""
    for d in (root, root / "cifar-100-binary"):
        train_p, test_p = d / "train.bin", d / "test.bin"
        if train_p.exists() or test_p.exists():
            break
    else:
        raise UserError(f"no CIFAR-100 files in {root}: expected train.bin and test.bin (binary version)")
    parts = [_cifar100_batch(p, coarse) for p in (train_p, test_p) if p.exists()]
    k = 20 if coarse else 100
    if train_p.exists() and test_p.exists():
        (tx, ty), (vx, vy) = [(torch.from_numpy(x.copy()), torch.from_numpy(y)) for x, y in parts]
    else:
        tx, ty, vx, vy = split(
            torch.from_numpy(parts[0][0].copy()), torch.from_numpy(parts[0][1]), val_fraction
        )
    if int(max(ty.max(), vy.max())) >= k:
        raise UserError(f"{root}: {'coarse' if coarse else 'fine'} labels outside 0..{k - 1}")
    names = _label_names(d / ("coarse_label_names.txt" if coarse else "fine_label_names.txt"), k)
    kind = "cifar100_coarse" if coarse else "cifar100"
    return Dataset(DatasetSpec(kind, str(root)), tx, ty, vx, vy, k, names)


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


# ---------------------------------------------------------------------- folder
IMAGE_EXTS = (".png", ".ppm", ".pgm", ".pnm", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _class_dirs(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_folder(root: Path, input_shape, val_fraction: float = 0.1) -> Dataset:
    """One sub-folder per class (ImageFolder); or train/ and val/ (or test/) each laid out so."""
    from training.images import read_image, to_shape

    sub = {p.name.lower(): p for p in _class_dirs(root)}
    val_dir = sub.get("val") or sub.get("valid") or sub.get("validation") or sub.get("test")
    parts = [sub["train"], val_dir] if "train" in sub and val_dir else [root]
    classes = [p.name for p in _class_dirs(parts[0])]
    if not classes:
        raise UserError(f"{root} has no class sub-folders (folder:DIR wants DIR/<class>/<image>)")
    tensors = []
    for part in parts:
        xs, ys = [], []
        for k, cname in enumerate(classes):
            cdir = part / cname
            if not cdir.is_dir():
                raise UserError(f"{part} lacks the class folder {cname!r} that {parts[0]} has")
            for f in sorted(cdir.iterdir()):
                if f.suffix.lower() in IMAGE_EXTS and f.is_file():
                    xs.append(to_shape(read_image(f), input_shape))
                    ys.append(k)
        if not xs:
            raise UserError(f"no images in {part} (looked for {', '.join(IMAGE_EXTS)})")
        tensors.append((torch.stack(xs), torch.tensor(ys, dtype=torch.int64)))
    if len(tensors) == 2:
        (tx, ty), (vx, vy) = tensors
    else:
        tx, ty, vx, vy = split(*tensors[0], val_fraction)
    return Dataset(DatasetSpec("folder", str(root)), tx, ty, vx, vy, len(classes), classes)
