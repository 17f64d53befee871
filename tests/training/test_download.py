"""Datasets fetched into the cache from a local HTTP server (no internet): every way a download ends."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_downloads import Server, cifar10_tar, cifar100_tar, manifest, mnist_files, targz, write_manifest
from train_helpers import tiny_resnet

import main as skipwire_main
from graph.errors import UserError
from graph.projectfile import save_project
from training import datasets, download, sources

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("SKIPWIRE_CACHE", str(root))
    monkeypatch.setenv("SKIPWIRE_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("SKIPWIRE_READ_TIMEOUT", "1")
    monkeypatch.delenv("SKIPWIRE_DATASETS_URL", raising=False)
    monkeypatch.delenv("SKIPWIRE_TEST_MANIFEST", raising=False)
    return root


@pytest.fixture
def server():
    with Server() as s:
        yield s


def leftovers(root: Path) -> list[str]:
    """Anything in the cache besides lock files and complete entries."""
    d = root / "datasets"
    if not d.exists():
        return []
    return sorted(p.name for p in d.iterdir() if not p.name.endswith(".lock") and p.name.startswith("."))


def use(server: Server, monkeypatch, files: dict[str, bytes], mode: str = "ok"):
    for name, body in files.items():
        server.serve(name, body, mode)
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    return sources.override(manifest(files))


# ------------------------------------------------------------------ success
def test_fresh_download_then_train_two_steps(cache, server, tmp_path, monkeypatch, capsys):
    tar = cifar10_tar(per_batch=16, test=20)  # 80 training images: 2 steps of 40
    server.serve("cifar-10-binary.tar.gz", tar)
    mpath = write_manifest(tmp_path / "manifest.json", {"cifar-10-binary.tar.gz": tar})
    monkeypatch.setenv("SKIPWIRE_TEST_MANIFEST", mpath)
    proj = tmp_path / "tiny.skipwire"
    save_project(tiny_resnet((3, 32, 32), 10), proj)
    argv = ["train", str(proj), "--dataset", "cifar10", "--epochs", "1", "--batch-size", "40"]
    argv += ["--out", str(tmp_path / "runs"), "--device", "cpu", "--mirror", server.url]
    assert skipwire_main.main(argv) == 0
    out = capsys.readouterr()
    assert "epoch 1/1" in out.out
    assert "cifar-10-binary.tar.gz" in out.err and "MB/s" in out.err  # the download's progress line
    assert server.requests == ["/cifar-10-binary.tar.gz"]
    data = cache / "datasets" / "cifar10" / "cifar-10-batches-bin"
    assert sorted(p.name for p in data.iterdir())[:2] == ["batches.meta.txt", "data_batch_1.bin"]
    assert leftovers(cache) == []
    assert "SKIPWIRE_DATASETS_URL" not in os.environ  # --mirror is undone after the command
    run = next((tmp_path / "runs").iterdir())
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in steps if r["kind"] == "step") == 2
    # evaluate reads the cache (no request); with the cache gone it fetches again, with progress
    assert skipwire_main.main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 20 and len(server.requests) == 1
    import shutil

    shutil.rmtree(cache / "datasets" / "cifar10")
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    assert skipwire_main.main(["evaluate", str(run), "--json"]) == 0
    assert len(server.requests) == 2 and "cifar-10-binary.tar.gz" in capsys.readouterr().err


def test_cached_second_use_makes_no_request(cache, server, monkeypatch):
    tar = cifar10_tar()
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": tar}):
        first = datasets.load("cifar10", (3, 32, 32), 10)
        assert len(server.requests) == 1
        second = datasets.load("cifar10", (3, 32, 32), 10)
    assert len(server.requests) == 1
    assert second.train_x.equal(first.train_x) and len(second.val_y) == 20
    assert str(second.spec) == "cifar10"


def test_cifar100_fine_and_coarse(cache, server, monkeypatch):
    tar = cifar100_tar(train=80, test=20)
    with use(server, monkeypatch, {"cifar-100-binary.tar.gz": tar}):
        fine = datasets.load("cifar100", (3, 32, 32), 100)
        coarse = datasets.load("cifar100_coarse", (3, 32, 32), 20)
    assert len(server.requests) == 1  # one cache entry serves both
    assert fine.num_classes == 100 and fine.class_names[7] == "fine7"
    assert coarse.num_classes == 20 and coarse.class_names[3] == "coarse3"
    assert fine.train_y[:10].tolist() == list(range(10))
    assert (coarse.train_y == fine.train_y // 5).all()
    folder = datasets.load(f"cifar100:{cache / 'datasets' / 'cifar100'}", (3, 32, 32), 100)
    assert folder.train_x.equal(fine.train_x)


def test_mnist_second_source_and_fashion_mnist(cache, server, monkeypatch):
    files = mnist_files()
    for name, body in files.items():
        server.serve(name, body, prefix="/second/")
    src = sources.DATASETS["mnist"]
    monkeypatch.setitem(
        sources.DATASETS,
        "mnist",
        dataclasses.replace(src, bases=(server.url + "first/", server.url + "second/")),
    )
    with sources.override(manifest(files)):
        ds = datasets.load("mnist", (1, 28, 28), 10)
    assert len(ds.train_y) == 60 and len(ds.val_y) == 20
    assert server.requests[:2] == ["/first/train-images-idx3-ubyte.gz", "/second/train-images-idx3-ubyte.gz"]
    with use(server, monkeypatch, files):
        fashion = datasets.load("fashion_mnist", (1, 28, 28), 10)
    assert fashion.class_names[0] == "T-shirt/top" and str(fashion.spec) == "fashion_mnist"
    assert sorted(p.name for p in (cache / "datasets" / "fashion_mnist").iterdir()) == sorted(files)


def test_one_download_for_two_concurrent_users(cache, server, monkeypatch):
    tar = cifar10_tar()
    server.slow_chunk, server.slow_delay = len(tar) // 5 + 1, 0.05
    results, errors = [], []
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": tar}, mode="slow"):

        def fetch() -> None:
            try:
                results.append(download.ensure_dataset("cifar10"))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert server.requests == ["/cifar-10-binary.tar.gz"]


def test_datasets_command_lists_and_fetches(cache, server, monkeypatch, capsys):
    files = mnist_files()
    with use(server, monkeypatch, files):
        assert skipwire_main.main(["datasets", "--json"]) == 0
        listing = json.loads(capsys.readouterr().out)
        assert listing["cache"] == str(cache)
        rows = {r["name"]: r for r in listing["datasets"]}
        assert set(rows) == {"cifar10", "cifar100", "mnist", "fashion_mnist"}
        assert not rows["mnist"]["cached"] and rows["mnist"]["download_size"] == sum(map(len, files.values()))
        assert skipwire_main.main(["datasets", "fetch", "mnist"]) == 0
        assert "downloaded" in capsys.readouterr().out
        assert skipwire_main.main(["datasets"]) == 0
        text = capsys.readouterr().out
    assert "mnist" in text and "cached" in text and str(cache / "datasets" / "mnist") in text
    assert skipwire_main.main(["datasets", "fetch", "imagenet"]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err


# ------------------------------------------------------------------ refusals
def refused(cache: Path, name: str = "cifar10", **kw) -> str:
    with pytest.raises(UserError) as info:
        download.ensure_dataset(name, **kw)
    assert info.value.exit_code == 2
    assert not (cache / "datasets" / name).exists()
    assert leftovers(cache) == []
    msg = info.value.message
    assert "\n" not in msg and f"{name}:DIR" in msg and str(cache / "datasets" / name) in msg
    return msg


def test_wrong_checksum(cache, server, monkeypatch):
    tar = cifar10_tar()
    server.serve("cifar-10-binary.tar.gz", tar)
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    with sources.override({"files": {"cifar-10-binary.tar.gz": {"md5": "0" * 32, "size": len(tar)}}}):
        msg = refused(cache)
    assert "wrong checksum" in msg and "0" * 32 in msg


def test_truncated_body(cache, server, monkeypatch):
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": cifar10_tar()}, mode="truncate"):
        assert "truncated" in refused(cache)


def test_http_404(cache, server, monkeypatch):
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    msg = refused(cache)
    assert "HTTP 404" in msg and f"{server.url}cifar-10-binary.tar.gz" in msg


def test_connection_refused(cache, monkeypatch):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", f"http://127.0.0.1:{port}/")
    assert "connection refused" in refused(cache)


def test_stalled_server_times_out(cache, server, monkeypatch):
    monkeypatch.setenv("SKIPWIRE_READ_TIMEOUT", "0.5")
    server.stall_s = 5
    t0 = time.perf_counter()
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": cifar10_tar()}, mode="stall"):
        msg = refused(cache)
    assert "stalled" in msg and time.perf_counter() - t0 < 3


@pytest.mark.parametrize("bad", ["dotdot", "symlink", "absolute", "device"])
def test_unsafe_archive_members(cache, server, monkeypatch, tmp_path, bad):
    import tarfile

    def add(tf):
        info = tarfile.TarInfo(
            {"dotdot": "../x", "symlink": "cifar-10-batches-bin/link", "absolute": "/tmp/x", "device": "dev"}[
                bad
            ]
        )
        if bad == "symlink":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        elif bad == "device":
            info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        else:
            info.size = 1
        import io

        tf.addfile(info, io.BytesIO(b"x") if info.size else None)

    tar = targz({"cifar-10-batches-bin/data_batch_1.bin": bytes(3073)}, extra=add)
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": tar}):
        msg = refused(cache)
    assert "refused" in msg
    assert (
        not (tmp_path / "x").exists()
        and not (cache / "x").exists()
        and not (cache / "datasets" / "x").exists()
    )


def test_bad_archive(cache, server, monkeypatch):
    with use(server, monkeypatch, {"cifar-10-binary.tar.gz": b"not a tar.gz at all" * 50}):
        assert "not a readable tar.gz" in refused(cache)


def test_cancel_stops_the_download(cache, server, monkeypatch):
    tar = cifar10_tar()
    server.slow_chunk, server.slow_delay = 8192, 0.02
    seen = []
    with (
        use(server, monkeypatch, {"cifar-10-binary.tar.gz": tar}, mode="slow"),
        pytest.raises(UserError) as info,
    ):
        download.ensure_dataset(
            "cifar10",
            on_progress=lambda f, done, total: seen.append(done),
            should_cancel=lambda: len(seen) > 3,
        )
    assert "cancelled" in info.value.message
    assert not (cache / "datasets" / "cifar10").exists() and leftovers(cache) == []


def test_download_killed_midway_then_retried(cache, server, monkeypatch, tmp_path):
    tar = cifar10_tar()
    server.slow_chunk, server.slow_delay = 4096, 0.05  # ~ 4 s in all: killed long before the end
    server.serve("cifar-10-binary.tar.gz", tar, mode="slow")
    mpath = write_manifest(tmp_path / "manifest.json", {"cifar-10-binary.tar.gz": tar})
    env = dict(os.environ, SKIPWIRE_DATASETS_URL=server.url, SKIPWIRE_TEST_MANIFEST=mpath)
    child = subprocess.Popen(
        [sys.executable, "-c", "from training.download import ensure_dataset; ensure_dataset('cifar10')"],
        cwd=ROOT,
        env=env,
    )
    d = cache / "datasets"
    deadline = time.time() + 20
    while time.time() < deadline:
        parts = list(d.glob(".cifar10.partial-*/files/.cifar-10-binary.tar.gz.*.tmp")) if d.exists() else []
        if parts and parts[0].stat().st_size > 8192:
            break
        time.sleep(0.02)
    else:
        child.kill()
        pytest.fail("the child never started writing")
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert not (d / "cifar10").exists()  # a half download is never taken for the dataset
    assert leftovers(cache)  # the killed fetch left its temporary folder behind ...
    server.serve("cifar-10-binary.tar.gz", tar)
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    monkeypatch.setenv("SKIPWIRE_TEST_MANIFEST", mpath)
    path = download.ensure_dataset("cifar10")  # ... which the retry removes (the lock died with the child)
    assert path == d / "cifar10" and leftovers(cache) == []
    assert len(list((path / "cifar-10-batches-bin").glob("*.bin"))) == 6


def test_free_space_is_checked_first(cache, server, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    with pytest.raises(UserError) as info:
        download.ensure_dataset("cifar10")
    assert "not enough disk space" in info.value.message and server.requests == []


def test_specs_without_folder():
    assert datasets.parse_spec("cifar10") == datasets.DatasetSpec("cifar10")
    assert datasets.parse_spec("Fashion_MNIST") == datasets.DatasetSpec("fashion_mnist")
    assert datasets.parse_spec("cifar100:/d") == datasets.DatasetSpec("cifar100", "/d")
    with pytest.raises(UserError):
        datasets.parse_spec("folder")


def test_official_sources_are_listed():
    c10 = sources.DATASETS["cifar10"]
    assert c10.files[0].md5 == "c32a1d4ab5d03f1284b67883e8d87530"
    assert sources.urls(c10, c10.files[0]) == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert sources.DATASETS["cifar100"].files[0].md5 == "03b5dce01913d631647c71ecec9e9cb8"
    assert len(sources.DATASETS["mnist"].bases) == 2  # a second source, as torchvision has


def test_training_process_downloads_reports_progress_and_cancels(cache, server, monkeypatch, tmp_path):
    """The editor's path: the spawned training process fetches and streams 'downloading' records (the
    editor only draws them), and its stop request (Cancel) abandons the download: nothing is kept."""
    from training.config import TrainConfig
    from training.process import start_training

    tar = cifar10_tar(per_batch=16, test=20)
    server.slow_chunk, server.slow_delay = 16384, 0.05  # ~ 3 s in all
    server.serve("cifar-10-binary.tar.gz", tar, mode="slow")
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
    monkeypatch.setenv(
        "SKIPWIRE_TEST_MANIFEST", write_manifest(tmp_path / "m.json", {"cifar-10-binary.tar.gz": tar})
    )
    project = tiny_resnet((3, 32, 32), 10).to_dict()
    cfg = TrainConfig(dataset="cifar10", epochs=1, batch_size=40, device="cpu", threads=1).to_dict()

    def drain(proc, until, timeout=60.0) -> list[dict]:
        seen, t0 = [], time.time()
        while time.time() - t0 < timeout:
            seen += proc.poll()
            if until(seen):
                return seen
            time.sleep(0.05)
        proc.kill()
        pytest.fail(f"timed out; records: {[(r['kind'], r.get('state')) for r in seen][-5:]}")

    def downloading(r: dict) -> bool:
        return r.get("state") == "downloading" and r.get("done", 0) > 0

    proc = start_training(project, cfg, tmp_path / "run1")
    first = drain(proc, lambda seen: any(downloading(r) for r in seen))
    rec = next(r for r in first if downloading(r))
    assert rec["file"] == "cifar-10-binary.tar.gz" and rec["total"] == len(tar) and rec["done"] < len(tar)
    proc.stop()
    seen = drain(proc, lambda s: proc.finished)
    assert seen[-1]["kind"] == "error" and "cancelled" in seen[-1]["message"]
    proc.join(10)
    assert not (cache / "datasets" / "cifar10").exists() and leftovers(cache) == []


def test_a_hanging_name_lookup_is_bounded_by_the_connect_timeout(cache, monkeypatch):
    import socket

    real = socket.getaddrinfo

    def slow(host, *args, **kw):
        if host == "dataset.mirror.invalid":
            time.sleep(3)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    monkeypatch.setenv("SKIPWIRE_CONNECT_TIMEOUT", "0.3")
    monkeypatch.setenv("SKIPWIRE_DATASETS_URL", "http://dataset.mirror.invalid/")
    t0 = time.perf_counter()
    msg = refused(cache)
    assert "cannot resolve dataset.mirror.invalid within 0.3 s" in msg and time.perf_counter() - t0 < 2


def test_https_source_verified_against_the_trusted_certificates(cache, monkeypatch):
    from fake_downloads import TLS_CERT

    files = mnist_files()
    with Server(tls=True) as tls:
        for name, body in files.items():
            tls.serve(name, body)
        monkeypatch.setenv("SKIPWIRE_DATASETS_URL", tls.url)
        with sources.override(manifest(files)):
            monkeypatch.setenv(
                "SSL_CERT_FILE", str(TLS_CERT / "missing")
            )  # the test certificate is not trusted
            msg = refused(cache, "mnist")
            assert "certificate verify failed" in msg.lower()
            monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))
            path = download.ensure_dataset("mnist")
    assert sorted(p.name for p in path.iterdir()) == sorted(files)
