"""Training in a child process, for the editor: the event loop never blocks.

::

    proc = start_training(project.to_dict(), config.to_dict(), run_dir)   # or resume=True
    # from a 50 ms QTimer:
    for rec in proc.poll(max_items=500):   # metric dicts (training/metrics.py)
        ...
    proc.stop()        # asks the child to stop at the next step (it writes a "stopped" status)
    proc.is_alive()
    proc.finished      # True once a final status or error record has been seen
    proc.join(timeout) / proc.kill()

The child is not a daemon (so it may start DataLoader workers): call ``kill()`` when the
editor closes. It is started with ``multiprocessing.get_context("spawn")`` (never fork
a process that has Qt threads) and imports torch but no Qt; it takes 2-3 s to
start, during which ``poll`` yields one ``{"kind": "status", "state":
"starting"}`` record made by the parent. Records travel through a
``ctx.Queue``; the stop request is a ``ctx.Event``. If the child dies without
a final record (a crash, a kill, running out of host memory), ``poll``
yields an ``error`` record with its exit code; an exception in the child
arrives as an ``error`` record with the message (and the traceback).
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import signal
import traceback
from pathlib import Path

from training.metrics import FINAL_STATES, record


def _child(
    project_dict: dict | None,
    config_dict: dict | None,
    run_dir: str,
    resume: bool,
    overrides: dict | None,
    q,
    stop_event,
) -> None:
    """The child's entry point: train, streaming every record into the queue."""
    exit_code = 0
    _watch_parent(stop_event)
    try:
        from graph.errors import UserError
        from training import engine

        sent_error = []

        def put(rec: dict) -> None:
            if rec.get("kind") == "error":
                sent_error.append(rec)
            q.put(rec)

        try:
            if resume:
                engine.resume(run_dir, on_metric=put, should_stop=stop_event.is_set, **(overrides or {}))
            else:
                engine.train(project_dict, config_dict, run_dir, on_metric=put, should_stop=stop_event.is_set)
        except UserError as exc:
            if not sent_error:  # the engine reports failures it meets while training itself
                put(record("error", message=exc.message, exit_code=exc.exit_code))
            exit_code = exc.exit_code
    except BaseException as exc:  # noqa: BLE001 - the parent must hear about anything
        try:
            q.put(
                record(
                    "error",
                    message=f"the training process failed: {type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(),
                )
            )
        except Exception:  # noqa: BLE001, S110 - the queue itself is broken; the exit code still tells
            pass
        exit_code = 1
    finally:
        q.close()
        q.join_thread()  # make sure every record is flushed into the pipe before exiting
    raise SystemExit(exit_code)


def _watch_parent(stop_event, period_s: float = 1.0) -> None:
    """If the editor dies (killed, crashed), stop training cleanly instead of running on orphaned."""
    import threading

    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        while not stop_event.wait(period_s):
            if not parent.is_alive():
                stop_event.set()
                return

    threading.Thread(target=watch, name="skipwire-parent-watch", daemon=True).start()


class TrainingProcess:
    def __init__(self, proc, q, stop_event, run_dir: Path) -> None:
        self._proc, self._q, self._stop = proc, q, stop_event
        self.run_dir = run_dir
        self.finished = False  # a final status or an error record has been delivered
        self.exit_reported = False
        self._pending = [record("status", state="starting", message="starting the training process")]

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def poll(self, max_items: int = 1000) -> list[dict]:
        """Up to ``max_items`` records that have arrived; never blocks."""
        out, self._pending = self._pending[:max_items], self._pending[max_items:]
        while len(out) < max_items:
            try:
                rec = self._q.get_nowait()
            except queue_mod.Empty:
                break
            except (EOFError, OSError):
                break
            out.append(rec)
            if rec.get("kind") == "error" or (
                rec.get("kind") == "status" and rec.get("state") in FINAL_STATES
            ):
                self.finished = True
        if len(out) < max_items and self.finished and not self.exit_reported and not self._proc.is_alive():
            self.exit_reported = True  # a final record came; the exit itself needs no report
        if len(out) < max_items and not self._proc.is_alive() and not self.exit_reported:
            # the child is gone: drain what it managed to send, then report an unannounced exit
            try:
                while len(out) < max_items:
                    rec = self._q.get(timeout=0.02)
                    out.append(rec)
                    if rec.get("kind") == "error" or (
                        rec.get("kind") == "status" and rec.get("state") in FINAL_STATES
                    ):
                        self.finished = True
            except (queue_mod.Empty, EOFError, OSError):
                self.exit_reported = True
                if not self.finished:
                    out.append(
                        record(
                            "error", message=_exit_message(self._proc.exitcode), exit_code=self._proc.exitcode
                        )
                    )
                    self.finished = True
        return out

    def stop(self) -> None:
        """Ask the child to stop after the current step (it then writes a 'stopped' status)."""
        self._stop.set()

    def is_alive(self) -> bool:
        return self._proc.is_alive()

    def join(self, timeout: float | None = None) -> int | None:
        self._proc.join(timeout)
        return self._proc.exitcode

    def kill(self) -> None:
        """Terminate the child at once (no checkpoint of the current epoch)."""
        if self._proc.is_alive():
            self._proc.kill()


def _exit_message(code: int | None) -> str:
    if code is None:
        return "the training process stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of host memory?)" if name == "SIGKILL" else ""
        return f"the training process was killed by {name}{hint} before it finished"
    return f"the training process exited unexpectedly with code {code} before it finished"


def start_training(
    project_dict: dict | None,
    config_dict: dict | None,
    run_dir: str | Path,
    resume: bool = False,
    overrides: dict | None = None,
) -> TrainingProcess:
    """Start training in a spawned child process and return its handle at once.
    ``resume=True`` continues ``run_dir`` (project and config come from the run; ``overrides``
    may hold epochs / device)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    stop_event = ctx.Event()
    proc = ctx.Process(
        target=_child,
        args=(project_dict, config_dict, str(run_dir), resume, overrides, q, stop_event),
        name="skipwire-training",
        daemon=False,
    )
    proc.start()
    return TrainingProcess(proc, q, stop_event, Path(run_dir))
