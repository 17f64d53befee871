"""Built-in ResNet-family templates: names, exact parameter counts, torchvision
module names, --classes / --input / --shortcut, validation errors, layout.

Counts come from graph.shapes.analyze (pure Python). Templates without a
published count are pinned by small reference nn.Modules written here by hand,
built on the meta device (no memory, no init cost).
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from graph import templates
from graph.errors import UserError
from graph.shapes import analyze, is_identifier
from graph.templates import all_templates, get_template, make
from graph.templates.common import ROW, head_linear
from tests.graph.state_keys import implied_state_keys

CIFAR = [
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "preact_resnet110",
    "resnext29_8x64d",
    "wrn28_10",
]
IMAGENET = [
    "plain18",
    "plain34",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "preact_resnet18",
    "resnext50_32x4d",
    "wide_resnet50_2",
]
OURS = CIFAR + IMAGENET

PUBLISHED = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "wrn28_10": 36_479_194,
    "resnext29_8x64d": 34_426_698,
}


@pytest.fixture(scope="module")
def built():
    """Each of our templates built and analysed once, at its defaults."""
    out = {}
    for name in OURS:
        project = make(name)
        out[name] = (project, analyze(project))
    return out


# ------------------------------------------------------------------ registry
def test_names_and_families_are_registered():
    infos = {t.name: t for t in all_templates()}
    for name in CIFAR:
        assert infos[name].family == "cifar", name
    for name in IMAGENET:
        assert infos[name].family == "imagenet", name
    assert all(infos[n].doc for n in OURS)
    with_options = {n for n in OURS if infos[n].shortcut_options}
    assert with_options == {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "preact_resnet110"}


def test_unknown_template_is_a_user_error():
    with pytest.raises(UserError) as exc:
        get_template("resnet9000")
    assert exc.value.exit_code == 2 and "resnet9000" in exc.value.message


# ------------------------------------------------------------------ validity and counts
@pytest.mark.parametrize("name", OURS)
def test_template_validates_without_diagnostics(built, name):
    project, analysis = built[name]
    assert analysis.valid, [d.message for d in analysis.errors]
    assert [d.message for d in analysis.diagnostics] == []
    shape = project.graph.nodes_of_type("Input")[0].params["shape"]
    assert shape == ([3, 32, 32] if name in CIFAR else [3, 224, 224])
    assert analysis.output_shape == ((10,) if name in CIFAR else (1000,))
    assert analysis.trainable_params == analysis.total_params
    # the file format is plain JSON
    json.dumps(project.to_dict())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(built, name):
    assert built[name][1].total_params == PUBLISHED[name]


def test_plain_nets_are_the_resnets_without_shortcuts(built):
    for depth in (20, 32, 44, 56, 110):
        plain = built[f"plain{depth}"][0]
        assert not [e for g in _graphs(plain) for e in g.edges.values() if e.is_shortcut]
        assert not [n for g in _graphs(plain) for n in g.nodes.values() if n.type == "Add"]
        # option A has no parameters, so the counts coincide
        assert built[f"plain{depth}"][1].total_params == PUBLISHED[f"resnet{depth}"]


def test_shortcut_options():
    base = analyze(make("resnet20")).total_params
    b = analyze(make("resnet20", shortcut="B"))
    assert b.valid and b.total_params - base == 2_752
    # option C: a 1x1 conv + BN on all 9 blocks: 3 x (16*16+32) + 3 x (16*32+64 or 32*32+64) ...
    c = analyze(make("resnet20", shortcut="c"))
    expected_c = (
        3 * (16 * 16 + 32) + (16 * 32 + 64) + 2 * (32 * 32 + 64) + (32 * 64 + 128) + 2 * (64 * 64 + 128)
    )
    assert c.valid and c.total_params - base == expected_c
    applied = {sc.applied for sc in c.block_infos["BasicBlock"].shortcuts.values()}
    assert applied == {"conv_bn"}
    pre = analyze(make("preact_resnet110", shortcut="B"))
    assert pre.valid and pre.total_params - analyze(make("preact_resnet110")).total_params == 2_752


def test_shortcut_refused_where_not_offered():
    with pytest.raises(UserError) as exc:
        make("resnet50", shortcut="B")
    assert exc.value.exit_code == 2 and "resnet50" in exc.value.message
    with pytest.raises(UserError) as exc:
        make("resnet20", shortcut="D")
    assert exc.value.exit_code == 2


# ------------------------------------------------------------------ --classes / --input
def test_classes_and_input_overrides():
    project = make("resnet18", classes=5, input_shape="3,64,64")
    a = analyze(project)
    assert a.valid and a.output_shape == (5,)
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == [3, 64, 64]
    fc = head_linear(project)
    assert fc.name == "fc" and fc.params["out_features"] == 5
    assert a.total_params == PUBLISHED["resnet18"] - 513 * 1000 + 513 * 5
    # a sequence works as well as the CLI string; grayscale input changes only conv1
    gray = analyze(make("resnet20", classes=100, input_shape=[1, 28, 28]))
    assert gray.valid and gray.output_shape == (100,)
    assert gray.total_params == PUBLISHED["resnet20"] - 2 * 16 * 9 - 65 * 10 + 65 * 100


def test_tiny_input_stays_valid_thanks_to_adaptive_pooling():
    a = analyze(make("resnet50", input_shape="3,8,8"))
    assert a.valid and a.output_shape == (1000,)
    assert a.shape_of(a.project.graph.node_by_name("layer4_2").id) == (2048, 1, 1)


def test_invalid_input_names_the_node():
    with pytest.raises(UserError) as exc:
        make("resnet18", input_shape="10")
    assert exc.value.exit_code == 1
    assert '"conv1"' in exc.value.message and "resnet18" in exc.value.message


@pytest.mark.parametrize("bad", ["3,x,32", "3,0,32", "1,2,3,4", ""])
def test_malformed_input_is_bad_input(bad):
    with pytest.raises(UserError) as exc:
        make("resnet20", input_shape=bad)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_classes_is_bad_input(bad):
    with pytest.raises(UserError) as exc:
        make("resnet20", classes=bad)
    assert exc.value.exit_code == 2


def test_error_inside_a_block_names_the_instance():
    project = make("resnet18")
    body = project.blocks["BasicBlock"].graph
    conv2 = body.node_by_name("conv2")
    body.set_param(conv2.id, "kernel_size", 31)
    body.set_param(conv2.id, "padding", 0)
    a = analyze(project)
    assert not a.valid
    text = templates._describe(a, a.errors[0])
    # conv2 shrinks 56x56 to 26x26, so the residual Add of the first instance fails
    assert text.startswith('block instance "layer1_0" (layer1.0, a BasicBlock): Add "add":'), text


def test_cli_new_writes_a_loadable_project(tmp_path):
    import main
    from graph.projectfile import load_project

    out = tmp_path / "r18.json"
    assert main.main(["new", "resnet18", "-o", str(out), "--classes", "5", "--input", "3,64,64"]) == 0
    a = analyze(load_project(out))
    assert a.valid and a.output_shape == (5,)
    assert main.main(["new", "resnet20", "-o", str(tmp_path / "b.json"), "--shortcut", "B"]) == 0
    assert analyze(load_project(tmp_path / "b.json")).total_params == PUBLISHED["resnet20"] + 2_752


# ------------------------------------------------------------------ structure and layout
def _graphs(project):
    return [project.graph] + [b.graph for b in project.blocks.values()]


@pytest.mark.parametrize("name", OURS)
def test_names_and_layout(built, name):
    project, _ = built[name]
    for block, graph in [(None, project.graph)] + [(k, b.graph) for k, b in project.blocks.items()]:
        pos = project.ui["positions"] if block is None else project.ui["block_positions"][block]
        assert set(pos) == set(graph.nodes), (block, set(graph.nodes) ^ set(pos))
        assert len({tuple(p) for p in pos.values()}) == len(pos), "two nodes on one spot"
        assert all(is_identifier(n.name) for n in graph.nodes.values())
        first = graph.nodes_of_type("Input" if block is None else "BlockInput")[0]
        last = graph.nodes_of_type("Output" if block is None else "BlockOutput")[0]
        ys = [p[1] for p in pos.values()]
        assert pos[first.id] == [0, 0] and pos[last.id][1] == max(ys)
        for e in graph.edges.values():  # data flows down the canvas
            assert pos[e.dst][1] > pos[e.src][1], (block, graph.nodes[e.src].name, graph.nodes[e.dst].name)
        main = [p for p in pos.values() if p[0] == 0]
        assert sorted(p[1] for p in main) == [i * ROW for i in range(len(main))]


def test_stages_follow_torchvision(built):
    project, a = built["resnet50"]
    stages = project.graph.stages
    assert [s.name for s in stages] == ["layer1", "layer2", "layer3", "layer4"]
    assert [len(s.nodes) for s in stages] == [3, 4, 6, 3]
    assert all(s.keys == "index" for s in stages)
    paths = [row.path for row in a.layers()]
    assert "layer2.0.downsample" in paths and "layer1.0.conv3" in paths
    body = project.blocks["Bottleneck"]
    assert set(body.params) == {"planes", "stride", "groups", "base_width"}
    assert body.graph.node_by_name("conv1").params["out_channels"] == "planes * base_width // 64 * groups"
    assert body.graph.node_by_name("conv3").params["out_channels"] == "planes * 4"
    assert body.graph.node_by_name("conv2").params["stride"] == "stride"  # v1.5: stride on the 3x3


# ------------------------------------------------------------------ hand-written reference modules


def _conv(i, o, k, s=1, g=1):
    return nn.Conv2d(i, o, k, s, k // 2, groups=g, bias=False)


def _proj(i, o, s):
    return nn.Sequential(_conv(i, o, 1, s), nn.BatchNorm2d(o))


class TVBasic(nn.Module):  # torchvision.models.resnet.BasicBlock, optionally without its shortcut
    expansion = 1

    def __init__(self, inp, planes, stride, downsample, groups=1, base_width=64):
        super().__init__()
        self.conv1, self.bn1 = _conv(inp, planes, 3, stride), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2, self.bn2 = _conv(planes, planes, 3), nn.BatchNorm2d(planes)
        self.downsample = downsample


class TVBottleneck(nn.Module):  # torchvision.models.resnet.Bottleneck (v1.5)
    expansion = 4

    def __init__(self, inp, planes, stride, downsample, groups=1, base_width=64):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1, self.bn1 = _conv(inp, width, 1), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _conv(width, width, 3, stride, groups), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = _conv(width, planes * 4, 1), nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample


class TVResNet(nn.Module):  # torchvision.models.resnet.ResNet
    def __init__(self, block, layers, groups=1, width_per_group=64, plain=False, classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        for i, (planes, n, stride) in enumerate(
            zip((64, 128, 256, 512), layers, (1, 2, 2, 2), strict=True), start=1
        ):
            blocks = []
            for j in range(n):
                s = stride if j == 0 else 1
                out = planes * block.expansion
                down = None if plain or (s == 1 and self.inplanes == out) else _proj(self.inplanes, out, s)
                blocks.append(block(self.inplanes, planes, s, down, groups, width_per_group))
                self.inplanes = out
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(512 * block.expansion, classes)


class CifarBasic(nn.Module):  # He et al. 2016 sec 4.2 block; option A shortcuts hold no parameters
    def __init__(self, inp, out, stride, option):
        super().__init__()
        self.conv1, self.bn1 = _conv(inp, out, 3, stride), nn.BatchNorm2d(out)
        self.conv2, self.bn2 = _conv(out, out, 3), nn.BatchNorm2d(out)
        if option == "C" or (option == "B" and (stride != 1 or inp != out)):
            self.downsample = _proj(inp, out, stride)


class CifarResNet(nn.Module):
    def __init__(self, depth, option="A", classes=10):  # option None: the plain net
        super().__init__()
        n = (depth - 2) // 6
        self.conv1, self.bn1 = _conv(3, 16, 3), nn.BatchNorm2d(16)
        inp = 16
        for i, (out, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
            setattr(
                self,
                f"layer{i}",
                nn.Sequential(
                    *[
                        CifarBasic(inp if j == 0 else out, out, stride if j == 0 else 1, option)
                        for j in range(n)
                    ]
                ),
            )
            inp = out
        self.fc = nn.Linear(64, classes)


class PreActBasic(nn.Module):  # He et al. 2016b: BN-ReLU-conv twice, identity (or projected) shortcut
    def __init__(self, inp, out, stride, option):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(inp), _conv(inp, out, 3, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(out), _conv(out, out, 3)
        if option == "B" and (stride != 1 or inp != out):
            self.downsample = _proj(inp, out, stride)


class PreActResNet(nn.Module):
    def __init__(self, imagenet, layers, widths, option, classes):
        super().__init__()
        if imagenet:
            self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
            inp = 64
        else:
            self.conv1 = _conv(3, widths[0], 3)
            inp = widths[0]
        strides = (1, 2, 2, 2)
        for i, (out, n) in enumerate(zip(widths, layers, strict=True), start=1):
            setattr(
                self,
                f"layer{i}",
                nn.Sequential(
                    *[
                        PreActBasic(inp if j == 0 else out, out, strides[i - 1] if j == 0 else 1, option)
                        for j in range(n)
                    ]
                ),
            )
            inp = out
        setattr(self, "bn2" if imagenet else "bn1", nn.BatchNorm2d(inp))
        self.fc = nn.Linear(inp, classes)


def _reference(name: str, shortcut: str | None = None) -> nn.Module:
    tv = {
        "resnet18": (TVBasic, (2, 2, 2, 2), {}),
        "resnet34": (TVBasic, (3, 4, 6, 3), {}),
        "plain18": (TVBasic, (2, 2, 2, 2), {"plain": True}),
        "plain34": (TVBasic, (3, 4, 6, 3), {"plain": True}),
        "resnet50": (TVBottleneck, (3, 4, 6, 3), {}),
        "resnet101": (TVBottleneck, (3, 4, 23, 3), {}),
        "resnet152": (TVBottleneck, (3, 8, 36, 3), {}),
        "resnext50_32x4d": (TVBottleneck, (3, 4, 6, 3), {"groups": 32, "width_per_group": 4}),
        "wide_resnet50_2": (TVBottleneck, (3, 4, 6, 3), {"width_per_group": 128}),
    }
    with torch.device("meta"):
        if name in tv:
            block, layers, kw = tv[name]
            return TVResNet(block, layers, **kw)
        if name.startswith("plain"):
            return CifarResNet(int(name[5:]), None)
        if name.startswith("resnet"):
            return CifarResNet(int(name[6:]), shortcut or "A")
        if name == "preact_resnet110":
            return PreActResNet(False, (18, 18, 18), (16, 32, 64), shortcut or "A", 10)
        if name == "preact_resnet18":
            return PreActResNet(True, (2, 2, 2, 2), (64, 128, 256, 512), "B", 1000)
    raise KeyError(name)


REFERENCED = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "wide_resnet50_2",
    "plain18",
    "plain34",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "preact_resnet110",
    "preact_resnet18",
]


@pytest.mark.parametrize("name", REFERENCED)
def test_matches_reference_module(built, name):
    """Same parameter count and the same state_dict keys as the hand-written reference
    (for the torchvision mirrors: torchvision's own structure and names)."""
    ref = _reference(name)
    analysis = built[name][1]
    assert analysis.total_params == sum(p.numel() for p in ref.parameters())
    assert implied_state_keys(analysis) == set(ref.state_dict())


@pytest.mark.parametrize("name,option", [("resnet20", "B"), ("resnet56", "C"), ("preact_resnet110", "B")])
def test_shortcut_options_match_reference(name, option):
    ref = _reference(name, option)
    analysis = analyze(make(name, shortcut=option))
    assert analysis.total_params == sum(p.numel() for p in ref.parameters())
    assert implied_state_keys(analysis) == set(ref.state_dict())
