"""Runs training jobs in a child process and drains its metric queue without blocking the UI.

A ``Job`` is one run (a project dict, a flat config dict, a run folder). The
controller starts jobs one after another (the degradation experiment queues
four), and a 50 ms ``QTimer`` (20 Hz) drains the running child's queue with
``poll`` in small batches until the queue is empty or a per-tick budget of
records and milliseconds is spent, so a flood of metrics never stalls the
event loop; what is left waits for the next tick. Each tick emits at most one
``records`` signal per run.

The child reports its own failures as an ``error`` record. If it dies
without a final record (killed, segfault, out of memory), the controller
makes one up: "the training process exited unexpectedly (exit code N)".

``training.process`` (which starts the spawned child) is imported only when
the first job starts; tests pass a ``factory`` with the same signature. A job with
``extra["resume"]`` continues its stopped run folder: the factory is called with ``resume=True``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

FINAL_STATES = ("completed", "stopped", "diverged")
Factory = Callable[[dict, dict, str], Any]


@dataclass
class Job:
    label: str  # shown in legends and the status line ("resnet20 · synthetic")
    project: dict  # the project file dict that is trained
    config: dict  # TrainConfig.to_dict()
    run_dir: Path  # the new run folder
    key: str = ""  # stable identity of the run on screen (defaults to the folder path)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        if not self.key:
            self.key = str(self.run_dir)


def default_factory(
    project: dict, config: dict, run_dir: str, resume: bool = False, processes: int | None = None
):
    from training.process import start_training  # imported late: the child imports torch, we do not

    return start_training(project, config, run_dir, resume=resume, processes=processes)


class TrainingController(QObject):
    job_started = Signal(object)  # Job
    records = Signal(str, list)  # run key, the records drained this tick
    job_finished = Signal(object, str, str)  # Job, state (completed|stopped|diverged|error), message
    queue_finished = Signal()  # every queued job is done (or the queue was stopped)
    busy_changed = Signal(bool)

    def __init__(
        self,
        factory: Factory | None = None,
        interval_ms: int = 50,
        max_records: int = 2000,
        budget_ms: float = 12.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.factory = factory or default_factory
        self.max_records = max_records
        self.budget_ms = budget_ms
        self.batch = 250
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._queue: list[Job] = []
        self.current: Job | None = None
        self._proc: Any = None
        self._final: tuple[str, str] | None = None
        self._stopping = False
        self._dead_ticks = 0
        self.drained = 0  # records received in total (for the benchmark and tests)

    # ----- public -------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._queue)

    @property
    def pending(self) -> list[Job]:
        return list(self._queue)

    def start(self, jobs: list[Job]) -> None:
        """Queue ``jobs`` and start the first (if nothing is running)."""
        was_busy = self.busy
        self._queue.extend(jobs)
        if self.current is None:
            self._start_next()
        if self.busy != was_busy:
            self.busy_changed.emit(self.busy)

    def stop(self) -> None:
        """Ask the running child to stop (it checkpoints and reports "stopped") and drop queued jobs."""
        self._queue.clear()
        if self._proc is not None and not self._stopping:
            self._stopping = True
            with contextlib.suppress(Exception):  # a dead child cannot be stopped; the tick notices
                self._proc.stop()

    def shutdown(self) -> None:
        """The window closes: ask the child to stop and return at once. The child stops at its next
        step (with a checkpoint) and exits by itself; when this process exits, the child sees its
        control pipe close and stops too (training/child_link.py), so nothing is waited for here."""
        self.stop()
        self._timer.stop()

    def kill(self) -> None:
        """End the running child at once (no checkpoint) and drop queued jobs; returns at once."""
        self._queue.clear()
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()

    # ----- internals ----------------------------------------------------------
    def _start_next(self) -> None:
        if not self._queue:
            return
        job = self._queue.pop(0)
        self.current, self._final, self._stopping, self._dead_ticks = job, None, False, 0
        self.job_started.emit(job)
        try:
            if job.extra.get("resume"):  # continue a stopped run in its own folder (Runs ▸ Resume)
                self._proc = self.factory(job.project, job.config, str(job.run_dir), resume=True)
            elif job.extra.get("processes"):  # several processes through torchrun
                self._proc = self.factory(
                    job.project, job.config, str(job.run_dir), processes=job.extra["processes"]
                )
            else:
                self._proc = self.factory(job.project, job.config, str(job.run_dir))
        except Exception as exc:  # noqa: BLE001 - e.g. a config the engine rejects before spawning
            self._proc = None
            msg = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            rec = {"kind": "error", "time": time.time(), "message": f"could not start training: {msg}"}
            self.records.emit(job.key, [rec])
            self._finish("error", rec["message"])
            return
        self._timer.start()

    def _on_tick(self) -> None:
        proc, job = self._proc, self.current
        if proc is None or job is None:
            self._timer.stop()
            return
        got: list[dict] = []
        t0 = time.perf_counter()
        while len(got) < self.max_records:
            batch = _poll(proc, self.batch)
            if not batch:
                break
            got.extend(batch)
            if (time.perf_counter() - t0) * 1000 > self.budget_ms:
                break
        for rec in got:
            kind = rec.get("kind")
            if kind == "error":
                self._final = ("error", str(rec.get("message") or "training failed"))
            elif kind == "status" and rec.get("state") in FINAL_STATES and self._final is None:
                self._final = (rec["state"], str(rec.get("message") or ""))
        self.drained += len(got)
        if got:
            self.records.emit(job.key, got)
        if got and len(got) >= self.max_records:
            return  # more is waiting; do not conclude anything yet
        if self._final is not None and getattr(proc, "closed", False) is True:
            # the final record is in and the child closed its pipe: it is exiting; do not wait for it
            _reap_later(proc)
            self._finish(*self._final)
            return
        if not _alive(proc):
            self._dead_ticks += 1
            if got or self._dead_ticks < 2:
                return  # one more tick: records sent just before exit may still be in flight
            if self._final is None:
                code = getattr(proc, "exitcode", None)
                if code is None:
                    code = getattr(getattr(proc, "process", None), "exitcode", None)
                msg = "the training process exited unexpectedly" + (
                    f" (exit code {code})" if code is not None else ""
                )
                rec = {"kind": "error", "time": time.time(), "message": msg}
                self.records.emit(job.key, [rec])
                self._final = ("error", msg)
            self._finish(*self._final)

    def _finish(self, state: str, message: str) -> None:
        job = self.current
        self._timer.stop()
        self._proc, self.current = None, None
        if state == "error" and not job.extra.get("continue_on_error"):
            self._queue.clear()
        self.job_finished.emit(job, state, message)
        if self._stopping:
            self._queue.clear()
        if self._queue:
            self._start_next()
        else:
            self.queue_finished.emit()
            self.busy_changed.emit(False)


def _poll(proc: Any, n: int) -> list[dict]:
    try:
        return list(proc.poll(n) or [])
    except Exception:  # noqa: BLE001 - a broken pipe from a dead child: nothing more to read
        return []


def _reap_later(proc: Any, grace_ms: int = 30_000) -> None:
    """A child that said its last word but has not exited yet gets ``grace_ms`` to do so, then is
    killed (a hung exit must not leave a process behind)."""

    def reap() -> None:
        if _alive(proc):
            with contextlib.suppress(Exception):
                proc.kill()

    QTimer.singleShot(grace_ms, reap)


def _alive(proc: Any) -> bool:
    try:
        return bool(proc.is_alive())
    except Exception:  # noqa: BLE001
        return False
