"""TrainConfig: every training setting in one flat dataclass.

``TrainConfig.from_project(project.training)`` reads the project file's nested
``training`` section (docs/architecture.md); ``with_overrides(...)`` applies command-line
or editor overrides; ``to_dict()``/``from_dict()`` are the run's ``config.json``;
``to_project_training()`` writes the nested form back. Presets are plain dicts
of overrides (``PRESETS``, ``apply_preset``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from graph.errors import UserError
from graph.training_defaults import PROJECT_KEYS, flatten, nested
from graph.training_defaults import TRAINING_DEFAULTS as _D

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "onecycle", "constant")
AUGMENTS = ("auto", "crop_flip", "crop", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")
LOADERS = ("auto", "resident", "dataloader")


@dataclass
class TrainConfig:
    dataset: str = _D["dataset"]
    epochs: int = _D["epochs"]
    batch_size: int = _D["batch_size"]
    optimizer: str = _D["optimizer"]
    lr: float = _D["lr"]
    momentum: float = _D["momentum"]
    weight_decay: float = _D["weight_decay"]
    nesterov: bool = _D["nesterov"]
    betas: tuple[float, float] = _D["betas"]  # AdamW
    schedule: str = _D["schedule"]
    milestones: list[float] = field(default_factory=lambda: list(_D["milestones"]))  # fractions of the run
    gamma: float = _D["gamma"]
    warmup_epochs: float = _D["warmup_epochs"]  # linear warm-up (step, cosine, constant)
    pct_start: float = _D["pct_start"]  # one-cycle: fraction of steps spent rising
    label_smoothing: float = _D["label_smoothing"]
    amp: bool = _D["amp"]  # bf16 autocast, CUDA only
    channels_last: bool = _D["channels_last"]  # CUDA only
    compile: bool = _D["compile"]  # torch.compile on the eager path
    fast_path: bool = True  # CUDA graph of the whole step where possible
    seed: int = _D["seed"]
    device: str = "auto"
    val_fraction: float = _D["val_fraction"]  # where a dataset has no separate validation set
    augment: str = "auto"  # auto: crop+flip, except crop only for MNIST (digits are not mirror-symmetric)
    log_every: int = 0  # steps between step records; 0: 1 eager on CPU, 20 eager on CUDA, 100 fast path
    grad_every: int = 50  # steps between gradient-norm profiles (0: never)
    loader: str = (
        "auto"  # auto: whole dataset on the device where it fits, else "dataloader"; or force either
    )
    workers: int = 2  # DataLoader workers when the data does not fit on the GPU
    threads: int = 0  # CPU intra-op threads for this run (0: torch's default, one per core)
    sync_bn: bool = False  # under torchrun: SyncBatchNorm (CUDA only) instead of per-process statistics
    weights: str | None = None  # start from this state_dict (safetensors or torch.save)
    preset: str | None = None

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_project(cls, training: dict | None) -> TrainConfig:
        flat = flatten(training)
        return cls().with_overrides(**{k: v for k, v in flat.items() if k in _FIELDS})

    def to_project_training(self) -> dict:
        """The nested project form of the settings a project file holds."""
        return nested(dataclasses.asdict(self), PROJECT_KEYS)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls().with_overrides(**{k: v for k, v in d.items() if k in _FIELDS})

    def with_overrides(self, **kw: Any) -> TrainConfig:
        """A copy with the given (non-None) fields replaced, validated."""
        unknown = [k for k in kw if k not in _FIELDS]
        if unknown:
            raise UserError(f"unknown training setting(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in kw.items() if v is not None or k == "weights"}
        if "weights" in kw and kw["weights"] is None:
            values.pop("weights")
        cfg = dataclasses.replace(self, **values)
        cfg.betas = tuple(float(b) for b in cfg.betas)  # type: ignore[assignment]
        cfg.milestones = [float(m) for m in cfg.milestones]
        cfg.validate()
        return cfg

    def validate(self) -> None:
        def bad(msg: str) -> None:
            raise UserError(f"training setting: {msg}")

        if self.optimizer not in OPTIMIZERS:
            bad(f"optimizer {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            bad(f"schedule {self.schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.augment not in AUGMENTS:
            bad(f"augment {self.augment!r} is not one of {', '.join(AUGMENTS)}")
        if self.loader not in LOADERS:
            bad(f"loader {self.loader!r} is not one of {', '.join(LOADERS)}")
        if self.device not in DEVICES:
            bad(f"device {self.device!r} is not one of {', '.join(DEVICES)}")
        if int(self.epochs) < 1:
            bad(f"epochs must be at least 1, not {self.epochs}")
        if int(self.threads) < 0:
            bad(f"threads must be 0 (torch's default) or more, not {self.threads}")
        if int(self.batch_size) < 1:
            bad(f"batch size must be at least 1, not {self.batch_size}")
        if not float(self.lr) > 0:
            bad(f"learning rate must be positive, not {self.lr}")
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            bad(f"label smoothing must be in [0, 1), not {self.label_smoothing}")
        if not 0.0 < float(self.val_fraction) < 1.0:
            bad(f"validation fraction must be between 0 and 1, not {self.val_fraction}")
        if any(not 0.0 <= m <= 1.0 for m in self.milestones):
            bad(f"milestones are fractions of the run (0..1), not {self.milestones}")


_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
# --------------------------------------------------------------------- presets
PRESETS: dict[str, dict[str, Any]] = {
    # He et al. 2016, section 4.2: SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128, lr/10 at
    # 32k and 48k of 64k iterations (= 50% and 75%); 64k iterations of 45k images ~ 182 epochs.
    # Augmentation "auto": the paper's crop + flip on CIFAR, crop only on MNIST (digits do not mirror).
    "ResNet paper (CIFAR)": {
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "nesterov": False,
        "batch_size": 128,
        "schedule": "step",
        "milestones": [0.5, 0.75],
        "gamma": 0.1,
        "warmup_epochs": 0.0,
        "label_smoothing": 0.0,
        "epochs": 182,
        "augment": "auto",
    },
    # A short run that gets most of the accuracy: big batch, one-cycle, Nesterov, label smoothing.
    "Fast": {
        "optimizer": "sgd",
        "lr": 0.4,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "nesterov": True,
        "batch_size": 512,
        "schedule": "onecycle",
        "pct_start": 0.25,
        "label_smoothing": 0.1,
        "epochs": 15,
        "amp": True,
        "channels_last": True,
        "augment": "auto",
    },
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_PAPER = "ResNet paper (CIFAR)"
_ALIASES = {
    "resnet": _PAPER,
    "resnetpaper": _PAPER,
    "paper": _PAPER,
    "resnetcifar": _PAPER,
    "cifar": _PAPER,
    "cifar10": _PAPER,
    "resnetpapercifar10": _PAPER,
    "he": _PAPER,
    "he2016": _PAPER,
    "hecifar": _PAPER,
    "paperresnet": _PAPER,
    "quick": "Fast",
    "fastest": "Fast",
}


def preset_names() -> list[str]:
    return list(PRESETS)


def find_preset(name: str) -> str:
    """Forgiving: case, spaces and punctuation do not matter ("fast", "resnet-paper", "ResNet paper CIFAR"),
    a few aliases ("paper", "cifar", "he2016"), and any unambiguous prefix ("res", "f")."""
    k = _key(name)
    for p in PRESETS:
        if _key(p) == k:
            return p
    if k in _ALIASES:
        return _ALIASES[k]
    hits = {p for p in PRESETS if k and _key(p).startswith(k)} | {
        v for a, v in _ALIASES.items() if k and a.startswith(k)
    }
    if len(hits) == 1:
        return hits.pop()
    raise UserError(
        f"unknown preset {name!r}; presets: "
        + ", ".join(f'"{p}"' for p in PRESETS)
        + " (case and punctuation do not matter: --preset fast, --preset resnet-paper)"
    )


def apply_preset(cfg: TrainConfig, name: str) -> TrainConfig:
    full = find_preset(name)
    return cfg.with_overrides(**PRESETS[full], preset=full)
