"""Training defaults, defined once, and the project file's nested ``training`` form.

A project file holds its recipe nested (docs/architecture.md): ``optimizer`` and
``schedule`` are objects with a ``name``. Training (training/config.py's
``TrainConfig``), a new project (graph/model.py) and the exported training
script (which runs training/'s engine on its bundled project) all take their
defaults from :data:`TRAINING_DEFAULTS` and read the nested form
with :func:`flatten`, so none of them keeps its own copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# Flat settings a project file may hold, with their defaults.
TRAINING_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "dataset": "synthetic",
        "epochs": 30,
        "batch_size": 128,
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "nesterov": False,
        "betas": (0.9, 0.999),  # AdamW
        "schedule": "step",
        "milestones": (0.5, 0.75),  # fractions of the run
        "gamma": 0.1,
        "warmup_epochs": 0,  # linear warm-up (step, cosine, constant)
        "pct_start": 0.3,  # one-cycle: fraction of steps spent rising
        "label_smoothing": 0.0,
        "amp": True,  # bf16 autocast, CUDA only
        "channels_last": True,  # CUDA only
        "compile": False,
        "seed": 0,
        "val_fraction": 0.1,  # where a dataset has no separate validation set
    }
)

# the nested groups: group -> (its "name" field's flat key, the other flat keys it holds)
GROUPS: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        "optimizer": ("optimizer", ("lr", "momentum", "weight_decay", "nesterov", "betas")),
        "schedule": ("schedule", ("milestones", "gamma", "warmup_epochs", "pct_start")),
    }
)

# every setting a project file holds, in the order the file lists them (training/config.py writes these)
PROJECT_KEYS = (
    "dataset",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "nesterov",
    "betas",
    "schedule",
    "milestones",
    "gamma",
    "warmup_epochs",
    "pct_start",
    "label_smoothing",
    "amp",
    "channels_last",
    "compile",
    "seed",
)
# what a new project's file holds: the same but the settings only Adam (betas) and the one-cycle
# schedule (pct_start) read; the others take their defaults when read
NEW_PROJECT_KEYS = tuple(k for k in PROJECT_KEYS if k not in ("betas", "pct_start"))


def flatten(training: Mapping[str, Any] | None) -> dict[str, Any]:
    """The nested project form -> flat settings: only the keys present; top-level keys pass through."""
    t = dict(training or {})
    flat: dict[str, Any] = {}
    for group, (name_key, keys) in GROUPS.items():
        sub = t.pop(group, None) or {}
        if isinstance(sub, Mapping):
            if "name" in sub:
                flat[name_key] = sub["name"]
            flat.update({k: sub[k] for k in keys if k in sub})
    flat.update(t)
    return flat


def nested(flat: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Flat settings -> the nested project form (``keys``: which to write; all of ``flat`` by default)."""
    wanted = [k for k in (keys if keys is not None else tuple(flat)) if k in flat]
    grouped = {k for _, (name_key, ks) in GROUPS.items() for k in (name_key, *ks)}
    out: dict[str, Any] = {}
    for k in wanted:
        if k not in grouped:
            out[k] = _plain(flat[k])
            continue
        for group, (name_key, ks) in GROUPS.items():
            if k == name_key:
                out.setdefault(group, {})["name"] = flat[k]
            elif k in ks:
                out.setdefault(group, {})[k] = _plain(flat[k])
    return out


def resolved(training: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every default, overridden by what the project's nested ``training`` section sets."""
    return {k: _plain(v) for k, v in {**TRAINING_DEFAULTS, **flatten(training)}.items()}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def new_project_training() -> dict[str, Any]:
    """The ``training`` section of a new project."""
    return nested(TRAINING_DEFAULTS, NEW_PROJECT_KEYS)
