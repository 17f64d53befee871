"""Reading torchvision's ImageNet checkpoints into a project's model.

``hash_prefix(file_name)`` is the sha256 prefix torchvision writes into its file
names (``resnet18-f37072fd.pth``: the file's sha256 starts with ``f37072fd``);
the download checks it. ``read(path, arch)`` loads the file through the one
weights reader (``codegen.weights.read_state_dict``: ``torch.load`` with
``weights_only=True``) and renames DenseNet's old keys as torchvision does
(``denselayer1.norm.1.weight`` -> ``denselayer1.norm1.weight``).
``head_report(report, head, classes)`` says what happened to the classifier.

Imports torch only inside functions (through codegen.weights).
"""

from __future__ import annotations

import os
import re

from codegen.weights import LoadReport, read_state_dict
from graph.errors import UserError

WEIGHTS_URL_ENV = "SKIPWIRE_WEIGHTS_URL"
_HASH = re.compile(r"-([a-f0-9]+)\.")
# torchvision/models/densenet.py, _load_state_dict: '.'s are no longer allowed in module names
_DENSENET_OLD = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def hash_prefix(file_name: str) -> str:
    m = _HASH.search(file_name)
    if not m or len(m.group(1)) < 6:
        raise UserError(f"{file_name} has no hash in its name (torchvision names files <arch>-<hash>.pth)")
    return m.group(1)


def url(file_name: str, base: str) -> str:
    base = os.environ.get(WEIGHTS_URL_ENV, "").strip() or base
    return base.rstrip("/") + "/" + file_name


def remap_densenet(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        m = _DENSENET_OLD.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def read(path: str | os.PathLike, arch: str) -> dict:
    state = read_state_dict(path)
    return remap_densenet(state) if arch.startswith("densenet") else state


def head_report(report: LoadReport, head: str, classes: int) -> str:
    """``"fc: new, 10 classes"`` when the head was not loaded, ``"fc: loaded (1000 classes)"`` if it was."""
    keys = (f"{head}.weight", f"{head}.bias")
    if all(k in report.matched for k in keys):
        return f"{head}: loaded ({classes} classes)"
    return f"{head}: new, {classes} classes"


def check_fit(report: LoadReport, head: str, source: str) -> None:
    """Everything but the head must load: another outcome means the file is not for this model."""
    head_keys = (f"{head}.weight", f"{head}.bias")
    off = [k for k, _a, _b in report.mismatched if k not in head_keys]
    off += [k for k in report.missing if k not in head_keys and not k.endswith("num_batches_tracked")]
    off += [k for k in report.unexpected if not k.endswith("num_batches_tracked")]
    if off:
        raise UserError(
            f"{source} does not fit this model: {len(off)} tensors differ ({', '.join(off[:4])}"
            f"{' ...' if len(off) > 4 else ''}); is the project still the torchvision architecture?"
        )


__all__ = ["check_fit", "hash_prefix", "head_report", "read", "remap_densenet", "url"]
