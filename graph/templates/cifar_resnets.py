"""CIFAR ResNets (3x32x32, 10 classes).

- plain20..110 and resnet20..110: He et al. 2016, section 4.2: a 3x3 conv
  with 16 filters, three stages of n basic blocks at 16/32/64 channels
  (6n + 2 layers), global average pooling, a 10-way fc. Shortcuts are option
  A (zero-pad, no parameters) by default; ``--shortcut B`` / ``C`` switch
  to 1x1 conv + BN projections where shapes change / everywhere.
- preact_resnet110: He et al. 2016b's pre-activation blocks, final BN-ReLU.
- resnext29_8x64d: Xie et al. 2017's CIFAR ResNeXt-29, cardinality 8, width 64.
- wrn28_10: Zagoruyko and Komodakis's WRN-28-10, pre-activation wide blocks.

Module names follow torchvision's (conv1, bn1, layer1.0.conv1, fc).
"""

from __future__ import annotations

from graph.model import Project
from graph.templates import template
from graph.templates.common import (
    Builder,
    cifar_stem,
    define_basic_block,
    define_block,
    define_bottleneck,
    define_preact_block,
    head,
    new_project,
    resnet_stages,
    stage,
)

SHAPE = (3, 32, 32)
CLASSES = 10
DEPTHS = (20, 32, 44, 56, 110)


def _start(title: str) -> tuple[Project, Builder]:
    project = new_project(title)
    project.training.update({"epochs": 164, "batch_size": 128})
    b = Builder(project)
    b.input(SHAPE)
    return project, b


def cifar_resnet(title: str, depth: int, projection: str | None) -> Project:
    """6n+2 layers; ``projection`` None gives the plain net."""
    n = (depth - 2) // 6
    project, b = _start(title)
    cifar_stem(b, 16)
    block = define_basic_block(
        project, "PlainBlock" if projection is None else "BasicBlock", projection=projection
    )
    resnet_stages(b, block, (n, n, n), (16, 32, 64), (1, 2, 2))
    head(b, CLASSES)
    return project


def _register_plain(depth: int) -> None:
    @template(
        f"plain{depth}",
        "cifar",
        f"{depth}-layer plain net for CIFAR (He et al. 2016, sec. 4.2): resnet{depth} without shortcuts.",
    )
    def plain() -> Project:
        return cifar_resnet(f"Plain-{depth}", depth, None)


def _register_resnet(depth: int) -> None:
    @template(
        f"resnet{depth}",
        "cifar",
        f"ResNet-{depth} for CIFAR (He et al. 2016, sec. 4.2): 3 stages of {(depth - 2) // 6} basic blocks "
        "at 16/32/64 channels, zero-pad shortcuts (option A).",
        shortcut_options=True,
    )
    def resnet(shortcut: str = "zero_pad") -> Project:
        return cifar_resnet(f"ResNet-{depth}", depth, shortcut)


for _depth in DEPTHS:
    _register_plain(_depth)
for _depth in DEPTHS:
    _register_resnet(_depth)


@template(
    "preact_resnet110",
    "cifar",
    "Pre-activation ResNet-110 for CIFAR (He et al. 2016b): BN-ReLU-conv blocks, zero-pad shortcuts, "
    "final BN-ReLU before pooling.",
    shortcut_options=True,
)
def preact_resnet110(shortcut: str = "zero_pad") -> Project:
    project, b = _start("PreAct ResNet-110")
    cifar_stem(b, 16, bn_relu=False)
    block = define_preact_block(project, "PreActBlock", projection=shortcut)
    resnet_stages(b, block, (18, 18, 18), (16, 32, 64), (1, 2, 2))
    b.bn("bn1")
    b.relu("relu")
    head(b, CLASSES)
    return project


@template(
    "resnext29_8x64d",
    "cifar",
    "ResNeXt-29 8x64d for CIFAR (Xie et al. 2017): 3 stages of 3 bottlenecks, cardinality 8, width 64, "
    "outputs 256/512/1024, projection shortcuts.",
)
def resnext29_8x64d() -> Project:
    project, b = _start("ResNeXt-29 (8x64d)")
    project.training.update({"epochs": 300, "batch_size": 128})
    project.training["optimizer"] = dict(project.training["optimizer"], weight_decay=5e-4, nesterov=True)
    cifar_stem(b, 64)
    block = define_bottleneck(project)
    # planes * 4 = 256/512/1024; inner width planes * 64 // 64 * 8 = 512/1024/2048
    resnet_stages(
        b,
        block,
        (3, 3, 3),
        (64, 128, 256),
        (1, 2, 2),
        width_param="planes",
        extra={"groups": 8, "base_width": 64},
    )
    head(b, CLASSES)
    return project


def define_wide_projection_block(project: Project, name: str = "WideBasicProj", dropout: float = 0.0) -> str:
    """The first wide block of a stage: the shortcut is a 1x1 conv (no BN) of the pre-activated input.

    As in Zagoruyko and Komodakis's code: when the shape changes, BN-ReLU is
    applied to the input once and feeds both the residual branch and the
    1x1 ``conv_shortcut`` (its published 36.5M parameters count no BN there,
    which the conv_bn projection would add).
    """

    def body(b: Builder) -> None:
        b.bn("bn1")
        act = b.relu("relu")
        row = b.row
        b.conv("conv1", "out_channels", 3, "stride")
        b.bn("bn2")
        b.relu("relu2")
        b.add("Dropout", "dropout", p=float(dropout))
        b.conv("conv2", "out_channels", 3, 1)
        side = b.side(
            "Conv2d",
            "conv_shortcut",
            row=row,
            out_channels="out_channels",
            kernel_size=1,
            stride="stride",
            padding=0,
            bias=False,
        )
        b.connect(act, side)
        add = b.add("Add", "add")
        b.connect(side, add, dst_port=1)

    return define_block(
        project,
        name,
        {"out_channels": ("int", 160), "stride": ("int", 1)},
        "Wide pre-activation block with a 1x1 conv shortcut (where the shape changes).",
        body,
    )


@template(
    "wrn28_10",
    "cifar",
    "Wide ResNet-28-10 (Zagoruyko and Komodakis 2016): pre-activation wide blocks at 160/320/640, "
    "dropout 0 (set the blocks' Dropout p for 0.3).",
)
def wrn28_10() -> Project:
    project, b = _start("WRN-28-10")
    project.training.update({"epochs": 200, "batch_size": 128})
    project.training["optimizer"] = dict(project.training["optimizer"], weight_decay=5e-4, nesterov=True)
    project.training["schedule"] = {
        "name": "step",
        "milestones": [0.3, 0.6, 0.8],
        "gamma": 0.2,
        "warmup_epochs": 0,
    }
    cifar_stem(b, 16, bn_relu=False)
    proj = define_wide_projection_block(project)
    block = define_preact_block(project, "WideBasic", projection="identity", dropout=0.0)
    n = (28 - 4) // 6
    for i, (width, stride) in enumerate(((160, 1), (320, 2), (640, 2)), start=1):
        params = [{"out_channels": width, "stride": stride}] + [{"out_channels": width, "stride": 1}] * (
            n - 1
        )
        stage(b, f"layer{i}", [proj] + [block] * (n - 1), params)
    b.bn("bn1")
    b.relu("relu")
    head(b, CLASSES)
    return project
