"""Small projects for the training tests, built by hand with the graph API."""

from __future__ import annotations

from pathlib import Path

from graph.model import BlockDef, BlockParam, Project


def tiny_resnet(
    input_shape=(1, 28, 28),
    classes: int = 10,
    width: int = 8,
    blocks: int = 1,
    name: str = "tiny",
    stem_stride: int = 1,
) -> Project:
    """conv-bn-relu, `blocks` BasicBlocks per stage at widths (w, 2w), avgpool, fc."""
    p = Project(name)
    b = BlockDef("BasicBlock", {"out_channels": BlockParam("int", width), "stride": BlockParam("int", 1)})
    g = b.graph
    i = g.add("BlockInput", "input")
    c1 = g.add(
        "Conv2d", "conv1", out_channels="out_channels", stride="stride", kernel_size=3, padding=1, bias=False
    )
    b1 = g.add("BatchNorm2d", "bn1")
    r1 = g.add("ReLU", "relu1")
    c2 = g.add("Conv2d", "conv2", out_channels="out_channels", kernel_size=3, padding=1, bias=False)
    b2 = g.add("BatchNorm2d", "bn2")
    add = g.add("Add", "add")
    r2 = g.add("ReLU", "relu2")
    o = g.add("BlockOutput", "output")
    g.chain(i, c1, b1, r1, c2, b2, add, r2, o)
    g.connect(i, add, 1, kind="shortcut", projection="zero_pad")
    p.add_block(b)
    G = p.graph
    x = G.add("Input", "input", shape=list(input_shape))
    prev = G.chain(
        x,
        G.add(
            "Conv2d", "conv1", out_channels=width, kernel_size=3, padding=1, bias=False, stride=stem_stride
        ),
        G.add("BatchNorm2d", "bn1"),
        G.add("ReLU", "relu"),
    )
    for s, (c, st) in enumerate([(width, 1), (2 * width, 2)]):
        for j in range(blocks):
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


ROOT = Path(__file__).resolve().parents[2]
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"  # tests reach it as ../shared/data/mnist
