"""Training in a child process, for the editor and the sweep: no call from the parent ever blocks.

::

    proc = start_training(project.to_dict(), config.to_dict(), run_dir)   # or resume=True
    # from a 50 ms QTimer:
    for rec in proc.poll(max_items=500):   # metric dicts (training/metrics.py)
        ...
    proc.stop()        # asks the child to stop at the next step (it writes a "stopped" status)
    proc.is_alive()
    proc.finished      # True once a final status or error record has been seen
    proc.join(timeout) / proc.kill()

The child is a fresh interpreter (``python -m training.child JOBFILE``, started with
``subprocess.Popen``; never a fork of a process that has Qt threads) in a session of its own, so a
Ctrl-C in the terminal reaches the parent alone, which then stops its children cleanly. It imports
torch but no Qt and takes 2-3 s to start, during which ``poll`` yields one ``{"kind": "status",
"state": "starting"}`` record made by the parent. It talks to the parent through two pipes and
nothing else (training/child_link.py): records come back as length-prefixed JSON frames read with
non-blocking reads, and Stop is one byte written without blocking into the child's stdin. No lock,
semaphore or event is shared, so a child in any state (starting, running, writing its last record,
finished, crashed, killed, a zombie, stuck in a C call) cannot make ``stop``, ``poll``,
``is_alive``, ``kill`` or ``join(0)`` wait: each returns at once. If the child dies without a final
record, ``poll`` yields an ``error`` record with its exit code; an exception in the child arrives as
an ``error`` record with the message (and the traceback). If the parent dies, the child sees its
stdin close and stops like after Stop (docs/processes.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from training.child_link import RecordReader, send_stop
from training.metrics import FINAL_STATES, record

_ROOT = Path(__file__).resolve().parents[1]


class TrainingProcess:
    """The parent's handle on one child: every method returns at once."""

    def __init__(self, popen: subprocess.Popen, records_fd: int, control_fd: int, run_dir: Path) -> None:
        self._proc = popen
        self._reader = RecordReader(records_fd)
        self._control = control_fd
        os.set_blocking(control_fd, False)
        self.run_dir = Path(run_dir)
        self.finished = False  # a final status or an error record has been delivered
        self.exit_reported = False
        self.stop_requested = False
        self._pending = [record("status", state="starting", message="starting the training process")]

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    @property
    def exitcode(self) -> int | None:
        return self._proc.poll()

    @property
    def closed(self) -> bool:
        """The child has closed its records pipe: nothing more will arrive."""
        return self._reader.eof

    def poll(self, max_items: int = 1000) -> list[dict]:
        """Up to ``max_items`` records that have arrived; never blocks."""
        out, self._pending = self._pending[:max_items], self._pending[max_items:]
        if len(out) < max_items:
            out += self._reader.read(max_items - len(out))
        self.finished = self.finished or any(_is_final(r) for r in out)
        if len(out) < max_items and not self.exit_reported and self._proc.poll() is not None:
            # the child is gone: what it wrote before exiting is in the pipe already
            out += self._reader.read(max_items - len(out))
            self.finished = self.finished or any(_is_final(r) for r in out)
            if len(out) < max_items:
                self.exit_reported = True
                if not self.finished:
                    code = self._proc.returncode
                    out.append(record("error", message=_exit_message(code), exit_code=code))
                    self.finished = True
                self._reader.close()
                self._close_control()
        return out

    def stop(self) -> None:
        """Ask the child to stop after the current step (it then writes a 'stopped' status)."""
        self.stop_requested = True
        if not send_stop(self._control):
            self._close_control()

    def is_alive(self) -> bool:
        return self._proc.poll() is None

    def join(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting at most ``timeout`` seconds (None: until it exits; the editor
        never passes None)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout)
        return self._proc.poll()

    def kill(self) -> None:
        """End the child and everything it started (DataLoader workers) at once, with no checkpoint of
        the current epoch."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._close_control()

    def _close_control(self) -> None:
        if self._control >= 0:
            with contextlib.suppress(OSError):
                os.close(self._control)
            self._control = -1

    def __del__(self) -> None:  # a dropped handle closes its pipes (the child then stops, if running)
        with contextlib.suppress(Exception):
            self._reader.close()
            self._close_control()


def _is_final(rec: dict) -> bool:
    return rec.get("kind") == "error" or (rec.get("kind") == "status" and rec.get("state") in FINAL_STATES)


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


def start_child(target: str, payload: dict, run_dir: str | Path, env: dict | None = None) -> TrainingProcess:
    """Start ``python -m training.child`` that calls ``target`` ("module:function") with ``payload``
    and a link (``put(record)``, ``should_stop()``); return its handle at once."""
    fd, job_path = tempfile.mkstemp(prefix="skipwire-job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"target": target, "payload": payload}, f)
    rec_r, rec_w = os.pipe()
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), *[p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    try:
        popen = subprocess.Popen(
            [sys.executable, "-m", "training.child", job_path, str(rec_w)],
            stdin=subprocess.PIPE,
            pass_fds=(rec_w,),
            env=child_env,
            start_new_session=True,  # Ctrl-C in a terminal reaches the parent, which stops us cleanly
        )
    except BaseException:
        os.close(rec_r)
        os.close(rec_w)
        with contextlib.suppress(OSError):
            os.unlink(job_path)
        raise
    os.close(rec_w)  # the child holds the only write end: its exit is our end-of-file
    control = os.dup(popen.stdin.fileno())
    popen.stdin.close()
    return TrainingProcess(popen, rec_r, control, Path(run_dir))


def start_training(
    project_dict: dict | None,
    config_dict: dict | None,
    run_dir: str | Path,
    resume: bool = False,
    overrides: dict | None = None,
) -> TrainingProcess:
    """Start training in a child process and return its handle at once.
    ``resume=True`` continues ``run_dir`` (project and config come from the run; ``overrides``
    may hold epochs / device)."""
    payload = {
        "project": project_dict,
        "config": config_dict,
        "run_dir": str(Path(run_dir).absolute()),
        "resume": resume,
        "overrides": overrides,
    }
    return start_child("training.child:train_job", payload, run_dir)


__all__ = ["TrainingProcess", "start_child", "start_training"]
