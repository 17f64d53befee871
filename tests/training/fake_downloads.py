"""A local HTTP server (a thread on 127.0.0.1) and small files in the real download formats.

``Server`` serves ``routes[path] = (mode, body)``; modes: ``ok``, ``404``, ``truncate`` (announces
the full length, sends half, closes), ``stall`` (headers and a few bytes, then silence),
``slow`` (chunks of ``slow_chunk`` bytes every ``slow_delay`` s). ``requests`` lists the paths asked for.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import ssl
import struct
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
TLS_CERT, TLS_KEY = DATA / "localhost-cert.pem", DATA / "localhost-key.pem"  # self-signed, for tests only


class Server:
    def __init__(self, tls: bool = False) -> None:
        self.tls = tls
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: list[str] = []
        self.slow_chunk = 4096
        self.slow_delay = 0.05
        self.stall_s = 5.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                mode, body = outer.routes.get(self.path, ("404", b""))
                if mode == "404":
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if mode == "ok":
                        self.wfile.write(body)
                    elif mode == "truncate":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                    elif mode == "stall":
                        self.wfile.write(body[:100])
                        self.wfile.flush()
                        time.sleep(outer.stall_s)
                    elif mode == "slow":
                        for i in range(0, len(body), outer.slow_chunk):
                            self.wfile.write(body[i : i + outer.slow_chunk])
                            self.wfile.flush()
                            time.sleep(outer.slow_delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(TLS_CERT, TLS_KEY)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        if self.tls:
            return f"https://localhost:{self.httpd.server_address[1]}/"
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve(self, name: str, body: bytes, mode: str = "ok", prefix: str = "/") -> None:
        self.routes[prefix + name] = (mode, body)


# ------------------------------------------------------------------ file formats
def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def targz(members: dict[str, bytes], extra=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tf)
    return buf.getvalue()


def cifar10_tar(per_batch: int = 16, test: int = 20, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)

    def records(n: int) -> bytes:
        labels = (np.arange(n) % 10).astype(np.uint8).reshape(n, 1)
        return np.concatenate([labels, rng.integers(0, 256, (n, 3072), dtype=np.uint8)], axis=1).tobytes()

    members = {f"cifar-10-batches-bin/data_batch_{i}.bin": records(per_batch) for i in range(1, 6)}
    members["cifar-10-batches-bin/test_batch.bin"] = records(test)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    return targz(members)


def cifar100_tar(train: int = 80, test: int = 20, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)

    def records(n: int) -> bytes:
        fine = (np.arange(n) % 100).astype(np.uint8)
        coarse = (fine // 5).astype(np.uint8)
        img = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return np.concatenate([coarse[:, None], fine[:, None], img], axis=1).tobytes()

    fine_names = "\n".join(f"fine{i}" for i in range(100)).encode()
    coarse_names = "\n".join(f"coarse{i}" for i in range(20)).encode()
    return targz(
        {
            "cifar-100-binary/train.bin": records(train),
            "cifar-100-binary/test.bin": records(test),
            "cifar-100-binary/fine_label_names.txt": fine_names,
            "cifar-100-binary/coarse_label_names.txt": coarse_names,
        }
    )


def idx(arr: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    )


def mnist_files(train: int = 60, test: int = 20, seed: int = 2) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", train), ("t10k", test)):
        out[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(
            idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        )
        out[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx((np.arange(n) % 10).astype(np.uint8)))
    return out


def manifest(files: dict[str, bytes], weights: dict | None = None) -> dict:
    return {
        "files": {name: {"md5": md5(body), "size": len(body)} for name, body in files.items()},
        "weights": weights or {},
    }


def write_manifest(path, files: dict[str, bytes], weights: dict | None = None) -> str:
    path.write_text(json.dumps(manifest(files, weights)))
    return str(path)
