"""bench/bench_gpu_train.py is run by hand in a GPU session: keep it from rotting (its --smoke mode runs
the same code on the CPU with tiny sizes: the eager table, engine.train checks, resume, divergence)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_gpu_train_smoke():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_gpu_train.py"), "--smoke"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "resnet20       8" in out and "engine.train resnet20, cifar10:DIR" in out
    assert "bitwise identical" in out, out
    assert "lr 1e4: status diverged" in out, out


def test_bench_download_smoke(tmp_path):
    """bench/bench_download.py with a small tarball: the same code path (server process, child fetch,
    RSS sampling, naive baseline) in a few seconds."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_download.py"), "--records", "50", "--repeat", "1"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "run 1: skipwire" in r.stdout and "ratio" in r.stdout
