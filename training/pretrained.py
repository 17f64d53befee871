"""Start a run from torchvision's ImageNet weights (``--weights imagenet`` / ``imagenet:v1``).

``fetch(project, ref)`` checks that the project is a torchvision architecture
(``graph.pretrained.match``, before any download), fetches torchvision's file into
``cache/weights/`` (one download at a time, under a lock; its sha256 must start
with the hash in its name) and reads it (weights_only). ``apply(model, pre,
classes)`` loads what fits, refuses a file that does not fit the backbone, and
returns the line the run reports (``... ; fc: new, 10 classes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codegen import pretrained as cg
from graph import pretrained as gp
from training import cache, sources
from training.download import Progress, Settings, fetch_file, remove_stale_parts


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
                    [cg.url(target.name, gp.BASE_URL)],
                    target,
                    sha256_prefix=cg.hash_prefix(target.name),
                    size=int(arch.sizes_mb[version] * 1e6),
                    settings=settings,
                    on_progress=on_progress,
                    should_cancel=should_cancel,
                    manual=f"download it and pass the file to --weights ({arch.name} from torchvision)",
                )
    return Pretrained(arch, version, target, cg.read(target, arch.name))


def apply(model, pre: Pretrained, classes: int) -> str:
    """Load ``pre`` into ``model``: everything but the head must fit; a head of another size starts fresh."""
    from codegen.weights import load_state

    report = load_state(model, pre.state, strict=False, source=pre.path.name)
    cg.check_fit(report, pre.arch.head, pre.label)
    counted = [*report.matched, *report.missing, *(k for k, _a, _b in report.mismatched)]
    total = sum(not k.endswith("num_batches_tracked") for k in counted)  # torchvision's files lack them
    return (
        f"{pre.label}: loaded {len(report.matched)} of {total} tensors; "
        f"{cg.head_report(report, pre.arch.head, classes)}"
    )
