"""Dual path networks (Chen et al. 2017): a residual path and a dense path.

Each block runs 1x1 conv -> grouped 3x3 conv (32 groups, the block's
stride) -> 1x1 conv to ``out_planes + dense_depth`` channels (each with BN;
ReLU after the first two). The block's input x holds a residual part (its
first R = out_planes channels) and a dense part (the rest); with y the
branch's output the block returns ``relu(cat([x[:R] + y[:R], x[R:], y[R:]]))``:
the first R new channels are added to the residual part, the last
dense_depth are appended to the dense part. ChannelSlice, Add and Concat
nodes spell this out.

The first block of a stage projects x first (1x1 conv with the stage's
stride + BN, to R + dense_depth channels), so it is its own definition,
DualPathEntry; the projection is a stage named ``shortcut`` (keys
``shortcut.0``, ``shortcut.1``). The others are DualPathBlock.

dpn26 is kuangliu's CIFAR DPN26 (pytorch-cifar): a 3x3 conv to 64, stages of
2-2-2-2 blocks with widths 96/192/384/768, out_planes 256/512/1024/2048 and
dense depths 16/32/24/128, global average pooling, a Linear named ``linear``;
module names are that implementation's (``layer1.0.conv1``, ``layer1.0.shortcut.0``).
"""

from __future__ import annotations

from graph.model import Project, Stage
from graph.templates import template
from graph.templates.common import SIDE_X, Builder, define_block, new_project, stage

DPN_PARAMS = {
    "width": ("int", 96),
    "out_planes": ("int", 256),
    "dense_depth": ("int", 16),
    "stride": ("int", 1),
}
# per stage: (width, out_planes, blocks, dense_depth, stride)
DPN26 = ((96, 256, 2, 16, 1), (192, 512, 2, 32, 2), (384, 1024, 2, 24, 2), (768, 2048, 2, 128, 2))


def define_dual_path_block(project: Project, entry: bool) -> str:
    def body(b: Builder) -> None:
        x = b.last
        row = b.row
        b.conv_bn_relu("1", "width", 1, relu="relu1")
        b.conv_bn_relu("2", "width", 3, "stride", groups=32, relu="relu2")
        b.conv("conv3", "out_planes + dense_depth", 1)
        y = b.bn("bn3")
        carry = x
        if entry:
            proj = b.side(
                "Conv2d",
                "shortcut_conv",
                row=row,
                out_channels="out_planes + dense_depth",
                kernel_size=1,
                stride="stride",
                padding=0,
                bias=False,
            )
            carry = b.side("BatchNorm2d", "shortcut_bn", row=row + 1)
            b.connect(x, proj)
            b.connect(proj, carry)
            b.graph.set_stages([Stage("shortcut", "index", [proj.id, carry.id])])
        slices = b.row
        x_res = b.side("ChannelSlice", "x_residual", row=slices, x=SIDE_X, start=0, stop="out_planes")
        x_dense = b.side("ChannelSlice", "x_dense", row=slices, x=2 * SIDE_X, start="out_planes")
        b.add("ChannelSlice", "y_residual", start=0, stop="out_planes")
        y_dense = b.side("ChannelSlice", "y_dense", row=slices, x=-SIDE_X, start="out_planes")
        for src, dst in ((carry, x_res), (carry, x_dense), (y, y_dense)):
            b.connect(src, dst)
        add = b.add("Add", "residual")
        b.connect(x_res, add, dst_port=1)
        cat = b.add("Concat", "cat", num_inputs=3)
        b.connect(x_dense, cat, dst_port=1)
        b.connect(y_dense, cat, dst_port=2)
        b.relu("relu")

    name = "DualPathEntry" if entry else "DualPathBlock"
    doc = (
        "First dual path block of a stage: projects its input (1x1 conv + BN) before splitting it."
        if entry
        else "Dual path block: residual sum on the first out_planes channels, dense concat on the rest."
    )
    return define_block(project, name, DPN_PARAMS, doc, body)


@template(
    "dpn26", "cifar", "Dual path net DPN-26 for CIFAR (Chen et al. 2017; kuangliu's configuration): 11.6M."
)
def dpn26() -> Project:
    project = new_project("DPN-26")
    b = Builder(project)
    b.input((3, 32, 32))
    b.conv_bn_relu("1", 64, 3)
    entry = define_dual_path_block(project, True)
    block = define_dual_path_block(project, False)
    for i, (width, out_planes, depth, dense_depth, stride) in enumerate(DPN26, start=1):
        params = [
            {
                "width": width,
                "out_planes": out_planes,
                "dense_depth": dense_depth,
                "stride": stride if j == 0 else 1,
            }
            for j in range(depth)
        ]
        stage(b, f"layer{i}", [entry] + [block] * (depth - 1), params)
    b.add("AdaptiveAvgPool2d", "avgpool", output_size=1)
    b.add("Flatten", "flatten")
    b.add("Linear", "linear", out_features=10)
    b.output()
    return project
