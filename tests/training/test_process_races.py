"""Issue 19: every race between the parent and a training child, decided deterministically.

Each parent-side call (stop, poll, is_alive, kill, join(0)) runs in a helper thread that must come
back; a call that deadlocks (as ``multiprocessing.Event.set`` did once the child had exited inside
``wait``) fails the test with a stack dump instead of hanging it. Nothing here depends on the
machine's speed: the child is held where a race would happen (the test hook
``SKIPWIRE_TEST_HOLD_FINAL``), stopped with SIGSTOP, or killed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from train_helpers import tiny_resnet

from training.child_link import HOLD_FINAL_ENV
from training.config import TrainConfig
from training.process import start_training

pytestmark = pytest.mark.timeout(120)


def _project():
    return tiny_resnet((1, 8, 8), classes=3, width=4).to_dict()


def _returns(fn, *args):
    """Call ``fn`` in a thread; fail (naming it) if it has not returned within 20 s: a deadlock, not a
    slow machine (each call does a syscall or two)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} blocked"
    return out[0] if out else None


def _drain(proc, until, timeout: float = 100.0) -> list[dict]:
    got, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        got += _returns(proc.poll, 200)
        if until(got):
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out; last records: {got[-3:]}")


def _wait_for(path: Path, proc, timeout: float = 100.0) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert proc.is_alive(), "the child exited before reaching the hook"
        assert time.monotonic() - t0 < timeout, f"the child never reached {path.name}"
        time.sleep(0.02)


def _short(**kw):
    return TrainConfig(epochs=1, batch_size=250, grad_every=0, threads=1, **kw).to_dict()


def _long():
    return TrainConfig(epochs=100_000, batch_size=250, grad_every=0, threads=1).to_dict()


def test_stop_while_the_child_writes_its_final_record(tmp_path, monkeypatch):
    hold = tmp_path / "release"
    monkeypatch.setenv(HOLD_FINAL_ENV, str(hold))
    proc = start_training(_project(), _short(), tmp_path / "run")
    try:
        _wait_for(Path(str(hold) + ".reached"), proc)
        _returns(proc.stop)  # the child sits exactly between "done" and its final record
        _returns(proc.stop)
        hold.write_text("go")
        got = _drain(proc, lambda rs: proc.finished)
        final = got[-1]
        assert final["kind"] == "status" and final["state"] == "completed", final
        assert _returns(proc.join, 60) == 0
        assert _returns(proc.poll) == []
    finally:
        proc.kill()


def test_stop_after_the_child_has_exited_returns_at_once(tmp_path):
    proc = start_training(_project(), _short(), tmp_path / "run")
    try:
        got = _drain(proc, lambda rs: proc.finished)
        assert got[-1].get("state") == "completed"
        assert _returns(proc.join, 60) == 0
        for _ in range(5):  # the editor's bug: Stop on a child that had ended froze it for good
            _returns(proc.stop)
        assert _returns(proc.poll) == []
        assert not _returns(proc.is_alive)
    finally:
        proc.kill()


def test_stop_after_kill_9_reports_the_kill(tmp_path):
    proc = start_training(_project(), _long(), tmp_path / "run")
    try:
        _drain(proc, lambda rs: any(r["kind"] == "step" for r in rs))
        os.kill(proc.pid, signal.SIGKILL)
        _returns(proc.stop)
        got = _drain(proc, lambda rs: proc.finished)
        assert got[-1]["kind"] == "error" and "SIGKILL" in got[-1]["message"]
        _returns(proc.stop)
        assert _returns(proc.join, 0) == -signal.SIGKILL
    finally:
        proc.kill()


def test_stop_while_the_child_is_still_starting(tmp_path):
    proc = start_training(_project(), _long(), tmp_path / "run")
    try:
        _returns(proc.stop)  # at once: the child has not even imported torch
        _returns(proc.stop)
        got = _drain(proc, lambda rs: proc.finished)
        final = got[-1]
        assert final["kind"] == "status" and final["state"] == "stopped", final
        assert not any(r["kind"] == "error" for r in got)
        assert _returns(proc.join, 60) == 0
    finally:
        proc.kill()


def test_a_child_stuck_in_a_call_never_blocks_the_parent(tmp_path):
    """SIGSTOP freezes the child wherever it is (inside a C call, mid-write): every parent call still
    returns, and kill ends it."""
    proc = start_training(_project(), _long(), tmp_path / "run")
    try:
        _drain(proc, lambda rs: any(r["kind"] == "step" for r in rs))
        os.kill(proc.pid, signal.SIGSTOP)
        _returns(proc.stop)
        _returns(proc.poll, 1000)
        assert _returns(proc.is_alive)
        assert _returns(proc.join, 0) is None
        _returns(proc.kill)
        got = _drain(proc, lambda rs: proc.finished)
        assert got[-1]["kind"] == "error" and "SIGKILL" in got[-1]["message"]
    finally:
        proc.kill()


def test_a_zombie_child_is_reported_and_reaped(tmp_path):
    """The child has exited but nobody has waited for it yet: is_alive reaps it, poll reports it."""
    proc = start_training(_project(), _long(), tmp_path / "run")
    try:
        _drain(proc, lambda rs: any(r["kind"] == "step" for r in rs))
        os.kill(proc.pid, signal.SIGKILL)
        t0 = time.monotonic()
        while Path(f"/proc/{proc.pid}/stat").exists():  # a zombie until reaped
            if Path(f"/proc/{proc.pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                break
            assert time.monotonic() - t0 < 60
            time.sleep(0.02)
        _returns(proc.stop)
        assert not _returns(proc.is_alive)
        got = _drain(proc, lambda rs: proc.finished)
        assert "SIGKILL" in got[-1]["message"]
    finally:
        proc.kill()
