"""Small projects built by hand with the model API, for the codegen tests."""

from __future__ import annotations

from graph.model import BlockDef, BlockParam, Project


def resnet20(projection: str = "zero_pad", classes: int = 10, shape=(3, 32, 32)) -> Project:
    """He et al.'s CIFAR ResNet-20 without stages (blocks b00 .. b22)."""
    p = Project("ResNet-20 by hand")
    b = BlockDef("BasicBlock", {"out_channels": BlockParam("int", 16), "stride": BlockParam("int", 1)})
    g = b.graph
    i = g.add("BlockInput", "input")
    c1 = g.add("Conv2d", "conv1", out_channels="out_channels", stride="stride", bias=False)
    b1 = g.add("BatchNorm2d", "bn1")
    r1 = g.add("ReLU", "relu1")
    c2 = g.add("Conv2d", "conv2", out_channels="out_channels", bias=False)
    b2 = g.add("BatchNorm2d", "bn2")
    add = g.add("Add", "add")
    r2 = g.add("ReLU", "relu2")
    o = g.add("BlockOutput", "output")
    g.chain(i, c1, b1, r1, c2, b2, add, r2, o)
    g.connect(i, add, 1, kind="shortcut", projection=projection)
    p.add_block(b)
    G = p.graph
    x = G.add("Input", "input", shape=list(shape))
    prev = G.chain(
        x,
        G.add("Conv2d", "conv1", out_channels=16, bias=False),
        G.add("BatchNorm2d", "bn1"),
        G.add("ReLU", "relu"),
    )
    for s, (c, st) in enumerate([(16, 1), (32, 2), (64, 2)]):
        for j in range(3):
            n = G.add("block:BasicBlock", f"b{s}{j}", out_channels=c, stride=st if j == 0 else 1)
            G.connect(prev, n)
            prev = n
    G.chain(
        prev,
        G.add("AdaptiveAvgPool2d", "avgpool"),
        G.add("Flatten", "flatten"),
        G.add("Linear", "fc", out_features=classes),
        G.add("Output", "output"),
    )
    return p
