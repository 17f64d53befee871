"""Benchmark fetching a real-size CIFAR-10 binary tarball into the cache from 127.0.0.1.

Goal (issue 8): download + verify + extract of a ~163 MB tarball from a local server
under 10 s, with no more than 50 MB of RAM above the process's baseline while extracting.

The tarball has CIFAR-10's layout and record count (5 x 10,000 + 10,000 records of 3,073
bytes); its pixels are random bytes in 0..161, which gzip compresses to about the real
file's size (162 MB). It is served by ``python -m http.server`` in a separate process.
Each measurement runs in a fresh child process that reports its wall time and the highest
RSS (``/proc/self/status`` VmRSS, sampled every 10 ms) above the RSS it had just before fetching.

Baseline, measured in the same run: the naive way (``urllib.request.urlretrieve``, then
``tarfile.extractall`` with ``filter="data"``), without checksum, lock or atomic rename.

Run: ``python bench/bench_download.py [--repeat N] [--keep DIR]``. Figures go into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOAL_S, GOAL_MB = 10.0, 50.0

SAMPLER = r"""
import threading
def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.base, self.peak, self.done = _rss_mb(), 0.0, threading.Event()
    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, _rss_mb())
            self.done.wait(0.01)
"""

CHILD_OURS = (
    SAMPLER
    + r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from training import download, sources
sampler = Sampler()
sampler.start()
with sources.override({"files": {"cifar-10-binary.tar.gz": {"md5": sys.argv[2], "size": int(sys.argv[3])}}}):
    t0 = time.perf_counter()
    download.ensure_dataset("cifar10")
    dt = time.perf_counter() - t0
sampler.done.set()
sampler.join()
print(json.dumps({"s": dt, "peak_above_mb": sampler.peak - sampler.base}))
"""
)

CHILD_NAIVE = (
    SAMPLER
    + r"""
import json, sys, tarfile, time, urllib.request, os
sampler = Sampler()
sampler.start()
t0 = time.perf_counter()
tmp = os.path.join(sys.argv[2], "naive.tar.gz")
urllib.request.urlretrieve(sys.argv[1], tmp)
with tarfile.open(tmp) as tf:
    tf.extractall(os.path.join(sys.argv[2], "naive"), filter="data")
os.unlink(tmp)
dt = time.perf_counter() - t0
sampler.done.set()
sampler.join()
print(json.dumps({"s": dt, "peak_above_mb": sampler.peak - sampler.base}))
"""
)


def make_tarball(path: Path, records: int = 10_000) -> tuple[str, int]:
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz", compresslevel=6) as tf:
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            rec = rng.integers(0, 162, (records, 3073), dtype=np.uint8)
            rec[:, 0] = np.arange(records) % 10
            data = rec.tobytes()
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest(), path.stat().st_size


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="folder for the generated tarball (reused if present)")
    ap.add_argument("--records", type=int, default=10_000, help="records per batch file (10,000: real size)")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="skipwire-bench-dl-"))
    work.mkdir(parents=True, exist_ok=True)
    tar = work / "cifar-10-binary.tar.gz"
    t0 = time.perf_counter()
    if tar.exists() and (work / "md5").exists():
        md5, size = (work / "md5").read_text().split()
        size = int(size)
    else:
        md5, size = make_tarball(tar, args.records)
        (work / "md5").write_text(f"{md5} {size}")
    print(
        f"tarball: {size / 2**20:.1f} MB ({size:,} bytes), md5 {md5} "
        f"(made in {time.perf_counter() - t0:.1f} s)"
    )
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/"
        ours, naive = [], []
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory(dir=work) as cache:
                env = dict(os.environ, SKIPWIRE_CACHE=cache, SKIPWIRE_DATASETS_URL=url)
                out = subprocess.run(
                    [sys.executable, "-c", CHILD_OURS, str(ROOT), md5, str(size)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                ours.append(json.loads(out.stdout))
                out = subprocess.run(
                    [sys.executable, "-c", CHILD_NAIVE, url + tar.name, cache],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                naive.append(json.loads(out.stdout))
            print(
                f"run {i + 1}: skipwire {ours[-1]['s']:.2f} s "
                f"(+{ours[-1]['peak_above_mb']:.1f} MB peak RSS), "
                f"naive {naive[-1]['s']:.2f} s (+{naive[-1]['peak_above_mb']:.1f} MB)"
            )
    finally:
        server.terminate()
        server.wait(5)
    med = statistics.median(r["s"] for r in ours)
    med_naive = statistics.median(r["s"] for r in naive)
    ram = max(r["peak_above_mb"] for r in ours)
    print(
        f"median: skipwire {med:.2f} s, naive {med_naive:.2f} s, ratio {med / med_naive:.2f}; "
        f"worst RAM above baseline {ram:.1f} MB (goals: < {GOAL_S:g} s, <= {GOAL_MB:g} MB)"
    )
    try:
        load = os.getloadavg()[0]
        print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    return 0 if med < GOAL_S and ram <= GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
