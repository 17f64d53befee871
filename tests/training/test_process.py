"""Training in a spawned child process: records stream back, stop works, crashes are reported."""

from __future__ import annotations

import os
import signal
import time

import pytest
from train_helpers import tiny_resnet

from training.config import TrainConfig
from training.process import start_training

pytestmark = pytest.mark.timeout(120)


def _project():
    return tiny_resnet((1, 8, 8), classes=3, width=4).to_dict()


def _drain(proc, until, timeout: float = 120.0) -> list[dict]:
    got, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        got += proc.poll(200)
        if until(got):
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out; last records: {got[-3:]}")


def test_child_streams_records_and_stops_on_request(tmp_path):
    cfg = TrainConfig(epochs=200, batch_size=250, lr=0.05, grad_every=0, threads=1).to_dict()
    proc = start_training(_project(), cfg, tmp_path / "run")
    try:
        first = proc.poll()
        assert first[0]["kind"] == "status" and first[0]["state"] == "starting"
        got = _drain(proc, lambda rs: any(r["kind"] == "epoch" for r in rs))
        proc.stop()
        got += _drain(proc, lambda rs: proc.finished)
        assert got[-1]["kind"] == "status" and got[-1]["state"] == "stopped", got[-1]
        assert any(r["kind"] == "step" for r in got)
        assert proc.join(30) == 0
        assert proc.poll() == []  # a clean exit after a final record adds no error
    finally:
        proc.kill()
    done = max(r["epoch"] for r in got if r["kind"] == "epoch")
    again = start_training(None, None, tmp_path / "run", resume=True, overrides={"epochs": done + 1})
    try:
        got = _drain(again, lambda rs: again.finished)
        assert any(r.get("state") == "resumed" for r in got)
        assert got[-1]["kind"] == "status" and got[-1]["state"] == "completed", got[-1]
        assert [r["epoch"] for r in got if r["kind"] == "epoch"] == [done + 1]
    finally:
        again.kill()


def test_exception_in_child_arrives_as_error_record(tmp_path):
    cfg = TrainConfig(dataset=f"mnist:{tmp_path / 'missing'}").to_dict()
    proc = start_training(_project(), cfg, tmp_path / "run")
    try:
        got = _drain(proc, lambda rs: proc.finished)
        err = [r for r in got if r["kind"] == "error"]
        assert len(err) == 1 and "does not exist" in err[0]["message"] and err[0]["exit_code"] == 2
    finally:
        proc.kill()


def test_failure_during_training_gives_one_error_record(tmp_path):
    cfg = TrainConfig(weights=str(tmp_path / "missing.safetensors"), threads=1).to_dict()
    proc = start_training(_project(), cfg, tmp_path / "run")
    try:
        got = _drain(proc, lambda rs: proc.finished)
        time.sleep(0.5)
        got += proc.poll()
        err = [r for r in got if r["kind"] == "error"]
        assert len(err) == 1 and "does not exist" in err[0]["message"], err
        assert proc.join(30) == 2
    finally:
        proc.kill()


def test_killed_child_is_reported(tmp_path):
    cfg = TrainConfig(epochs=200, batch_size=250, grad_every=0, threads=1).to_dict()
    proc = start_training(_project(), cfg, tmp_path / "run")
    try:
        _drain(proc, lambda rs: any(r["kind"] == "step" for r in rs))
        os.kill(proc.pid, signal.SIGKILL)
        got = _drain(proc, lambda rs: proc.finished)
        assert got[-1]["kind"] == "error" and "SIGKILL" in got[-1]["message"]
        assert not proc.is_alive()
    finally:
        proc.kill()


_ORPHAN_PARENT = """
import sys, time
sys.path[:0] = [{root!r}, {here!r}]
from train_helpers import tiny_resnet
from training.config import TrainConfig
from training.process import start_training
cfg = TrainConfig(epochs=10000, batch_size=250, lr=0.05, grad_every=0, threads=1).to_dict()
proc = start_training(tiny_resnet((1, 8, 8), classes=3, width=4).to_dict(), cfg, {run!r})
t0 = time.monotonic()
while time.monotonic() - t0 < 120:
    if any(r["kind"] == "step" for r in proc.poll(200)):
        break
    time.sleep(0.05)
print(proc._proc.pid, flush=True)
import os
os._exit(0)  # the editor dies without stopping its child
"""


def test_child_stops_when_its_parent_dies(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    script = _ORPHAN_PARENT.format(root=str(here.parent.parent), here=str(here), run=str(tmp_path / "run"))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=150, check=False
    )
    child = int(out.stdout.strip().splitlines()[-1])
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the orphaned training child kept running")
    from training.metrics import read_metrics

    states = [
        r.get("state") for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if r["kind"] == "status"
    ]
    assert "stopped" in states  # it stopped cleanly (with a checkpoint), not killed
