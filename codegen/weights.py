"""Weights in and out: transfer learning without ever unpickling user data.

``load_weights(model, path)`` reads ``.safetensors`` (``safetensors.torch.load_file``)
or ``.pt``/``.pth``/``.bin``/``.ckpt`` (``torch.load(weights_only=True)`` only),
unwraps checkpoint dicts (``{"state_dict": ...}``, ``{"model": ...}``, DDP's
``module.`` and torch.compile's ``_orig_mod.`` prefixes), loads every tensor
whose name and shape match, and returns a :class:`LoadReport` saying what was
matched, missing, unexpected or of another shape. A replaced head (another
class count) thus shows up as the only shape mismatch and everything else loads.

Imports torch only inside functions.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from graph.errors import UserError

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")
_WRAPPERS = ("state_dict", "model_state_dict", "model", "module", "net", "weights")
_PREFIXES = ("module.", "_orig_mod.")


@dataclass
class LoadReport:
    source: str = ""
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, file shape, model shape)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "matched": list(self.matched),
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": [{"key": k, "file": list(a), "model": list(b)} for k, a, b in self.mismatched],
        }

    def text(self, limit: int = 8) -> str:
        def some(keys: list[str]) -> str:
            shown = ", ".join(keys[:limit])
            return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")

        total = len(self.matched) + len(self.missing) + len(self.mismatched)
        lines = [
            f"Loaded {len(self.matched)} of {total} tensors"
            + (f" from {self.source}" if self.source else "")
            + "."
        ]
        if self.mismatched:
            lines.append(
                f"{len(self.mismatched)} with another shape (kept the model's own): "
                + ", ".join(
                    f"{k} (file {'x'.join(map(str, a))}, model {'x'.join(map(str, b))})"
                    for k, a, b in self.mismatched[:limit]
                )
                + (" ..." if len(self.mismatched) > limit else "")
            )
        if self.missing:
            lines.append(f"{len(self.missing)} not in the file: {some(self.missing)}")
        if self.unexpected:
            lines.append(f"{len(self.unexpected)} in the file but not in the model: {some(self.unexpected)}")
        return "\n".join(lines)

    __str__ = text


def _unwrap(obj: Any, path: str) -> dict:
    import torch

    for _ in range(3):
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, dict):
        raise UserError(f"{path} holds a {type(obj).__name__}, not a state_dict of tensors")
    sd = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not sd:
        raise UserError(f"{path} holds no tensors (keys: {', '.join(map(str, list(obj)[:6]))})")
    for prefix in _PREFIXES:
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def read_state_dict(path: str | os.PathLike) -> dict:
    """Tensors by name from a .safetensors or a weights-only torch checkpoint."""
    import torch

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"weights file {path} does not exist")
    lower = path.lower()
    if lower.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise UserError(f"{path} is not a readable safetensors file: {exc}") from None
    if not lower.endswith(PICKLE_SUFFIXES):
        raise UserError(f"{path}: weights must be .safetensors, .pt or .pth")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "pickle protocol 4" notes before a refusal
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - weights_only refusals and corrupt files alike
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = re.sub(r"\x1b\[[0-9;]*m", "", first)  # torch colours its message
        if "weights only load failed" in first.lower():  # torch's advice to unpickle anyway does not apply
            first = "it holds Python objects other than tensors, and Skipwire never unpickles those"
        raise UserError(
            f"cannot read weights {path} (torch.load with weights_only=True): {first}. "
            "Give a .safetensors file, a run folder, or a "
            "state_dict saved with torch.save(model.state_dict(), ...)"
        ) from None
    return _unwrap(obj, path)


def load_state(model: Any, state: dict, strict: bool = False, source: str = "") -> LoadReport:
    """Load the tensors whose names and shapes match; report the rest. strict: all must match or nothing
    loads."""
    import torch

    own = model.state_dict()
    report = LoadReport(source)
    ok: dict[str, Any] = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(own[key].shape) != tuple(value.shape):
            report.mismatched.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            ok[key] = value
            report.matched.append(key)
    report.missing = [k for k in own if k not in state]
    if strict and not report.ok:
        raise UserError("the weights do not fit the model exactly:\n" + report.text(), 1)
    with torch.no_grad():
        model.load_state_dict(ok, strict=False)
    return report


def to_project_keys(state: dict, key_map: dict[str, Any] | None) -> dict:
    """An imported model's tensors under its project's keys (``Project.key_map``: original -> project
    key, None for a module the model never uses, whose tensors are dropped, or a list of keys for a weight
    the model shares between calls); other keys pass unchanged."""
    if not key_map:
        return state
    out = {}
    for key, value in state.items():
        new = key_map.get(key, key)
        for each in new if isinstance(new, list) else [new]:  # a list: the copies of a shared weight
            if each is not None:
                out[each] = value
    return out


def load_weights(model: Any, path: str | os.PathLike, strict: bool = False) -> LoadReport:
    """Read ``path`` and load what fits into ``model``; see :class:`LoadReport`."""
    return load_state(model, read_state_dict(path), strict, os.fspath(path))


def save_weights(model: Any, path: str | os.PathLike) -> None:
    """The model's state_dict as safetensors, written atomically."""
    from safetensors.torch import save_file

    from graph.atomic import atomic_write

    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp))


def transfer_state(state: dict, model: Any) -> LoadReport:
    """Copy weights between two implementations of one network whose names may differ:
    by name and shape first, then the remaining tensors in order, pairing equal shapes."""
    own = model.state_dict()
    report = LoadReport("transfer")
    mapping: dict[str, Any] = {}
    used: set[str] = set()
    for key, value in own.items():
        if key in state and tuple(state[key].shape) == tuple(value.shape):
            mapping[key] = state[key]
            used.add(key)
    rest_src = [k for k in state if k not in used]
    rest_dst = [k for k in own if k not in mapping]
    i = 0
    for key in rest_dst:
        while i < len(rest_src) and tuple(state[rest_src[i]].shape) != tuple(own[key].shape):
            report.unexpected.append(rest_src[i])
            i += 1
        if i == len(rest_src):
            report.missing.append(key)
            continue
        mapping[key] = state[rest_src[i]]
        i += 1
    report.unexpected.extend(rest_src[i:])
    report.matched = list(mapping)
    model.load_state_dict(mapping, strict=False)
    return report


__all__ = [
    "LoadReport",
    "load_state",
    "load_weights",
    "read_state_dict",
    "save_weights",
    "to_project_keys",
    "transfer_state",
]
