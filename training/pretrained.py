"""Start a run from torchvision's ImageNet weights (``--weights imagenet`` / ``imagenet:v1``).

``fetch(project, ref)`` checks that the project is a torchvision architecture
(``graph.pretrained.match``, before any download), fetches torchvision's file into
``cache/weights/`` (one download at a time, under a lock; its sha256 must start
with the hash in its name: ``hash_prefix``; ``SKIPWIRE_WEIGHTS_URL`` replaces the
server: ``url``) and reads it (weights_only, codegen/weights.py). ``apply(model, pre,
classes)`` loads what fits, refuses a file that does not fit the backbone, and
returns the line the run reports (``... ; fc: new, 10 classes``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codegen import weights
from graph import pretrained as gp
from graph.errors import UserError
from training import cache, sources
from training.download import Progress, Settings, fetch_file, remove_stale_parts

WEIGHTS_URL_ENV = "SKIPWIRE_WEIGHTS_URL"
_HASH = re.compile(r"-([a-f0-9]+)\.")


def hash_prefix(file_name: str) -> str:
    """The sha256 prefix torchvision writes into its file names (``resnet18-f37072fd.pth``)."""
    m = _HASH.search(file_name)
    if not m or len(m.group(1)) < 6:
        raise UserError(f"{file_name} has no hash in its name (torchvision names files <arch>-<hash>.pth)")
    return m.group(1)


def url(file_name: str, base: str) -> str:
    """Where to fetch ``file_name``: ``base``, or the folder ``SKIPWIRE_WEIGHTS_URL`` names."""
    base = os.environ.get(WEIGHTS_URL_ENV, "").strip() or base
    return base.rstrip("/") + "/" + file_name


@dataclass
class Pretrained:
    arch: gp.Arch
    version: str
    path: Path
    state: dict

    @property
    def label(self) -> str:
        return f"ImageNet weights ({self.arch.name} {self.version.upper()}, {self.path.name})"


def weights_target(arch: gp.Arch, version: str) -> Path:
    return cache.weights_dir() / gp.file_name(arch, version, sources.weight_file_override(arch.name, version))


def fetch(
    project,
    ref: str = "imagenet",
    settings: Settings | None = None,
    on_progress: Progress | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Pretrained:
    arch, version = gp.match(project, ref)  # refused here, before any download
    target = weights_target(arch, version)
    if not target.is_file():
        folder = cache.ensure_dir(cache.weights_dir())
        with cache.CacheLock(folder / f"{target.name}.lock", on_wait=on_wait, should_cancel=should_cancel):
            if not target.is_file():
                remove_stale_parts(folder, target.name)
                fetch_file(
                    [url(target.name, gp.BASE_URL)],
                    target,
                    sha256_prefix=hash_prefix(target.name),
                    size=int(arch.sizes_mb[version] * 1e6),
                    settings=settings,
                    on_progress=on_progress,
                    should_cancel=should_cancel,
                    manual=f"download it and pass the file to --weights ({arch.name} from torchvision)",
                )
    return Pretrained(arch, version, target, weights.read_torchvision(target, arch.name))


def apply(model, pre: Pretrained, classes: int) -> str:
    """Load ``pre`` into ``model``: everything but the head must fit; a head of another size starts fresh."""
    report = weights.load_state(model, pre.state, strict=False, source=pre.path.name)
    weights.check_fit(report, pre.arch.head, pre.label)
    counted = [*report.matched, *report.missing, *(k for k, _a, _b in report.mismatched)]
    total = sum(not k.endswith("num_batches_tracked") for k in counted)  # torchvision's files lack them
    return (
        f"{pre.label}: loaded {len(report.matched)} of {total} tensors; "
        f"{weights.head_report(report, pre.arch.head, classes)}"
    )
