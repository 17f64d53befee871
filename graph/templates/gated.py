"""Residual nets whose merge is gated or weighted.

- ``se_resnet20`` / ``se_resnet50``: squeeze-excitation (Hu et al.) rescales
  each residual branch before the addition. The SE unit is its own block,
  ``SqueezeExcite(rd_channels)``: AdaptiveAvgPool2d(1) -> fc1 (1x1 conv with
  bias) -> ReLU -> fc2 (1x1 conv with bias, back to ``in_channels``) ->
  Sigmoid -> Multiply with the block's input. Its instance is named ``se``,
  so module paths are timm's (``layer1.0.se.fc1``).
  se_resnet50 follows timm's ``seresnet50``: SE after bn3 with
  ``rd_channels = channels // 16`` (timm's ``make_divisible(channels / 16, 8)``
  gives the same for every width of ResNet-50): 28,088,024 parameters.
  se_resnet20 squeezes to ``max(4, channels // 16)`` channels: reduction 16
  alone would leave a single channel at width 16, so every stage of this
  small net squeezes to 4.
- ``highway20``: resnet20 whose sum is a highway Gate, t * h + (1 - t) * x.
  The gate t is a 1x1 conv of the block's input (the block's stride, bias
  initialised to -2 so that a fresh block mostly carries its input) followed
  by a Sigmoid, one gate value per channel and position. The carry x is a
  shortcut edge, zero-padded where the shape changes (option A, as resnet20).
  A ReLU follows the gate, as it follows the sum in resnet20.
- ``weighted_resnet20``: resnet20 whose residual sums are Add nodes with one
  learnable scalar per input (initialised to 1).

The three resnet20 variants accept ``--shortcut A|B|C``.
"""

from __future__ import annotations

from graph.model import Project
from graph.templates import template
from graph.templates.common import (
    SHORTCUT_OPTIONS,
    Builder,
    cifar_stem,
    define_block,
    head,
    imagenet_stem,
    new_project,
    resnet_stages,
    stage,
)
from graph.templates.imagenet_resnets import IMAGENET_TRAINING


def projection(shortcut: str | None, default: str = "zero_pad") -> str:
    """A --shortcut choice (A, B, C, or already a projection name) as an edge projection."""
    if not shortcut:
        return default
    return SHORTCUT_OPTIONS.get(str(shortcut).upper(), shortcut)


def define_squeeze_excite(project: Project) -> str:
    def body(b: Builder) -> None:
        x = b.last
        b.add("AdaptiveAvgPool2d", "pool", output_size=1)
        b.conv("fc1", "rd_channels", 1, bias=True)
        b.add("ReLU", "act")
        b.conv("fc2", "in_channels", 1, bias=True)
        gate = b.add("Sigmoid", "gate")
        scale = b.add("Multiply", "scale", src=x)
        b.connect(gate, scale, dst_port=1)

    return define_block(
        project,
        "SqueezeExcite",
        {"rd_channels": ("int", 4)},
        "Squeeze-excitation: rescale each channel by a gate computed from its global average.",
        body,
    )


def define_gated_basic_block(project: Project, kind: str, projection: str) -> str:
    """BasicBlock(out_channels, stride) whose sum is SE-then-add, a highway Gate, or a weighted Add."""

    def body(b: Builder) -> None:
        x = b.last
        row = b.row
        b.conv_bn_relu("1", "out_channels", 3, "stride")
        b.conv("conv2", "out_channels", 3, 1)
        h = b.bn("bn2")
        if kind == "se":
            b.add("block:SqueezeExcite", "se", rd_channels="se_channels")
            b.shortcut(x, b.add("Add", "add"), name="shortcut", projection=projection)
        elif kind == "highway":
            t = b.side(
                "Conv2d",
                "gate",
                row=row,
                out_channels="out_channels",
                kernel_size=1,
                stride="stride",
                padding=0,
                bias=True,
                bias_init=-2.0,
            )
            sig = b.side("Sigmoid", "gate_act", row=row + 4)
            b.connect(x, t)
            b.connect(t, sig)
            gate = b.add("Gate", "highway", src=h)
            b.connect(sig, gate, dst_port=1)
            b.shortcut(x, gate, dst_port=2, name="shortcut", projection=projection)
        else:
            add = b.add("Add", "add", weights="learnable", weight_values=[1.0, 1.0])
            b.shortcut(x, add, name="shortcut", projection=projection)
        b.relu("relu2")

    params = {"out_channels": ("int", 16), "stride": ("int", 1)}
    if kind == "se":
        name, doc = (
            "SEBasicBlock",
            "Basic block with squeeze-excitation on the residual branch before the sum.",
        )
        params["se_channels"] = ("int", 4)
    elif kind == "highway":
        name, doc = "HighwayBlock", "Basic block whose sum is a highway gate t*h + (1-t)*x (gate bias -2)."
    else:
        name, doc = "WeightedBasicBlock", "Basic block whose sum has a learnable scalar weight per input."
    return define_block(project, name, params, doc, body)


def _resnet20_variant(title: str, kind: str, shortcut: str | None) -> Project:
    project = new_project(title)
    project.training.update({"epochs": 164, "batch_size": 128})
    b = Builder(project)
    b.input((3, 32, 32))
    cifar_stem(b, 16)
    if kind == "se":
        define_squeeze_excite(project)
    block = define_gated_basic_block(project, kind, projection(shortcut))
    for i, (width, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        extra = {"se_channels": max(4, width // 16)} if kind == "se" else {}
        stage(
            b,
            f"layer{i}",
            block,
            [{"out_channels": width, "stride": stride if j == 0 else 1, **extra} for j in range(3)],
        )
    head(b, 10)
    return project


@template(
    "se_resnet20",
    "cifar",
    "ResNet-20 with squeeze-excitation on every residual branch (Hu et al.).",
    shortcut_options=True,
)
def se_resnet20(shortcut: str | None = "zero_pad") -> Project:
    return _resnet20_variant("SE-ResNet-20", "se", shortcut)


@template(
    "highway20",
    "cifar",
    "ResNet-20 shape with highway gates t*h + (1-t)*x in place of the sums.",
    shortcut_options=True,
)
def highway20(shortcut: str | None = "zero_pad") -> Project:
    return _resnet20_variant("Highway-20", "highway", shortcut)


@template(
    "weighted_resnet20",
    "cifar",
    "ResNet-20 whose residual sums have a learnable weight per input.",
    shortcut_options=True,
)
def weighted_resnet20(shortcut: str | None = "zero_pad") -> Project:
    return _resnet20_variant("Weighted ResNet-20", "weighted", shortcut)


# ------------------------------------------------------------------ SE-ResNet-50
def define_se_bottleneck(project: Project) -> str:
    def body(b: Builder) -> None:
        x = b.last
        b.conv_bn_relu("1", "planes", 1)
        b.conv_bn_relu("2", "planes", 3, "stride", relu="relu2")
        b.conv("conv3", "planes * 4", 1)
        b.bn("bn3")
        b.add("block:SqueezeExcite", "se", rd_channels="planes * 4 // 16")
        b.shortcut(x, b.add("Add", "add"), name="downsample", projection="conv_bn")
        b.relu("relu3")

    return define_block(
        project,
        "SEBottleneck",
        {"planes": ("int", 64), "stride": ("int", 1)},
        "Bottleneck (1x1, 3x3, 1x1 to planes * 4) with squeeze-excitation after bn3, as timm's.",
        body,
    )


@template("se_resnet50", "imagenet", "SE-ResNet-50 (Hu et al.) as timm's seresnet50: 28.1M parameters.")
def se_resnet50() -> Project:
    project = new_project("SE-ResNet-50")
    project.training.update(IMAGENET_TRAINING)
    b = Builder(project)
    b.input((3, 224, 224))
    imagenet_stem(b)
    define_squeeze_excite(project)
    block = define_se_bottleneck(project)
    resnet_stages(b, block, (3, 4, 6, 3), (64, 128, 256, 512), (1, 2, 2, 2), width_param="planes")
    head(b, 1000)
    return project
