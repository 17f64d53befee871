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

from graph.errors import UserError
from training.child_link import RecordReader, send_stop
from training.metrics import FINAL_STATES, record

_ROOT = Path(__file__).resolve().parents[1]
# SKIPWIRE_TRAIN_PROCESSES=N: the editor (and start_training's default) starts N processes through
# torchrun, on the CPU too (2 gloo processes on a machine without GPUs; README "Training at scale")
PROCESSES_ENV = "SKIPWIRE_TRAIN_PROCESSES"


def gpu_count() -> int:
    """NVIDIA GPUs this process may use, without importing torch (the editor asks at start-up):
    CUDA_VISIBLE_DEVICES when set, else the driver's list in /proc (0 elsewhere)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    gpus = Path("/proc/driver/nvidia/gpus")
    return sum(1 for _ in gpus.iterdir()) if gpus.is_dir() else 0


def process_choices() -> list[tuple[str, int]]:
    """What the Training tab offers: one process, all GPUs when there are several, and the
    SKIPWIRE_TRAIN_PROCESSES count (CPU processes on a machine without GPUs)."""
    out = [("one process (this GPU)" if gpu_count() else "one process", 1)]
    n = gpu_count()
    if n > 1:
        out.append((f"all {n} GPUs", n))
    try:
        env = processes_from_env()
    except UserError:
        env = 1
    if env > 1 and env != n:
        out.append(
            (f"{env} processes ({PROCESSES_ENV})" if n else f"{env} CPU processes ({PROCESSES_ENV})", env)
        )
    return out


def processes_from_env() -> int:
    """The process count SKIPWIRE_TRAIN_PROCESSES asks for (1 when unset)."""
    text = os.environ.get(PROCESSES_ENV, "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{PROCESSES_ENV} must be a whole number of processes (1 or more), not {text!r}")
    return int(text)


class TrainingProcess:
    """The parent's handle on one child: every method returns at once."""

    def __init__(
        self,
        popen: subprocess.Popen,
        records_fd: int,
        control_fd: int,
        run_dir: Path,
        job_dir: Path | None = None,
    ) -> None:
        self._proc = popen
        self._job_dir = job_dir  # torchrun: the job file and each rank's error record
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
                    out.append(
                        _rank_error(self._job_dir)
                        or record("error", message=_exit_message(code), exit_code=code)
                    )
                    self.finished = True
                self._reader.close()
                self._close_control()
                self._remove_job_dir()
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
        """End the child and everything it started (DataLoader workers; torchrun's ranks, each in a
        session of its own) at once, with no checkpoint of the current epoch."""
        if self._proc.poll() is None:
            for pgid in _child_groups(self._proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        self._close_control()

    def _remove_job_dir(self) -> None:
        if self._job_dir is not None:
            import shutil

            shutil.rmtree(self._job_dir, ignore_errors=True)
            self._job_dir = None

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


def _child_groups(pid: int) -> list[int]:
    """The process groups of ``pid``'s children (Linux /proc; torchrun starts each rank in a session
    of its own, so killing torchrun's group alone would leave them running)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            for child in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    out.append(os.getpgid(int(child)))
    return out


def _rank_error(job_dir: Path | None) -> dict | None:
    """The error record a rank other than 0 left (rank 0 streams its own), if any."""
    if job_dir is None:
        return None
    for path in sorted(job_dir.glob("rank-*.error.json")):
        with contextlib.suppress(OSError, ValueError):
            rec = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(rec, dict) and rec.get("kind") == "error":
                return rec
    return None


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


def start_child(
    target: str, payload: dict, run_dir: str | Path, env: dict | None = None, processes: int = 1
) -> TrainingProcess:
    """Start ``python -m training.child`` that calls ``target`` ("module:function") with ``payload``
    and a link (``put(record)``, ``should_stop()``); return its handle at once. ``processes`` > 1:
    ``torchrun --standalone --nproc_per_node N -m training.child``: rank 0 streams the records
    through torchrun's stdout, every rank reads Stop from the shared stdin, a rank other than 0
    leaves its error record in the job folder."""
    if processes > 1:
        return _start_ranks(target, payload, run_dir, env, processes)
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


def _start_ranks(target: str, payload: dict, run_dir, env: dict | None, processes: int) -> TrainingProcess:
    job_dir = Path(tempfile.mkdtemp(prefix="skipwire-job-"))
    job_path = job_dir / "job.json"
    job_path.write_text(json.dumps({"target": target, "payload": payload, "keep": True}), encoding="utf-8")
    rec_r, rec_w = os.pipe()
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), *[p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    child_env.setdefault("OMP_NUM_THREADS", "1")
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
    ]
    try:
        popen = subprocess.Popen(
            [*torchrun, "-m", "training.child", str(job_path), "stdout"],
            stdin=subprocess.PIPE,
            stdout=rec_w,
            env=child_env,
            start_new_session=True,
        )
    except BaseException:
        os.close(rec_r)
        os.close(rec_w)
        import shutil

        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    os.close(rec_w)  # torchrun and its ranks hold the write ends: their exit is our end-of-file
    control = os.dup(popen.stdin.fileno())
    popen.stdin.close()
    return TrainingProcess(popen, rec_r, control, Path(run_dir), job_dir)


def start_training(
    project_dict: dict | None,
    config_dict: dict | None,
    run_dir: str | Path,
    resume: bool = False,
    overrides: dict | None = None,
    processes: int | None = None,
) -> TrainingProcess:
    """Start training in a child process and return its handle at once.
    ``resume=True`` continues ``run_dir`` (project and config come from the run; ``overrides``
    may hold epochs / device). ``processes``: how many (torchrun, DDP; None: SKIPWIRE_TRAIN_PROCESSES
    or 1); on a machine without CUDA they train on the CPU with gloo."""
    payload = {
        "project": project_dict,
        "config": config_dict,
        "run_dir": str(Path(run_dir).absolute()),
        "resume": resume,
        "overrides": overrides,
    }
    n = processes_from_env() if processes is None else int(processes)
    return start_child("training.child:train_job", payload, run_dir, processes=n)


__all__ = [
    "PROCESSES_ENV",
    "TrainingProcess",
    "gpu_count",
    "process_choices",
    "processes_from_env",
    "start_child",
    "start_training",
]
