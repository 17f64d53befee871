"""Dataset specs, loaders (IDX, CIFAR-10 binary and python, folder, synthetic) and refusals."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib

import numpy as np
import pytest
import torch
from train_helpers import MNIST_DIR

from graph.errors import UserError
from training import datasets
from training.datasets import DatasetSpec, parse_spec
from training.images import decode_png, read_image, to_shape


def test_parse_spec():
    assert parse_spec(None) == DatasetSpec("synthetic")
    assert parse_spec("synthetic") == DatasetSpec("synthetic")
    assert parse_spec("mnist:/data/m") == DatasetSpec("mnist", "/data/m")
    assert parse_spec("CIFAR10:C:/x") == DatasetSpec("cifar10", "C:/x")
    for bad in ("imagenet:/x", "folder", "folder:", "synthetic:/x"):
        with pytest.raises(UserError):
            parse_spec(bad)


# ------------------------------------------------------------------ IDX / MNIST
def _idx(arr: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    )


@pytest.mark.parametrize("gz", [False, True])
def test_idx_loader_plain_and_gz(tmp_path, gz):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    y = (np.arange(50) % 10).astype(np.uint8)
    for name, arr in (("t10k-images-idx3-ubyte", x), ("t10k-labels-idx1-ubyte", y)):
        data = _idx(arr)
        if gz:
            (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (tmp_path / name).write_bytes(data)
    assert np.array_equal(datasets.read_idx(next(tmp_path.glob("t10k-images*"))), x)
    ds = datasets.load(f"mnist:{tmp_path}", (1, 28, 28), 10, val_fraction=0.2)
    assert ds.shape == (1, 28, 28) and len(ds.train_y) == 40 and len(ds.val_y) == 10
    assert ds.train_x.dtype == torch.uint8
    # train + val together are exactly the file's images (a split, no loss, no duplication)
    got = torch.cat([ds.train_x, ds.val_x]).view(50, -1).sum(1).sort().values
    assert torch.equal(got, torch.from_numpy(x).view(50, -1).sum(1, dtype=torch.int64).sort().values)


def test_idx_bad_files(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(3, np.uint8)))
    with pytest.raises(UserError, match="not an IDX file"):
        datasets.load(f"mnist:{tmp_path}", (1, 28, 28), 10)
    with pytest.raises(UserError, match="no MNIST files"):
        datasets.load(
            f"mnist:{tmp_path / 'missing'}" if False else f"mnist:{tmp_path.parent}", (1, 28, 28), 10
        )


@pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason="the shared MNIST test set (../shared/data/mnist) is absent"
)
def test_real_mnist_and_refusals():
    ds = datasets.load(f"mnist:{MNIST_DIR}", (1, 28, 28), 10, val_fraction=0.2)
    assert (len(ds.train_y), len(ds.val_y)) == (8000, 2000)
    assert ds.num_classes == 10 and abs(ds.mean[0] - 0.13) < 0.01
    with pytest.raises(UserError) as e:
        datasets.load(f"mnist:{MNIST_DIR}", (3, 32, 32), 10)
    assert (
        "1x28x28" in e.value.message and "3x32x32" in e.value.message and "--input 1,28,28" in e.value.message
    )
    with pytest.raises(UserError) as e:
        datasets.load(f"mnist:{MNIST_DIR}", (1, 28, 28), 100)
    assert "10 classes" in e.value.message and "100" in e.value.message and "--classes 10" in e.value.message


# ------------------------------------------------------------------ CIFAR-10
def _fake_cifar(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, n)]


def test_cifar_binary(tmp_path):
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    for name, n in (("data_batch_1.bin", 30), ("data_batch_2.bin", 20), ("test_batch.bin", 10)):
        x, y = _fake_cifar(n, n)
        rec = np.concatenate([np.array(y, np.uint8)[:, None], x], axis=1)
        (d / name).write_bytes(rec.tobytes())
    ds = datasets.load(f"cifar10:{tmp_path}", (3, 32, 32), 10)
    assert (len(ds.train_y), len(ds.val_y)) == (50, 10)
    x, y = _fake_cifar(10, 10)
    assert torch.equal(ds.val_x, torch.from_numpy(x.reshape(10, 3, 32, 32)))
    assert ds.val_y.tolist() == y
    assert ds.class_names[0] == "airplane"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_cifar_python_through_restricted_unpickler(tmp_path, protocol):
    for name, n in (("data_batch_1", 20), ("test_batch", 8)):
        x, y = _fake_cifar(n, n)
        batch = {
            b"batch_label": b"training batch 1 of 5",
            b"labels": y,
            b"data": x,
            b"filenames": [b"f%d.png" % i for i in range(n)],
        }
        (tmp_path / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    ds = datasets.load(f"cifar10:{tmp_path}", (3, 32, 32), 10)
    assert (len(ds.train_y), len(ds.val_y)) == (20, 8)
    x, y = _fake_cifar(8, 8)
    assert torch.equal(ds.val_x, torch.from_numpy(x.reshape(8, 3, 32, 32))) and ds.val_y.tolist() == y


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_restricted_unpickler_refuses_code(tmp_path, monkeypatch):
    payload = pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=4)
    assert b"system" in payload
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        datasets.restricted_load(payload)
    (tmp_path / "data_batch_1").write_bytes(payload)
    with pytest.raises(UserError, match="refused to load .*system"):
        datasets.load(f"cifar10:{tmp_path}", (3, 32, 32), 10)
    assert called == []
    for mod, name in (("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load"), ("codecs", "decode")):
        with pytest.raises(pickle.UnpicklingError):
            datasets.RestrictedUnpickler.find_class(
                datasets.RestrictedUnpickler(__import__("io").BytesIO(b"")), mod, name
            )
    # protocol 2 writes bytes as _codecs.encode(text, "latin1"); any other codec is refused
    hostile = pickle.dumps(b"\xff\x00", protocol=2).replace(b"latin1", b"zlib_c")
    with pytest.raises(pickle.UnpicklingError, match="refused _codecs.encode"):
        datasets.restricted_load(hostile)


# ------------------------------------------------------------------ folder
def _png(img: np.ndarray) -> bytes:
    """A PNG encoder for tests: rows use filter types 0-4 in turn, so the decoder meets each."""
    h, w = img.shape[:2]
    ch = 1 if img.ndim == 2 else img.shape[2]
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[ch]
    a = img.reshape(h, w * ch).astype(np.int32)
    rows, prev = [], np.zeros(w * ch, np.int32)
    for y in range(h):
        f, cur = y % 5, a[y]
        left = np.concatenate([np.zeros(ch, np.int32), cur[:-ch]])
        upleft = np.concatenate([np.zeros(ch, np.int32), prev[:-ch]])
        if f == 0:
            out = cur
        elif f == 1:
            out = cur - left
        elif f == 2:
            out = cur - prev
        elif f == 3:
            out = cur - (left + prev) // 2
        else:
            pa, pb, pc = np.abs(prev - upleft), np.abs(left - upleft), np.abs(left + prev - 2 * upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            out = cur - pred
        rows.append(bytes([f]) + (out & 255).astype(np.uint8).tobytes())
        prev = cur

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("ch", [1, 3, 4])
def test_png_decoder_all_filters(ch):
    rng = np.random.default_rng(ch)
    img = rng.integers(0, 256, (11, 7, ch) if ch > 1 else (11, 7), dtype=np.uint8)
    got = decode_png(_png(img))
    assert np.array_equal(got.reshape(img.shape), img)


def test_folder_dataset_png_and_ppm(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog", "emu"):
        (tmp_path / cls).mkdir()
        for i in range(4):
            img = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
            if i % 2:
                (tmp_path / cls / f"{i}.png").write_bytes(_png(img))
            else:
                (tmp_path / cls / f"{i}.ppm").write_bytes(b"P6\n# c\n10 12\n255\n" + img.tobytes())
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = datasets.load(f"folder:{tmp_path}", (3, 8, 8), 3, val_fraction=0.25)
    assert ds.shape == (3, 8, 8) and ds.class_names == ["cat", "dog", "emu"]
    assert len(ds.train_y) + len(ds.val_y) == 12 and len(ds.val_y) == 3
    gray = datasets.load(f"folder:{tmp_path}", (1, 16, 16), 3)
    assert gray.shape == (1, 16, 16)
    with pytest.raises(UserError, match="3 classes .* --classes 3"):
        datasets.load(f"folder:{tmp_path}", (3, 8, 8), 10)
    (tmp_path / "dog" / "x.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="Pillow"):
            datasets.load(f"folder:{tmp_path}", (3, 8, 8), 3)


def test_image_helpers_convert_channels():
    img = torch.arange(2 * 3 * 4, dtype=torch.uint8).view(2, 3, 4)  # gray + alpha
    out = to_shape(img, (3, 3, 4))
    assert out.shape == (3, 3, 4) and torch.equal(out[0], img[0]) and torch.equal(out[2], img[0])


def test_read_image_pgm_ascii(tmp_path):
    (tmp_path / "a.pgm").write_bytes(b"P2\n3 2\n15\n0 5 10\n15 0 15\n")
    t = read_image(tmp_path / "a.pgm")
    assert t.shape == (1, 2, 3) and t[0, 1, 0] == 255 and t[0, 0, 1] == 85


# ------------------------------------------------------------------ synthetic
def test_synthetic_is_deterministic_and_shaped():
    a = datasets.synthetic((3, 12, 12), 5, n_train=200, n_val=50)
    b = datasets.synthetic((3, 12, 12), 5, n_train=200, n_val=50)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.val_y, b.val_y)
    assert a.shape == (3, 12, 12) and a.num_classes == 5
    assert torch.bincount(a.train_y, minlength=5).tolist() == [40] * 5
    assert a.train_x.float().std() > 20  # not blank
    ds = datasets.load("synthetic", (1, 9, 9), 3)
    assert ds.shape == (1, 9, 9) and ds.num_classes == 3 and len(ds.mean) == 1


def test_synthetic_big_input_is_capped(monkeypatch):
    monkeypatch.setattr(datasets, "SYNTH_MAX_BYTES", 2 * 2**20)
    ds = datasets.synthetic((3, 64, 64), 10, n_train=5000, n_val=1000)  # drawn at 32x32, resized up
    assert ds.shape == (3, 64, 64) and ds.nbytes <= 2 * 2**20 * 1.05 and len(ds.val_y) >= 10
