"""torchvision's ImageNet weights for the templates that mirror torchvision (pure data, no torch).

A project may say ``training.weights = "imagenet"`` (the best file torchvision publishes
for its architecture: V2 where there is one) or ``"imagenet:v1"`` / ``"imagenet:v2"``.
``match(project, ref)`` finds the architecture from the project's structure, without
any download: 3 input channels, a Linear head at torchvision's module path with
torchvision's input width, and exactly torchvision's parameter count apart from the
head (the head's class count and the input size may differ: the convolutions do not
depend on them). A project that does not fit is refused with the reason.

File names and parameter counts are torchvision's (torchvision/models/resnet.py,
densenet.py): ``<arch>-<first hex digits of the file's sha256>.pth``.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph.errors import UserError

BASE_URL = "https://download.pytorch.org/models/"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Arch:
    name: str
    num_params: int  # torchvision's, with the 1000-class head
    head: str  # module path of the classifier Linear
    head_in: int
    files: dict  # version ("v1", "v2") -> file name
    sizes_mb: dict  # version -> torchvision's published file size (MB)

    @property
    def default_version(self) -> str:
        return "v2" if "v2" in self.files else "v1"

    @property
    def backbone_params(self) -> int:
        return self.num_params - (self.head_in * IMAGENET_CLASSES + IMAGENET_CLASSES)


ARCHS: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch("resnet18", 11_689_512, "fc", 512, {"v1": "resnet18-f37072fd.pth"}, {"v1": 44.661}),
        Arch("resnet34", 21_797_672, "fc", 512, {"v1": "resnet34-b627a593.pth"}, {"v1": 83.275}),
        Arch(
            "resnet50",
            25_557_032,
            "fc",
            2048,
            {"v1": "resnet50-0676ba61.pth", "v2": "resnet50-11ad3fa6.pth"},
            {"v1": 97.781, "v2": 97.79},
        ),
        Arch(
            "resnet101",
            44_549_160,
            "fc",
            2048,
            {"v1": "resnet101-63fe2227.pth", "v2": "resnet101-cd907fc2.pth"},
            {"v1": 170.511, "v2": 170.53},
        ),
        Arch(
            "resnet152",
            60_192_808,
            "fc",
            2048,
            {"v1": "resnet152-394f9c45.pth", "v2": "resnet152-f82ba261.pth"},
            {"v1": 230.434, "v2": 230.474},
        ),
        Arch(
            "resnext50_32x4d",
            25_028_904,
            "fc",
            2048,
            {"v1": "resnext50_32x4d-7cdf4587.pth", "v2": "resnext50_32x4d-1a0047aa.pth"},
            {"v1": 95.789, "v2": 95.833},
        ),
        Arch(
            "wide_resnet50_2",
            68_883_240,
            "fc",
            2048,
            {"v1": "wide_resnet50_2-95faca4d.pth", "v2": "wide_resnet50_2-9ba9bcbe.pth"},
            {"v1": 131.82, "v2": 263.124},
        ),
        Arch(
            "densenet121", 7_978_856, "classifier", 1024, {"v1": "densenet121-a639ec97.pth"}, {"v1": 30.845}
        ),
    )
}


def is_imagenet_ref(ref: str | None) -> bool:
    return isinstance(ref, str) and ref.strip().lower().partition(":")[0] == "imagenet"


def parse_ref(ref: str) -> str | None:
    """``"imagenet"`` -> None (the best version); ``"imagenet:v1"`` -> ``"v1"``."""
    kind, _, version = ref.strip().lower().partition(":")
    if kind != "imagenet":
        raise UserError(f"{ref!r} is not an ImageNet weights reference (imagenet, imagenet:v1, imagenet:v2)")
    if version in ("", "default", "best"):
        return None
    if version not in ("v1", "v2"):
        raise UserError(f"ImageNet weights version must be v1 or v2, not {version!r} (in {ref!r})")
    return version


def match(project, ref: str = "imagenet") -> tuple[Arch, str]:
    """(architecture, version) of torchvision's weights for ``project``; UserError if none fits."""
    from graph.shapes import analyze, module_path
    from graph.templates.common import head_linear

    version = parse_ref(ref)
    names = ", ".join(ARCHS)
    analysis = analyze(project)
    if not analysis.valid:
        raise UserError(
            f"ImageNet weights need a valid project; {project.name} has errors (validate it first)"
        )
    inputs = project.graph.nodes_of_type("Input")
    shape = list(inputs[0].params.get("shape", [])) if inputs else []
    if not shape or int(shape[0]) != 3:
        raise UserError(
            f"ImageNet weights need 3 input channels; {project.name} takes {shape[0] if shape else '?'} "
            f"(use --input 3,H,W)"
        )
    head = head_linear(project)
    if head is None:
        raise UserError(f"ImageNet weights need a Linear head feeding the Output; {project.name} has none")
    info = analysis.root.nodes.get(head.id)
    in_shape = info.in_shapes[0] if info is not None and info.in_shapes else ()
    in_features = int(in_shape[-1]) if in_shape else 0
    path = module_path(project.graph, head)
    backbone = analysis.total_params - (info.num_params if info is not None else 0)
    found = [a for a in ARCHS.values() if a.backbone_params == backbone and a.head_in == in_features]
    if not found or found[0].head != path:
        raise UserError(
            f"{project.name} does not match any torchvision architecture with ImageNet weights "
            f"({backbone:,} parameters before its head {path!r}); they exist for {names} "
            f"(python main.py new TEMPLATE --weights imagenet)"
        )
    arch = found[0]
    version = version or arch.default_version
    if version not in arch.files:
        raise UserError(
            f"torchvision publishes no {version.upper()} ImageNet weights for {arch.name}; use v1"
        )
    return arch, version


def with_weights(project, ref: str) -> tuple[Arch, str]:
    """Store the reference ``ref`` in ``project.training["weights"]`` after checking that it fits."""
    if not is_imagenet_ref(ref):
        raise UserError(
            f"weights for a new project must be imagenet, imagenet:v1 or imagenet:v2, not {ref!r}"
        )
    arch, version = match(project, ref)
    project.training = {**(project.training or {}), "weights": ref.strip().lower()}
    return arch, version


def file_name(arch: Arch, version: str, override: str | None = None) -> str:
    return override or arch.files[version]
