"""Densely connected nets (Huang et al.): every layer sees all earlier features.

A dense block is a chain ``x = cat([x, denselayerN(x)])``: each DenseLayer
block instance (BN-ReLU-1x1 conv to bn_size * growth_rate, BN-ReLU-3x3 conv
to growth_rate, no biases) reads the running features, and a two-input
Concat appends its output, which orders channels as torchvision's
``torch.cat(features, 1)`` does. Blocks of different lengths are different
definitions (DenseBlock6, DenseBlock12, ...). A Transition halves the
channels (``in_channels // 2``) and the resolution.

densenet121 mirrors torchvision's module names (``features.conv0``,
``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``,
``classifier``) so its state_dict keys are torchvision's. densenet_bc100_k12
is Huang et al.'s CIFAR DenseNet-BC (depth 100, k = 12, compression 0.5:
a 3x3 conv to 2k channels, three dense blocks of 16 bottleneck layers), named
the same way.
"""

from __future__ import annotations

from graph.model import Project, Stage
from graph.templates import template
from graph.templates.common import Builder, define_block, new_project
from graph.templates.imagenet_resnets import IMAGENET_TRAINING

DENSE_PARAMS = {"growth_rate": ("int", 32), "bn_size": ("int", 4)}


def define_dense_layer(project: Project) -> str:
    def body(b: Builder) -> None:
        b.bn("norm1")
        b.relu("relu1")
        b.conv("conv1", "bn_size * growth_rate", 1)
        b.bn("norm2")
        b.relu("relu2")
        b.conv("conv2", "growth_rate", 3)

    return define_block(
        project,
        "DenseLayer",
        DENSE_PARAMS,
        "BN-ReLU-1x1 conv (bottleneck) then BN-ReLU-3x3 conv: growth_rate new channels.",
        body,
    )


def define_dense_block(project: Project, num_layers: int) -> str:
    define_dense_layer(project)

    def body(b: Builder) -> None:
        # the running features go down the main column; each layer branches off beside it
        x = b.last
        for i in range(1, num_layers + 1):
            layer = b.side(
                "block:DenseLayer",
                f"denselayer{i}",
                row=b.row - 0.5,
                growth_rate="growth_rate",
                bn_size="bn_size",
            )
            b.connect(x, layer)
            x = b.add("Concat", f"cat{i}", src=x)
            b.connect(layer, x, dst_port=1)

    return define_block(
        project,
        f"DenseBlock{num_layers}",
        DENSE_PARAMS,
        f"{num_layers} dense layers, each concatenated onto the running features.",
        body,
    )


def define_transition(project: Project) -> str:
    def body(b: Builder) -> None:
        b.bn("norm")
        b.relu("relu")
        b.conv("conv", "in_channels // 2", 1)
        b.add("AvgPool2d", "pool", kernel_size=2, stride=2)

    return define_block(
        project, "Transition", {}, "BN-ReLU-1x1 conv halving the channels, then 2x2 average pooling.", body
    )


def densenet(
    title: str,
    input_shape: tuple[int, int, int],
    classes: int,
    imagenet_stem: bool,
    stem_channels: int,
    layers: tuple[int, ...],
    growth_rate: int,
    bn_size: int = 4,
) -> Project:
    project = new_project(title)
    b = Builder(project)
    b.input(input_shape)
    first = b.row
    if imagenet_stem:
        b.conv("conv0", stem_channels, 7, 2, 3)
        b.bn("norm0")
        b.relu("relu0")
        b.add("MaxPool2d", "pool0", kernel_size=3, stride=2, padding=1)
    else:
        b.conv("conv0", stem_channels, 3, 1)
    transition = define_transition(project)
    for i, n in enumerate(layers, start=1):
        block = define_dense_block(project, n)
        b.add(f"block:{block}", f"denseblock{i}", growth_rate=growth_rate, bn_size=bn_size)
        if i < len(layers):
            b.add(f"block:{transition}", f"transition{i}")
    b.bn(f"norm{len(layers) + 1}")
    features = list(b.graph.nodes)[first:]
    b.graph.set_stages([*b.graph.stages, Stage("features", "name", features)])
    b.relu("relu")
    b.add("AdaptiveAvgPool2d", "avgpool", output_size=1)
    b.add("Flatten", "flatten")
    b.add("Linear", "classifier", out_features=classes, init="zero_bias")
    b.output()
    _torchvision_init(project)
    return project


def _torchvision_init(project: Project) -> None:
    """torchvision's DenseNet initialises convs with Kaiming normal, fan_in (not ResNet's fan_out)."""
    for graph in [project.graph, *(blk.graph for blk in project.blocks.values())]:
        for node in graph.nodes.values():
            if node.type == "Conv2d":
                node.params["init"] = "kaiming_fan_in"


@template(
    "densenet121", "imagenet", "DenseNet-121 (Huang et al.) with torchvision's module names: 8.0M parameters."
)
def densenet121() -> Project:
    project = densenet("DenseNet-121", (3, 224, 224), 1000, True, 64, (6, 12, 24, 16), 32)
    project.training.update(IMAGENET_TRAINING)
    return project


@template(
    "densenet_bc100_k12",
    "cifar",
    "DenseNet-BC-100 for CIFAR (Huang et al.): growth 12, compression 0.5, 3 x 16 bottleneck layers: 0.77M.",
)
def densenet_bc100_k12() -> Project:
    project = densenet("DenseNet-BC-100 (k=12)", (3, 32, 32), 10, False, 24, (16, 16, 16), 12)
    # Huang et al.: 300 epochs, batch 64, Nesterov SGD, lr / 10 at 50% and 75%
    project.training.update({"epochs": 300, "batch_size": 64})
    project.training["optimizer"] = dict(project.training["optimizer"], nesterov=True)
    return project
