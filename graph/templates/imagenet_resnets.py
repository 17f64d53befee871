"""ImageNet ResNets (3x224x224, 1000 classes), mirroring torchvision.

Module names follow torchvision so the generated state_dict keys are
torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0``, ``fc``): the torchvision mirrors load its weights
with strict=True. The plain nets are the same without shortcuts (He et al.
2016, Fig. 3); preact_resnet18 uses the pre-activation block of He et al. 2016b.
"""

from __future__ import annotations

from graph.model import Project
from graph.templates import template
from graph.templates.common import (
    Builder,
    define_basic_block,
    define_bottleneck,
    define_preact_block,
    head,
    imagenet_stem,
    new_project,
    resnet_stages,
)

SHAPE = (3, 224, 224)
CLASSES = 1000
WIDTHS = (64, 128, 256, 512)
STRIDES = (1, 2, 2, 2)
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
IMAGENET_TRAINING = {
    "epochs": 90,
    "batch_size": 256,
    "schedule": {"name": "step", "milestones": [1 / 3, 2 / 3], "gamma": 0.1, "warmup_epochs": 0},
}


def _start(title: str) -> tuple[Project, Builder]:
    project = new_project(title)
    project.training.update(IMAGENET_TRAINING)
    b = Builder(project)
    b.input(SHAPE)
    imagenet_stem(b)
    return project, b


def basic_resnet(title: str, depth: int, plain: bool = False) -> Project:
    project, b = _start(title)
    block = define_basic_block(
        project, "PlainBlock" if plain else "BasicBlock", projection=None if plain else "conv_bn"
    )
    resnet_stages(b, block, DEPTHS[depth], WIDTHS, STRIDES)
    head(b, CLASSES)
    return project


def bottleneck_resnet(title: str, depth: int, groups: int = 1, base_width: int = 64) -> Project:
    project, b = _start(title)
    block = define_bottleneck(project)
    resnet_stages(
        b,
        block,
        DEPTHS[depth],
        WIDTHS,
        STRIDES,
        width_param="planes",
        extra={"groups": groups, "base_width": base_width},
    )
    head(b, CLASSES)
    return project


@template("plain18", "imagenet", "18-layer plain net (He et al. 2016): resnet18 without its shortcuts.")
def plain18() -> Project:
    return basic_resnet("Plain-18", 18, plain=True)


@template("plain34", "imagenet", "34-layer plain net (He et al. 2016): resnet34 without its shortcuts.")
def plain34() -> Project:
    return basic_resnet("Plain-34", 34, plain=True)


@template("resnet18", "imagenet", "ResNet-18 (He et al. 2016), torchvision's resnet18: basic blocks 2-2-2-2.")
def resnet18() -> Project:
    return basic_resnet("ResNet-18", 18)


@template("resnet34", "imagenet", "ResNet-34 (He et al. 2016), torchvision's resnet34: basic blocks 3-4-6-3.")
def resnet34() -> Project:
    return basic_resnet("ResNet-34", 34)


@template(
    "resnet50",
    "imagenet",
    "ResNet-50, torchvision's resnet50 (v1.5, stride on the 3x3): bottlenecks 3-4-6-3.",
)
def resnet50() -> Project:
    return bottleneck_resnet("ResNet-50", 50)


@template("resnet101", "imagenet", "ResNet-101, torchvision's resnet101: bottlenecks 3-4-23-3.")
def resnet101() -> Project:
    return bottleneck_resnet("ResNet-101", 101)


@template("resnet152", "imagenet", "ResNet-152, torchvision's resnet152: bottlenecks 3-8-36-3.")
def resnet152() -> Project:
    return bottleneck_resnet("ResNet-152", 152)


@template(
    "resnext50_32x4d",
    "imagenet",
    "ResNeXt-50 32x4d (Xie et al. 2017), torchvision's: grouped 3x3, cardinality 32, width 4.",
)
def resnext50_32x4d() -> Project:
    return bottleneck_resnet("ResNeXt-50 (32x4d)", 50, groups=32, base_width=4)


@template(
    "wide_resnet50_2",
    "imagenet",
    "Wide ResNet-50-2 (Zagoruyko and Komodakis), torchvision's: bottleneck width doubled.",
)
def wide_resnet50_2() -> Project:
    return bottleneck_resnet("Wide ResNet-50-2", 50, base_width=128)


@template(
    "preact_resnet18",
    "imagenet",
    "Pre-activation ResNet-18 (He et al. 2016b): BN-ReLU-conv blocks, final BN-ReLU before pooling.",
)
def preact_resnet18() -> Project:
    project, b = _start("PreAct ResNet-18")
    block = define_preact_block(project, "PreActBlock")
    resnet_stages(b, block, DEPTHS[18], WIDTHS, STRIDES)
    b.bn("bn2")
    b.relu("relu2")
    head(b, CLASSES)
    return project
