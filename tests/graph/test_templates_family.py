"""The non-plain members of the built-in templates: DenseNets, a dual path net,
squeeze-excitation, highway and weighted residual nets.

Counts come from graph.shapes.analyze (pure Python). densenet121,
densenet_bc100_k12 and se_resnet50 must hit their published counts; every one
is also compared with an independent reference nn.Module written here by hand
(torchvision's DenseNet, timm's SE-ResNet, kuangliu's DPN26, and resnet20
variants), parameter by parameter: each reference parameter is charged to the
module path of ours that holds it, so a wrong name or a wrong size fails.
The big references are built on the meta device (no memory, no init cost).
"""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graph.shapes import analyze, is_identifier
from graph.templates import all_templates, make
from graph.templates.common import ROW, head_linear
from tests.graph.state_keys import implied_state_keys

FAMILY = {
    "densenet121": "imagenet",
    "densenet_bc100_k12": "cifar",
    "dpn26": "cifar",
    "se_resnet20": "cifar",
    "se_resnet50": "imagenet",
    "highway20": "cifar",
    "weighted_resnet20": "cifar",
}
PUBLISHED = {"densenet121": 7_978_856, "densenet_bc100_k12": 769_162, "se_resnet50": 28_088_024}
RESNET20_VARIANTS = ("se_resnet20", "highway20", "weighted_resnet20")


@pytest.fixture(scope="module")
def built():
    return {name: (p := make(name), analyze(p)) for name in FAMILY}


# ------------------------------------------------------------------ registry, validity, counts
def test_registered_with_families_and_options():
    infos = {t.name: t for t in all_templates()}
    for name, family in FAMILY.items():
        assert infos[name].family == family and infos[name].doc, name
        assert infos[name].shortcut_options == (name in RESNET20_VARIANTS), name


@pytest.mark.parametrize("name", FAMILY)
def test_validates_without_diagnostics(built, name):
    project, analysis = built[name]
    assert [d.message for d in analysis.diagnostics] == []
    imagenet = FAMILY[name] == "imagenet"
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == (
        [3, 224, 224] if imagenet else [3, 32, 32]
    )
    assert analysis.output_shape == ((1000,) if imagenet else (10,))
    assert analysis.trainable_params == analysis.total_params
    json.dumps(project.to_dict())


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_parameter_counts(built, name):
    assert built[name][1].total_params == PUBLISHED[name]


@pytest.mark.parametrize("name", FAMILY)
def test_classes_and_input_overrides(name):
    size = "3,96,96" if FAMILY[name] == "imagenet" else "3,48,48"
    project = make(name, classes=7, input_shape=size)
    assert head_linear(project).params["out_features"] == 7
    analysis = analyze(project)
    assert analysis.valid and analysis.output_shape == (7,)


@pytest.mark.parametrize("name", RESNET20_VARIANTS)
def test_resnet20_variants_take_shortcut_options(name):
    base = analyze(make(name)).total_params
    b = analyze(make(name, shortcut="B"))
    assert b.valid and b.total_params - base == 2_752  # as resnet20: 1x1 conv + BN at the two stage changes
    assert analyze(make(name, shortcut="C")).valid


# ------------------------------------------------------------------ layout
@pytest.mark.parametrize("name", FAMILY)
def test_names_and_layout(built, name):
    project, _ = built[name]
    for block, graph in [(None, project.graph)] + [(k, b.graph) for k, b in project.blocks.items()]:
        pos = project.ui["positions"] if block is None else project.ui["block_positions"][block]
        assert set(pos) == set(graph.nodes), block
        assert len({tuple(p) for p in pos.values()}) == len(pos), f"two nodes on one spot in {block}"
        assert all(is_identifier(n.name) for n in graph.nodes.values())
        first = graph.nodes_of_type("Input" if block is None else "BlockInput")[0]
        last = graph.nodes_of_type("Output" if block is None else "BlockOutput")[0]
        assert pos[first.id] == [0, 0] and pos[last.id][1] == max(p[1] for p in pos.values())
        for e in graph.edges.values():  # data flows down the canvas
            assert pos[e.dst][1] > pos[e.src][1], (block, graph.nodes[e.src].name, graph.nodes[e.dst].name)
        main = sorted(p[1] for p in pos.values() if p[0] == 0)
        assert main == [i * ROW for i in range(len(main))], block


# ------------------------------------------------------------------ structure
def test_densenet121_mirrors_torchvision_names(built):
    project, analysis = built["densenet121"]
    g = project.graph
    (features,) = g.stages
    assert (features.name, features.keys) == ("features", "name")
    assert [g.nodes[i].name for i in features.nodes] == [
        "conv0",
        "norm0",
        "relu0",
        "pool0",
        "denseblock1",
        "transition1",
        "denseblock2",
        "transition2",
        "denseblock3",
        "transition3",
        "denseblock4",
        "norm5",
    ]
    assert {
        b: len(project.blocks[f"DenseBlock{b}"].graph.nodes_of_type("block:DenseLayer"))
        for b in (6, 12, 24, 16)
    } == {6: 6, 12: 12, 24: 24, 16: 16}
    after = [g.nodes[e.dst] for e in g.out_edges(g.nodes[features.nodes[-1]].id)]
    chain = [after[0]]
    while g.out_edges(chain[-1].id):
        chain.append(g.nodes[g.out_edges(chain[-1].id)[0].dst])
    assert [n.type for n in chain] == ["ReLU", "AdaptiveAvgPool2d", "Flatten", "Linear", "Output"]
    assert head_linear(project).name == "classifier"
    block = project.blocks["DenseBlock6"].graph
    cats = block.nodes_of_type("Concat")
    assert len(cats) == 6 and all(c.params.get("num_inputs", 2) == 2 for c in cats)
    layer = project.blocks["DenseLayer"].graph
    assert [n.name for n in layer.nodes.values() if n.type not in ("BlockInput", "BlockOutput")] == [
        "norm1",
        "relu1",
        "conv1",
        "norm2",
        "relu2",
        "conv2",
    ]
    assert not any(n.params.get("bias") for n in layer.nodes_of_type("Conv2d"))
    info = analysis.block_infos["DenseLayer"]
    assert [info.nodes[layer.node_by_name(n).id].out_shape[0] for n in ("conv1", "conv2")] == [128, 32]
    trans = project.blocks["Transition"].graph
    assert trans.node_by_name("conv").params["out_channels"] == "in_channels // 2"
    paths = {row.path for row in analysis.layers()}
    assert {
        "features.denseblock1.denselayer1.norm1",
        "features.transition3.conv",
        "features.denseblock4.denselayer16.conv2",
        "features.norm5",
        "classifier",
    } <= paths


def test_gates_and_weights(built):
    se = built["se_resnet50"][0].blocks["SqueezeExcite"].graph
    assert [n.type for n in se.nodes.values()] == [
        "BlockInput",
        "AdaptiveAvgPool2d",
        "Conv2d",
        "ReLU",
        "Conv2d",
        "Sigmoid",
        "Multiply",
        "BlockOutput",
    ]
    assert all(n.params["bias"] and n.params["kernel_size"] == 1 for n in se.nodes_of_type("Conv2d"))
    hw = built["highway20"][0].blocks["HighwayBlock"].graph
    (gate,) = hw.nodes_of_type("Gate")
    ins = {e.dst_port: (hw.nodes[e.src].name, e.kind) for e in hw.in_edges(gate.id)}
    assert ins == {0: ("bn2", "data"), 1: ("gate_act", "data"), 2: ("input", "shortcut")}
    conv = hw.node_by_name("gate")
    assert conv.params["bias"] is True and conv.params["bias_init"] == -2.0
    (add,) = built["weighted_resnet20"][0].blocks["WeightedBasicBlock"].graph.nodes_of_type("Add")
    assert add.params["weights"] == "learnable"
    dpn = built["dpn26"][0]
    body = dpn.blocks["DualPathBlock"].graph
    assert sorted(n.type for n in body.nodes.values() if n.type in ("ChannelSlice", "Add", "Concat")) == [
        "Add",
        "ChannelSlice",
        "ChannelSlice",
        "ChannelSlice",
        "ChannelSlice",
        "Concat",
    ]


# ------------------------------------------------------------------ hand-written reference modules
class _TVDenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class _TVDenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", _TVDenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNetRef(nn.Module):
    """torchvision.models.DenseNet's structure and names (and Huang et al.'s CIFAR variant)."""

    def __init__(
        self, blocks, growth: int, stem: int, classes: int, imagenet: bool, bn_size: int = 4
    ) -> None:
        super().__init__()
        if imagenet:
            layers = [
                ("conv0", nn.Conv2d(3, stem, 7, 2, 3, bias=False)),
                ("norm0", nn.BatchNorm2d(stem)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(3, 2, 1)),
            ]
        else:
            layers = [("conv0", nn.Conv2d(3, stem, 3, 1, 1, bias=False))]
        self.features = nn.Sequential(OrderedDict(layers))
        c = stem
        for i, n in enumerate(blocks, start=1):
            self.features.add_module(f"denseblock{i}", _TVDenseBlock(n, c, growth, bn_size))
            c += n * growth
            if i < len(blocks):
                self.features.add_module(
                    f"transition{i}",
                    nn.Sequential(
                        OrderedDict(
                            [
                                ("norm", nn.BatchNorm2d(c)),
                                ("relu", nn.ReLU(inplace=True)),
                                ("conv", nn.Conv2d(c, c // 2, 1, bias=False)),
                                ("pool", nn.AvgPool2d(2, 2)),
                            ]
                        )
                    ),
                )
                c //= 2
        self.features.add_module(f"norm{len(blocks) + 1}", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(out, 1))


class SEModule(nn.Module):
    """timm's SEModule (bias=True, ReLU, sigmoid gate) with rd_channels given."""

    def __init__(self, channels: int, rd: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, rd, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, bias=True)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class _SEBottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        out = planes * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), nn.BatchNorm2d(out)
        # timm: rd_channels = make_divisible(out / 16, 8, round_limit=0.)
        rd = max(8, int(out / 16 + 4) // 8 * 8)
        self.se = SEModule(out, rd)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))
            if stride != 1 or cin != out
            else None
        )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.se(self.bn3(self.conv3(y)))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class SEResNet50Ref(nn.Module):
    """timm's seresnet50 (ResNet with Bottleneck + SE after bn3)."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, depth, stride) in enumerate(
            zip((64, 128, 256, 512), (3, 4, 6, 3), (1, 2, 2, 2), strict=True), 1
        ):
            blocks = []
            for j in range(depth):
                blocks.append(_SEBottleneck(cin, planes, stride if j == 0 else 1))
                cin = planes * 4
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _DPNBottleneck(nn.Module):
    """kuangliu/pytorch-cifar's DPN Bottleneck."""

    def __init__(self, last: int, width: int, out_planes: int, dense: int, stride: int, first: bool) -> None:
        super().__init__()
        self.out_planes = out_planes
        self.conv1, self.bn1 = nn.Conv2d(last, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = (
            nn.Conv2d(width, out_planes + dense, 1, bias=False),
            nn.BatchNorm2d(out_planes + dense),
        )
        self.shortcut = nn.Sequential()
        if first:
            self.shortcut = nn.Sequential(
                nn.Conv2d(last, out_planes + dense, 1, stride, bias=False), nn.BatchNorm2d(out_planes + dense)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        x = self.shortcut(x)
        d = self.out_planes
        return F.relu(torch.cat([x[:, :d] + out[:, :d], x[:, d:], out[:, d:]], 1))


class DPN26Ref(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        last = 64
        cfg = zip(
            (96, 192, 384, 768),
            (256, 512, 1024, 2048),
            (2, 2, 2, 2),
            (16, 32, 24, 128),
            (1, 2, 2, 2),
            strict=True,
        )
        for i, (width, out_planes, n, dense, stride) in enumerate(cfg, start=1):
            layers = []
            for j in range(n):
                layers.append(_DPNBottleneck(last, width, out_planes, dense, stride if j == 0 else 1, j == 0))
                last = out_planes + (j + 2) * dense
            setattr(self, f"layer{i}", nn.Sequential(*layers))
        self.linear = nn.Linear(last, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(torch.flatten(F.avg_pool2d(out, 4), 1))


class _ZeroPad(nn.Module):
    """He et al.'s option A: subsample by the stride, pad the new channels with zeros."""

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x):
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.extra))


class _VariantBlock(nn.Module):
    """resnet20's basic block with an SE unit, a highway gate or weighted inputs at the merge."""

    def __init__(self, kind: str, cin: int, cout: int, stride: int, option: str) -> None:
        super().__init__()
        self.kind = kind
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        if kind == "se":
            self.se = SEModule(cout, max(4, cout // 16))
        elif kind == "highway":
            self.gate = nn.Conv2d(cin, cout, 1, stride, bias=True)
            nn.init.constant_(self.gate.bias, -2.0)
        else:
            self.add = nn.Parameter(torch.ones(2))
        changes = stride != 1 or cin != cout
        if option == "A":
            self.shortcut = _ZeroPad(stride, cout - cin) if changes else nn.Identity()
        else:
            self.shortcut = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if changes or option == "C"
                else nn.Identity()
            )

    def forward(self, x):
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        carry = self.shortcut(x)
        if self.kind == "se":
            out = self.se(h) + carry
        elif self.kind == "highway":
            t = torch.sigmoid(self.gate(x))
            out = t * h + (1 - t) * carry
        else:
            out = self.add[0] * h + self.add[1] * carry
        return F.relu(out)


class ResNet20Variant(nn.Module):
    def __init__(self, kind: str, option: str = "A", classes: int = 10) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        cin = 16
        for i, (cout, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
            blocks = []
            for j in range(3):
                blocks.append(_VariantBlock(kind, cin, cout, stride if j == 0 else 1, option))
                cin = cout
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


KINDS = {"se_resnet20": "se", "highway20": "highway", "weighted_resnet20": "weighted"}


def _reference(name: str, option: str = "A") -> nn.Module:
    if name == "densenet121":
        return DenseNetRef((6, 12, 24, 16), 32, 64, 1000, True)
    if name == "densenet_bc100_k12":
        return DenseNetRef((16, 16, 16), 12, 24, 10, False)
    if name == "se_resnet50":
        return SEResNet50Ref()
    if name == "dpn26":
        return DPN26Ref()
    return ResNet20Variant(KINDS[name], option)


def _charged(analysis, ref: nn.Module) -> tuple[dict[str, int], dict[str, int]]:
    """Parameter counts per module path: ours, and the reference's charged to our paths."""
    ours = {
        row.path: row.num_params
        for row in analysis.layers()
        if row.num_params and (row.info is None or row.info.children is None)
    }
    theirs: dict[str, int] = {}
    for key, p in ref.named_parameters():
        parts = key.split(".")
        path = next(
            (".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in ours), key
        )
        theirs[path] = theirs.get(path, 0) + p.numel()
    return ours, theirs


@pytest.mark.parametrize("name", FAMILY)
def test_matches_reference_module(built, name):
    with torch.device("meta"):
        ref = _reference(name)
    analysis = built[name][1]
    assert analysis.total_params == sum(p.numel() for p in ref.parameters())
    ours, theirs = _charged(analysis, ref)
    assert ours == theirs
    if name != "weighted_resnet20":  # its learnable weights' attribute is the code generator's choice
        assert implied_state_keys(analysis) == set(ref.state_dict())


@pytest.mark.parametrize("name", RESNET20_VARIANTS)
@pytest.mark.parametrize("option", ["B", "C"])
def test_shortcut_options_match_reference(name, option):
    with torch.device("meta"):
        ref = _reference(name, option)
    analysis = analyze(make(name, shortcut=option))
    assert analysis.total_params == sum(p.numel() for p in ref.parameters())
    assert _charged(analysis, ref)[0] == _charged(analysis, ref)[1]


@pytest.mark.parametrize("name", ["densenet_bc100_k12", "dpn26", *RESNET20_VARIANTS])
def test_reference_modules_run_at_the_inferred_shapes(built, name):
    """The references are real networks: their output shape is the one shape inference gives."""
    torch.manual_seed(0)
    ref = _reference(name).eval()
    with torch.no_grad():
        out = ref(torch.randn(1, 3, 32, 32))
    assert tuple(out.shape[1:]) == built[name][1].output_shape
