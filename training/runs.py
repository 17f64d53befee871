"""The run store: one folder per training run (docs/architecture.md "Contracts").

::

    runs/resnet20-20261127-041500/
        project.json      the exact graph trained (the project file format)
        config.json       the TrainConfig (flat)
        model.py          the generated code that was trained; resume builds from it
        run.json          created, status, message, device, dataset facts (shape, classes,
                          mean/std used for normalisation), epochs done, best accuracy
        metrics.jsonl     one record per line (training/metrics.py)
        last.safetensors  weights (model state_dict) after the latest epoch, or where the run
                          was stopped on request
        last.pt           the rest: optimizer, step, epochs finished, RNG states, best so far, and
                          after a stop "partial" (the epoch's permutation, batches done, running
                          sums); plain tensors and containers, loadable with torch.load(weights_only=True)
        best.safetensors, best.pt   the same for the epoch with the best validation accuracy

Files are written to a temporary name and renamed, so a crash never leaves
half a checkpoint. ``list_runs(dir)`` and ``load_run(dir)`` read it back.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graph.atomic import write_bytes_atomic
from graph.errors import UserError
from training.metrics import read_metrics

CHECKPOINT_TAGS = ("last", "best")


@dataclass
class RunInfo:
    path: Path
    name: str
    project_name: str = ""
    created: str = ""
    status: str = "unknown"  # running | completed | stopped | diverged | failed | unknown
    message: str = ""
    dataset: str = ""
    device: str = ""
    epochs: int = 0
    epochs_done: int = 0
    best_val_acc: float | None = None
    last_val_acc: float | None = None
    meta: dict = field(default_factory=dict)

    @property
    def project(self) -> dict:
        return read_json(self.path / "project.json")

    @property
    def config(self) -> dict:
        return read_json(self.path / "config.json")

    @property
    def model_source(self) -> str:
        return (self.path / "model.py").read_text(encoding="utf-8")

    def metrics(self) -> list[dict]:
        return read_metrics(self.path / "metrics.jsonl")

    def has_checkpoint(self, tag: str = "last") -> bool:
        return (self.path / f"{tag}.safetensors").exists() and (self.path / f"{tag}.pt").exists()


# --------------------------------------------------------------------- files
def write_atomic(path: Path, data: bytes) -> None:
    """A temporary file beside ``path``, renamed into place when complete (graph.atomic): an
    interrupted write leaves the previous file and no temporary file."""
    write_bytes_atomic(path, data)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing; is this a run folder?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from None


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return s[:40] or "run"


def new_run_path(out_dir: str | Path, project_name: str) -> Path:
    """A fresh folder name under ``out_dir``: <project-slug>-<YYYYmmdd-HHMMSS>[-n] (not created)."""
    out = Path(out_dir)
    base = f"{_slug(project_name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    run, n = out / base, 1
    while run.exists():
        n += 1
        run = out / f"{base}-{n}"
    return run


def create_run(run: str | Path, project_dict: dict, config: dict, source: str, meta: dict) -> Path:
    """Make the run folder ``run`` (absent or empty) with project.json, config.json, model.py, run.json."""
    run = Path(run)
    if run.exists() and any(run.iterdir()):
        raise UserError(f"run folder {run} already exists and is not empty; use --resume to continue it")
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "project.json", project_dict)
    write_json(run / "config.json", config)
    write_atomic(run / "model.py", source.encode("utf-8"))
    write_json(
        run / "run.json",
        {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "running",
            "message": "",
            "epochs_done": 0,
            **meta,
        },
    )
    return run


def update_run_meta(run: Path, **fields: Any) -> None:
    meta = read_json(run / "run.json") if (run / "run.json").exists() else {}
    meta.update(fields)
    write_json(run / "run.json", meta)


# -------------------------------------------------------------- checkpoints
def save_checkpoint(run: Path, tag: str, state_dict: dict, state: dict) -> None:
    """Weights to <tag>.safetensors, everything else to <tag>.pt (weights_only-loadable)."""
    import torch
    from safetensors.torch import save as st_save

    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in state_dict.items()}
    write_atomic(run / f"{tag}.safetensors", st_save(tensors, metadata={"format": "pt"}))
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    write_atomic(run / f"{tag}.pt", buf.getvalue())


def load_checkpoint(run: Path, tag: str = "last") -> tuple[dict, dict]:
    import torch
    from safetensors.torch import load_file

    w, s = Path(run) / f"{tag}.safetensors", Path(run) / f"{tag}.pt"
    if not w.exists() or not s.exists():
        raise UserError(f"{run} has no '{tag}' checkpoint (no finished epoch yet?)")
    return load_file(str(w)), torch.load(s, map_location="cpu", weights_only=True)


def load_weights_file(path: str | Path) -> dict:
    """A state_dict from a run folder, a .safetensors file or a torch.save file (weights_only).

    Files are read by ``codegen.weights.read_state_dict`` (the one reader: it unwraps
    checkpoint dicts such as the exported script's and DDP's ``module.`` prefix).
    """
    from codegen.weights import read_state_dict

    p = Path(path)
    if not p.exists():
        raise UserError(f"weights file {str(p)!r} does not exist")
    if p.is_dir():
        if (p / "best.safetensors").exists():
            p = p / "best.safetensors"
        elif (p / "last.safetensors").exists():
            p = p / "last.safetensors"
        else:
            raise UserError(f"{p} is a folder without best.safetensors or last.safetensors")
    return read_state_dict(p)


# ------------------------------------------------------------------- reading
def load_run(path: str | Path) -> RunInfo:
    p = Path(path)
    if not (p / "config.json").exists() or not (p / "project.json").exists():
        raise UserError(f"{p} is not a run folder (no config.json / project.json)")
    meta = read_json(p / "run.json") if (p / "run.json").exists() else {}
    cfg = read_json(p / "config.json")
    info = RunInfo(path=p, name=p.name, meta=meta)
    info.project_name = read_json(p / "project.json").get("name", "")
    info.created = meta.get("created", "")
    info.status = meta.get("status", "unknown")
    info.message = meta.get("message", "")
    info.dataset = cfg.get("dataset", "")
    info.device = meta.get("device", "")
    info.epochs = int(cfg.get("epochs", 0))
    info.epochs_done = int(meta.get("epochs_done", 0))
    info.best_val_acc = meta.get("best_val_acc")
    info.last_val_acc = meta.get("last_val_acc")
    return info


def list_runs(path: str | Path = "runs") -> list[RunInfo]:
    """Every run folder directly under ``path``, oldest first."""
    p = Path(path)
    if not p.is_dir():
        return []
    out = []
    for d in sorted(p.iterdir()):
        if d.is_dir() and (d / "config.json").exists() and (d / "project.json").exists():
            try:
                out.append(load_run(d))
            except UserError:
                continue
    out.sort(key=lambda r: (r.created, r.name))
    return out
