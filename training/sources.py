"""Where the known datasets come from: official URLs and their published checksums.

``DATASETS[name]`` is a :class:`DatasetSource`: its files (each with a md5 and an
approximate size) and the base URLs tried in order (a second one where
torchvision has one, as for MNIST). ``SKIPWIRE_DATASETS_URL`` (``--mirror URL``
on the command line) replaces the bases: files are then fetched from
``URL/<file name>``.

Tests (and nobody else) may swap checksums and sizes with :func:`override`
(in-process) or ``SKIPWIRE_TEST_MANIFEST`` (a JSON file, for child processes):
``{"files": {"cifar-10-binary.tar.gz": {"md5": "...", "size": 123}},
"weights": {"resnet18": {"v1": "resnet18-0123abcd.pth"}}}``.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, replace

from graph.errors import UserError

MIRROR_ENV = "SKIPWIRE_DATASETS_URL"
TEST_MANIFEST_ENV = "SKIPWIRE_TEST_MANIFEST"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str
    size: int  # bytes, as published (used for the free-space check and the progress bar)


@dataclass(frozen=True)
class DatasetSource:
    name: str  # the spec's kind: cifar10, cifar100, mnist, fashion_mnist
    title: str
    files: tuple[RemoteFile, ...]
    bases: tuple[str, ...]  # base URLs, tried in order
    archive: bool  # True: one tar.gz to extract; False: the files are kept as they are
    extracted: int  # bytes once in the cache (for the free-space check)
    shape: tuple[int, int, int]
    classes: int

    @property
    def download_size(self) -> int:
        return sum(f.size for f in self.files)


_TORONTO = ("https://www.cs.toronto.edu/~kriz/",)

DATASETS: dict[str, DatasetSource] = {
    "cifar10": DatasetSource(
        "cifar10",
        "CIFAR-10",
        (RemoteFile("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", 170_052_171),),
        _TORONTO,
        True,
        184_380_000,
        (3, 32, 32),
        10,
    ),
    "cifar100": DatasetSource(
        "cifar100",
        "CIFAR-100",
        (RemoteFile("cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", 168_513_733),),
        _TORONTO,
        True,
        184_450_000,
        (3, 32, 32),
        100,
    ),
    "mnist": DatasetSource(
        "mnist",
        "MNIST",
        (
            RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
            RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
            RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
        ),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        False,
        11_594_722,
        (1, 28, 28),
        10,
    ),
    "fashion_mnist": DatasetSource(
        "fashion_mnist",
        "Fashion-MNIST",
        (
            RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
            RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", 29_515),
            RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", 4_422_102),
            RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", 5_148),
        ),
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        False,
        30_878_645,
        (1, 28, 28),
        10,
    ),
}

_override: dict = {}


@contextlib.contextmanager
def override(manifest: dict):
    """Tests only: swap checksums/sizes (``{"files": {name: {"md5", "size"}}}``) and torchvision
    weight file names (``{"weights": {arch: {"v1": file}}}``) for the duration of the block."""
    global _override
    old = _override
    _override = manifest
    try:
        yield
    finally:
        _override = old


def _active_override() -> dict:
    if _override:
        return _override
    path = os.environ.get(TEST_MANIFEST_ENV, "").strip()
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise UserError(f"{TEST_MANIFEST_ENV}={path} is not a readable JSON manifest: {exc}") from None
    return data if isinstance(data, dict) else {}


def weight_file_override(arch: str, version: str) -> str | None:
    entry = _active_override().get("weights", {}).get(arch, {})
    return entry.get(version) if isinstance(entry, dict) else None


def mirror_base() -> str | None:
    base = os.environ.get(MIRROR_ENV, "").strip()
    return base or None


def dataset_source(name: str) -> DatasetSource:
    """The source of ``name`` with any mirror (``SKIPWIRE_DATASETS_URL``) and test override applied."""
    try:
        src = DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None
    files_over = _active_override().get("files", {})
    files = tuple(
        replace(f, **{k: v for k, v in files_over.get(f.name, {}).items() if k in ("md5", "size")})
        for f in src.files
    )
    bases = (mirror_base(),) if mirror_base() else src.bases
    return replace(src, files=files, bases=tuple(b if b.endswith("/") else b + "/" for b in bases))


def urls(src: DatasetSource, f: RemoteFile) -> list[str]:
    return [base + f.name for base in src.bases]
