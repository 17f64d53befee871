"""The editor's child under torchrun (SKIPWIRE_TRAIN_PROCESSES, issue 20): 2 gloo ranks on the CPU
started by start_training; rank 0's records stream, Stop reaches every rank, a rank's crash is
reported with its message, nothing is left running. Waits poll the child (no sleeps as sync)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from train_helpers import tiny_resnet

from training import engine
from training.config import TrainConfig
from training.process import _child_groups, processes_from_env, start_child, start_training
from training.runs import load_checkpoint

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.timeout(300)


def _drain_until(proc, done, limit_s: float = 240.0) -> list[dict]:
    """Poll until ``done(records)``; the limit only ends a hung test (it is no verdict on speed)."""
    recs: list[dict] = []
    end = time.monotonic() + limit_s
    while not done(recs):
        assert time.monotonic() < end, f"no end in sight; got {[r.get('state') or r['kind'] for r in recs]}"
        recs += proc.poll(500)
        time.sleep(0.02)
    return recs


def _ranks_gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            continue  # a zombie: ended, not yet reaped by its (dead or exiting) parent
        return False
    return True


def test_processes_setting_reads_the_environment(monkeypatch):
    monkeypatch.setenv("SKIPWIRE_TRAIN_PROCESSES", "2")
    assert processes_from_env() == 2
    monkeypatch.setenv("SKIPWIRE_TRAIN_PROCESSES", "two")
    with pytest.raises(Exception, match="SKIPWIRE_TRAIN_PROCESSES must be a whole number"):
        processes_from_env()


def test_two_ranks_stream_stop_together_and_resume_in_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPWIRE_TRAIN_PROCESSES", "2")
    project = tiny_resnet((1, 12, 12), classes=4, width=4)
    cfg = TrainConfig(epochs=30, batch_size=100, lr=0.05, device="cpu", seed=1)
    run = tmp_path / "run"
    proc = start_training(project.to_dict(), cfg.to_dict(), run)
    recs = _drain_until(proc, lambda rs: sum(r["kind"] == "step" for r in rs) >= 3)
    ranks = _child_groups(proc.pid)  # each rank leads its own process group: group id = pid
    assert len(ranks) == 2
    proc.stop()
    recs += _drain_until(proc, lambda rs: proc.finished and proc.closed)
    assert proc.join(60) == 0
    states = [r.get("state") for r in recs if r["kind"] == "status"]
    assert "stopped" in states and "error" not in [r["kind"] for r in recs]
    assert states.count("running") == 1  # rank 0 alone streams
    _, state = load_checkpoint(run, "last")
    assert state["partial"]["batch"] > 0
    assert _ranks_gone(ranks)
    assert engine.resume(run, epochs=1).status == "completed"  # the 2-rank stop resumes in 1 process


def test_a_crash_of_rank_1_is_reported_with_its_message_and_nothing_is_left(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(HERE))
    proc = start_child("ddp_jobs:fail_on_rank_1", {}, tmp_path, env=env, processes=2)
    recs = _drain_until(proc, lambda rs: proc.finished and proc.exit_reported)
    errors = [r for r in recs if r["kind"] == "error"]
    assert errors and "rank 1 could not read its shard" in errors[-1]["message"]
    assert proc.join(60) not in (None, 0)
    assert proc._job_dir is None  # the job folder (job file, rank error records) is removed
