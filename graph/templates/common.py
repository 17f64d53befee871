"""Reusable pieces for building templates: a laid-out graph builder, the
standard residual block definitions, stems, a stage builder and the head.

Everything here builds through the model's API (``Graph.add``/``connect``,
``Project.add_block``) and stores canvas positions with
``graph.edits.positions`` so a template opens readable, top to bottom: the
main path in a column at x=0, one row every ``ROW`` pixels, side branches
(if any) at ``SIDE_X``. Shortcut edges are edges, not nodes, and need no
position.

Names follow torchvision so that generated state_dict keys match it:
``conv1 bn1 relu maxpool layer1..layer4 avgpool fc`` in the network and
``conv1 bn1 conv2 bn2 (conv3 bn3)`` plus a shortcut edge named
``downsample`` inside blocks. ReLUs hold no weights; they are named
``relu``, ``relu2``, ``relu3`` inside a block because names must be unique.

Typical use::

    project = new_project("ResNet-18", (3, 224, 224))
    b = Builder(project)
    b.input((3, 224, 224))
    imagenet_stem(b)
    block = define_basic_block(project)
    stage(b, "layer1", block, [{"out_channels": 64, "stride": 1}] * 2)
    head(b, 1000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph.edits import positions
from graph.model import BLOCK_PREFIX, BlockDef, BlockParam, Graph, Node, Project, Stage

ROW = 110  # vertical spacing of the main column, in scene pixels
SIDE_X = 260  # x of nodes on a side branch (projection convs, gates, SE paths)

# He et al. 2016's three shortcut options, as edge projections
SHORTCUT_OPTIONS = {"A": "zero_pad", "B": "conv_bn", "C": "conv_bn_always"}


class Builder:
    """Adds nodes to one graph (the network, or a block body) and lays them out.

    ``add`` puts a node on the next row of the main column and, unless told
    otherwise, connects it from the previous main-column node (``last``).
    ``side`` puts a node beside the column without connecting it.
    """

    def __init__(self, project: Project, block: str | None = None) -> None:
        self.project = project
        self.block = block
        self.graph: Graph = project.graph_of(block)
        self.positions = positions(project, block)
        self.row = 0
        self.last: Node | None = None

    def place(self, node: Node, x: float, y: float) -> Node:
        self.positions[node.id] = [x, y]
        return node

    def add(
        self,
        type_name: str,
        name: str,
        *,
        connect: bool = True,
        src: Node | None = None,
        dst_port: int = 0,
        **params: Any,
    ) -> Node:
        """Add a main-column node; connect it from ``src`` (default: the last one)."""
        node = self.graph.add(type_name, name, **params)
        self.place(node, 0, self.row * ROW)
        self.row += 1
        source = src if src is not None else self.last
        if connect and source is not None:
            self.graph.connect(source, node, dst_port=dst_port)
        self.last = node
        return node

    def side(
        self, type_name: str, name: str, *, row: float | None = None, x: float = SIDE_X, **params: Any
    ) -> Node:
        """Add a node beside the column (row defaults to the current one); not connected."""
        node = self.graph.add(type_name, name, **params)
        self.place(node, x, (self.row if row is None else row) * ROW)
        return node

    def connect(self, src: Node, dst: Node, dst_port: int = 0, **kw: Any):
        return self.graph.connect(src, dst, dst_port=dst_port, **kw)

    def shortcut(
        self, src: Node, dst: Node, dst_port: int = 1, name: str = "downsample", projection: str = "conv_bn"
    ):
        """A shortcut edge (into a merge); its projection module is called ``name`` in code."""
        return self.graph.connect(
            src, dst, dst_port=dst_port, kind="shortcut", name=name, projection=projection
        )

    # ---- small chains ---------------------------------------------------------
    def conv(
        self,
        name: str,
        out_channels: Any,
        kernel_size: int = 3,
        stride: Any = 1,
        padding: Any = None,
        groups: Any = 1,
        bias: bool = False,
        **extra: Any,
    ) -> Node:
        """A Conv2d with torchvision's padding (kernel_size // 2) unless given."""
        pad = kernel_size // 2 if padding is None else padding
        params: dict[str, Any] = {
            "out_channels": out_channels,
            "kernel_size": kernel_size,
            "stride": stride,
            "padding": pad,
            "bias": bias,
        }
        if groups != 1:
            params["groups"] = groups
        params.update(extra)
        return self.add("Conv2d", name, **params)

    def bn(self, name: str, zero_init: bool = False) -> Node:
        return self.add("BatchNorm2d", name, **({"zero_init": True} if zero_init else {}))

    def relu(self, name: str = "relu") -> Node:
        return self.add("ReLU", name)

    def conv_bn_relu(
        self,
        suffix: str,
        out_channels: Any,
        kernel_size: int = 3,
        stride: Any = 1,
        padding: Any = None,
        groups: Any = 1,
        relu: str | None = "relu",
    ) -> Node:
        """conv{suffix} -> bn{suffix} (-> a ReLU named ``relu``, or none if relu is None)."""
        self.conv(f"conv{suffix}", out_channels, kernel_size, stride, padding, groups)
        self.bn(f"bn{suffix}")
        if relu is not None:
            self.relu(relu)
        return self.last  # type: ignore[return-value]

    # ---- network / block ends ---------------------------------------------------
    def input(self, shape: Sequence[int], name: str = "input") -> Node:
        return self.add("Input", name, connect=False, shape=list(shape))

    def block_input(self, name: str = "input") -> Node:
        return self.add("BlockInput", name, connect=False)

    def output(self, name: str = "output") -> Node:
        return self.add("Output" if self.block is None else "BlockOutput", name)


def new_project(name: str) -> Project:
    return Project(name)


# ------------------------------------------------------------------ block definitions
def define_block(project: Project, name: str, params: dict[str, tuple[str, Any]], doc: str, body) -> str:
    """Declare ``name`` once per project with typed params; ``body(builder)`` fills it.

    The body is built between a BlockInput named ``input`` and a BlockOutput
    named ``output``: ``body`` receives the builder after the BlockInput and
    must leave the node that feeds the output as ``builder.last``.
    Returns the block name (already present: returned as is).
    """
    if name in project.blocks:
        return name
    bdef = BlockDef(name, {k: BlockParam(t, d) for k, (t, d) in params.items()}, Graph(), doc)
    project.add_block(bdef)
    b = Builder(project, name)
    b.block_input()
    body(b)
    b.output()
    return name


def define_basic_block(
    project: Project,
    name: str = "BasicBlock",
    *,
    projection: str | None = "conv_bn",
    zero_init_residual: bool = False,
) -> str:
    """ResNet basic block: 3x3 conv (stride) - BN - ReLU - 3x3 conv - BN, + shortcut, ReLU.

    Params ``out_channels``, ``stride``. ``projection`` None gives the plain
    (shortcut-free) block of He et al.'s plain nets.
    """

    def body(b: Builder) -> None:
        x = b.last
        b.conv_bn_relu("1", "out_channels", 3, "stride")
        b.conv("conv2", "out_channels", 3, 1)
        b.bn("bn2", zero_init=zero_init_residual)
        if projection is not None:
            add = b.add("Add", "add")
            b.shortcut(x, add, projection=projection)
        b.relu("relu2")

    doc = "Two 3x3 convolutions" + (
        " with a shortcut (He et al. 2016)." if projection else " without a shortcut (He et al.'s plain net)."
    )
    return define_block(project, name, {"out_channels": ("int", 64), "stride": ("int", 1)}, doc, body)


BOTTLENECK_WIDTH = "planes * base_width // 64 * groups"


def define_bottleneck(
    project: Project,
    name: str = "Bottleneck",
    *,
    projection: str | None = "conv_bn",
    zero_init_residual: bool = False,
) -> str:
    """torchvision's Bottleneck (v1.5, stride on the 3x3 conv): 1x1 - 3x3 (groups) - 1x1 (planes * 4).

    Params ``planes``, ``stride``, ``groups``, ``base_width``; inner width
    ``planes * base_width // 64 * groups`` (ResNeXt: groups = cardinality,
    Wide ResNet: base_width 128).
    """

    def body(b: Builder) -> None:
        x = b.last
        b.conv_bn_relu("1", BOTTLENECK_WIDTH, 1)
        b.conv_bn_relu("2", BOTTLENECK_WIDTH, 3, "stride", groups="groups", relu="relu2")
        b.conv("conv3", "planes * 4", 1)
        b.bn("bn3", zero_init=zero_init_residual)
        if projection is not None:
            add = b.add("Add", "add")
            b.shortcut(x, add, projection=projection)
        b.relu("relu3")

    return define_block(
        project,
        name,
        {"planes": ("int", 64), "stride": ("int", 1), "groups": ("int", 1), "base_width": ("int", 64)},
        "Bottleneck: 1x1 reduce, 3x3 (grouped, strided), 1x1 expand to planes * 4, + shortcut.",
        body,
    )


def define_preact_block(
    project: Project,
    name: str = "PreActBlock",
    *,
    projection: str | None = "conv_bn",
    dropout: float | None = None,
) -> str:
    """Pre-activation basic block (He et al. 2016b): BN - ReLU - conv (stride) - BN - ReLU - conv, + shortcut.

    Params ``out_channels``, ``stride``. The shortcut leaves from the block's
    input (identity mapping); where the shape changes, the projection maps it.
    With ``dropout`` (a float, may be 0.0) a Dropout sits between the two
    convolutions, as in Zagoruyko and Komodakis's wide block.
    """

    def body(b: Builder) -> None:
        x = b.last
        b.bn("bn1")
        b.relu("relu")
        b.conv("conv1", "out_channels", 3, "stride")
        b.bn("bn2")
        b.relu("relu2")
        if dropout is not None:
            b.add("Dropout", "dropout", p=float(dropout))
        b.conv("conv2", "out_channels", 3, 1)
        if projection is not None:
            add = b.add("Add", "add")
            b.shortcut(x, add, projection=projection)

    doc = (
        "Pre-activation block: BN-ReLU-conv twice"
        + (", dropout between" if dropout is not None else "")
        + ", + identity shortcut (He et al. 2016b)."
    )
    return define_block(project, name, {"out_channels": ("int", 64), "stride": ("int", 1)}, doc, body)


def define_preact_bottleneck(
    project: Project, name: str = "PreActBottleneck", *, projection: str | None = "conv_bn"
) -> str:
    """Pre-activation bottleneck: (BN-ReLU-conv) 1x1, 3x3 (stride, groups), 1x1 to planes * 4, + shortcut."""

    def body(b: Builder) -> None:
        x = b.last
        b.bn("bn1")
        b.relu("relu")
        b.conv("conv1", BOTTLENECK_WIDTH, 1)
        b.bn("bn2")
        b.relu("relu2")
        b.conv("conv2", BOTTLENECK_WIDTH, 3, "stride", groups="groups")
        b.bn("bn3")
        b.relu("relu3")
        b.conv("conv3", "planes * 4", 1)
        if projection is not None:
            add = b.add("Add", "add")
            b.shortcut(x, add, projection=projection)

    return define_block(
        project,
        name,
        {"planes": ("int", 64), "stride": ("int", 1), "groups": ("int", 1), "base_width": ("int", 64)},
        "Pre-activation bottleneck (He et al. 2016b).",
        body,
    )


# ------------------------------------------------------------------ network pieces
def cifar_stem(b: Builder, channels: int = 16, bn_relu: bool = True) -> Node:
    """3x3 conv (stride 1) [- BN - ReLU]: the CIFAR ResNets' first layer."""
    b.conv("conv1", channels, 3, 1)
    if bn_relu:
        b.bn("bn1")
        b.relu("relu")
    return b.last  # type: ignore[return-value]


def imagenet_stem(b: Builder, channels: int = 64) -> Node:
    """torchvision's stem: 7x7 conv /2 - BN - ReLU - 3x3 max pool /2."""
    b.conv("conv1", channels, 7, 2, 3)
    b.bn("bn1")
    b.relu("relu")
    b.add("MaxPool2d", "maxpool", kernel_size=3, stride=2, padding=1)
    return b.last  # type: ignore[return-value]


def stage(
    b: Builder,
    name: str,
    block: str | Sequence[str],
    instances: Sequence[dict[str, Any]],
    keys: str = "index",
) -> list[Node]:
    """Chain one instance of ``block`` per params dict after ``b.last`` and declare them a Stage.

    ``block`` is one block name, or one per instance (a stage may mix, say, a
    projecting first block with identity blocks). Instances are named
    ``{name}_{i}``; with keys "index" the code path is ``{name}.{i}``
    (torchvision's ``layer1.0``).
    """
    blocks = [block] * len(instances) if isinstance(block, str) else list(block)
    if len(blocks) != len(instances):
        raise ValueError(f"stage {name}: {len(blocks)} block names for {len(instances)} instances")
    nodes = [
        b.add(BLOCK_PREFIX + blk, f"{name}_{i}", **dict(p))
        for i, (blk, p) in enumerate(zip(blocks, instances, strict=True))
    ]
    b.graph.set_stages(list(b.graph.stages) + [Stage(name, keys, [n.id for n in nodes])])
    return nodes


def resnet_stages(
    b: Builder,
    block: str,
    depths: Sequence[int],
    widths: Sequence[int],
    strides: Sequence[int],
    width_param: str = "out_channels",
    extra: dict[str, Any] | None = None,
    prefix: str = "layer",
) -> list[list[Node]]:
    """The usual layer1..layerN: stage i has depths[i] blocks, the first with strides[i]."""
    out = []
    for i, (depth, width, stride) in enumerate(zip(depths, widths, strides, strict=False), start=1):
        params = [
            {width_param: width, "stride": stride if j == 0 else 1, **(extra or {})} for j in range(depth)
        ]
        out.append(stage(b, f"{prefix}{i}", block, params))
    return out


def head(b: Builder, classes: int, *, pool: bool = True, dropout: float | None = None) -> Node:
    """Global average pool - flatten - [dropout] - Linear ``fc`` (the head) - Output."""
    if pool:
        b.add("AdaptiveAvgPool2d", "avgpool", output_size=1)
    b.add("Flatten", "flatten")
    if dropout is not None:
        b.add("Dropout", "dropout", p=float(dropout))
    fc = b.add("Linear", "fc", out_features=classes)
    b.output()
    return fc


def head_linear(project: Project) -> Node | None:
    """The Linear that feeds the network's Output (what ``--classes`` sets)."""
    g = project.graph
    for out in g.nodes_of_type("Output"):
        for e in g.in_edges(out.id):
            src = g.nodes[e.src]
            if src.type == "Linear":
                return src
    return None
