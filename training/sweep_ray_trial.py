"""One sweep trial on a Ray worker: the same engine entry as the local pool's child process.

The driver (training/sweep_ray.py) wraps ``Trial`` with ``ray.remote`` (a threaded actor, so ``poll``
and ``stop`` are answered while ``run`` trains) and asks for the resources the trial needs. ``run``
trains into a folder of the worker's own temporary directory, through ``engine.train`` or
``engine.resume`` exactly as training/process.py's child does, and returns the finished run
folder as bytes (training/run_archive.py), whatever the outcome. After every checkpoint it keeps a
snapshot of the folder, taken in the training thread right after the checkpoint was written (so the
``last``/``best`` pairs match); the driver fetches it, so a worker that is lost mid-run leaves the
sweep a copy to resume from. The class is plain Python (ray is imported only to name the node).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import traceback
from pathlib import Path

from training.run_archive import pack, unpack


class Trial:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._snapshot: tuple[int, bytes] | None = None
        self._started = False
        self._run_dir = Path()
        self._node = ""

    # ---------------------------------------------------------------- called by the driver
    def run(
        self,
        name: str,
        project_dict: dict | None,
        config_dict: dict | None,
        resume_from: bytes | None = None,
        overrides: dict | None = None,
        sweep: dict | None = None,
    ) -> dict:
        """Train one run; returns {"outcome", "message", "folder" (bytes or None), "gpu_total_mb"}.

        outcome: completed | stopped | diverged | failed | not_started (stop came first). ``sweep``
        (the sweep's axes and this run's entry) is laid beside the run folder as sweep.json, as in
        the sweep folder, so the run's TensorBoard files carry its values as hparams."""
        with self._lock:
            if self._stop.is_set():
                return {"outcome": "not_started", "message": "stopped before it started", "folder": None}
            self._started = True
        self._node = _node_address()
        from graph.errors import UserError
        from training import engine

        tmp = Path(tempfile.mkdtemp(prefix="skipwire-trial-"))
        run_dir = self._run_dir = tmp / name
        outcome, message = "failed", ""
        try:
            if sweep is not None:
                (tmp / "sweep.json").write_text(json.dumps(sweep), encoding="utf-8")
            try:
                if resume_from is not None:
                    unpack(resume_from, run_dir)
                    res = engine.resume(
                        run_dir, on_metric=self._on_metric, should_stop=self._stop.is_set, **(overrides or {})
                    )
                else:
                    res = engine.train(
                        project_dict,
                        config_dict,
                        run_dir,
                        on_metric=self._on_metric,
                        should_stop=self._stop.is_set,
                    )
                outcome, message = res.status, res.message
            except UserError as exc:  # engine.TrainingError is a UserError
                message = exc.message
            except Exception as exc:  # noqa: BLE001 - the driver must hear about anything
                message = f"the trial failed: {type(exc).__name__}: {exc}"
                self._add({"kind": "error", "message": message, "traceback": traceback.format_exc()})
            folder = pack(run_dir) if (run_dir / "config.json").exists() else None
            return {
                "outcome": outcome,
                "message": message,
                "folder": folder,
                "gpu_total_mb": _gpu_total_mb(),
                "records": self.poll()[0],  # what no poll took yet
                "node": self._node,
            }
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def poll(self) -> tuple[list[dict], int, str]:
        """The records since the last poll, the number of the latest snapshot (0: none yet), and the
        address of the node the trial runs on."""
        with self._lock:
            out, self._records = self._records, []
            return out, (self._snapshot[0] if self._snapshot else 0), self._node

    def snapshot(self) -> tuple[int, bytes] | None:
        with self._lock:
            return self._snapshot

    def stop(self) -> bool:
        """Ask the run to stop after its current step (it then saves a checkpoint); True if it had started."""
        with self._lock:
            self._stop.set()
            return self._started

    # ---------------------------------------------------------------- in the training thread
    def _add(self, rec: dict) -> None:
        with self._lock:
            self._records.append(rec)

    def _on_metric(self, rec: dict) -> None:
        self._add(rec)
        if rec.get("kind") == "status" and rec.get("state") == "checkpoint":
            data = pack(self._run_dir)
            with self._lock:
                number = (self._snapshot[0] if self._snapshot else 0) + 1
                self._snapshot = (number, data)


def _node_address() -> str:
    try:
        import ray

        return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - only shown in the log
        return ""


def _gpu_total_mb() -> float | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory / 2**20
    except Exception:  # noqa: BLE001, S110 - only a hint for the next trial's request
        pass
    return None


__all__ = ["Trial"]
