"""Stage depth and width as one reversible edit, plain nets, shortcut options, and `main.py edit`."""

from __future__ import annotations

import json

import pytest

import main
from codegen.emitter import emit
from graph.edits import positions
from graph.errors import UserError
from graph.model import Project, Stage
from graph.projectfile import load_project, save_project
from graph.shapes import analyze
from graph.stage_edits import (
    block_stages,
    set_plain,
    set_shortcut,
    set_stage_depth,
    set_stage_width,
    variant_edit,
)
from graph.templates import make
from graph.templates.common import Builder, cifar_stem, define_basic_block, head, resnet_stages


def _strip_names(source: str, *names: str) -> list[str]:
    """Source lines without the module docstring and the network class line/docstring."""
    lines = source.splitlines()[1:]  # the module docstring names the project
    out = []
    for i, line in enumerate(lines):
        if line.startswith("class ") and any(f"class {n}(" in line for n in names):
            continue
        if i > 0 and lines[i - 1].startswith("class ") and any(f"class {n}(" in lines[i - 1] for n in names):
            continue
        out.append(line)
    return out


def test_resnet20_every_stage_nine_is_resnet56_and_undo_restores() -> None:
    project = make("resnet20")
    before = project.to_dict()
    edit, result = variant_edit(project, depth=9)
    assert project.to_dict() == before  # variant_edit works on a copy
    edit.apply(project)
    assert project.to_dict() == result.to_dict()
    r56 = make("resnet56")
    assert analyze(project).total_params == analyze(r56).total_params == 853_018
    mine, ref = emit(project), emit(r56)
    assert mine.class_name == "ResNet20" and ref.class_name == "ResNet56"
    assert _strip_names(mine.source, "ResNet20") == _strip_names(ref.source, "ResNet56")
    assert mine.source != ref.source  # only the name lines differ, and they do
    edit.revert(project)
    assert project.to_dict() == before


def test_grow_names_paths_positions_and_stage() -> None:
    project = make("resnet20")
    g = project.graph
    pos = positions(project, None)
    last = g.node_by_name("layer1_2")
    below = g.node_by_name("layer2_0")
    y_last, y_below = pos[last.id][1], pos[below.id][1]
    edit = set_stage_depth(project, "layer1", 5)
    edit.apply(project)
    stage = next(s for s in g.stages if s.name == "layer1")
    names = [g.nodes[i].name for i in stage.nodes]
    assert names == [f"layer1_{i}" for i in range(5)]
    assert {row.path for row in analyze(project).layers()} >= {"layer1.3.conv1", "layer1.4.bn2"}
    new = g.node_by_name("layer1_4")
    assert new.params == {"out_channels": 16, "stride": 1} and new.type == "block:BasicBlock"
    assert [e.dst for e in g.out_edges(new.id)] == [below.id]
    assert g.out_edges(last.id)[0].dst == g.node_by_name("layer1_3").id
    step = y_last - pos[g.node_by_name("layer1_1").id][1]
    assert pos[new.id][1] == y_last + 2 * step
    assert pos[below.id][1] == y_below + 2 * step  # what follows moves down, no overlap
    assert analyze(project).valid


def test_shrink_from_the_end_and_regrow_a_single_downsampling_instance() -> None:
    project = make("resnet20")
    params = analyze(project).total_params
    before = project.to_dict()
    shrink = set_stage_depth(project, "layer2", 1)
    shrink.apply(project)
    g = project.graph
    stage = next(s for s in g.stages if s.name == "layer2")
    assert [g.nodes[i].name for i in stage.nodes] == ["layer2_0"]
    assert g.nodes[stage.nodes[0]].params["stride"] == 2
    assert [g.nodes[e.dst].name for e in g.out_edges(stage.nodes[0])] == ["layer3_0"]
    assert analyze(project).valid
    grow = set_stage_depth(project, "layer2", 3)
    grow.apply(project)
    stage = next(s for s in g.stages if s.name == "layer2")
    assert [g.nodes[i].params for i in stage.nodes] == [
        {"out_channels": 32, "stride": 2},
        {"out_channels": 32, "stride": 1},  # a copy of the first instance keeps the shape: stride 1
        {"out_channels": 32, "stride": 1},
    ]
    assert analyze(project).total_params == params
    grow.revert(project)
    shrink.revert(project)
    assert project.to_dict() == before


def test_same_depth_is_an_empty_edit() -> None:
    project = make("resnet20")
    edit = set_stage_depth(project, "layer3", 3)
    assert edit.edits == []


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"depth": "layer9=3"}, "unknown stage 'layer9'; the stages are: layer1, layer2, layer3"),
        ({"depth": 0}, "stage layer1: the depth must be at least 1; got 0"),
        ({"depth": "layer2=-1"}, "stage layer2: the depth must be at least 1; got -1"),
        ({"depth": "layer2=two"}, "the depth must be a whole number; got 'two'"),
        ({"width": 0.3}, "16 x 0.3 = 4.8 channels, not a whole number"),
        ({"width": -2}, "the width multiplier must be a positive number"),
        ({"width": "layer4=2"}, "unknown stage 'layer4'"),
        ({"shortcut": "D"}, "shortcut must be A (zero-pad), B"),
        ({"plain": "maybe"}, "plain must be yes or no"),
    ],
)
def test_bad_values_raise_one_clear_line(kwargs: dict, phrase: str) -> None:
    project = make("resnet20")
    before = project.to_dict()
    with pytest.raises(UserError) as info:
        variant_edit(project, **kwargs)
    assert phrase in info.value.message and "\n" not in info.value.message
    assert info.value.exit_code == 2
    assert project.to_dict() == before


def test_width_scales_stage_channels_as_a_wider_template() -> None:
    project = make("resnet20")
    edit, wide = variant_edit(project, width=2)
    # the same net built by hand at 32/64/128 channels, stem and head unchanged
    ref = Project("ResNet-20")
    b = Builder(ref)
    b.input((3, 32, 32))
    cifar_stem(b, 16)
    block = define_basic_block(ref, "BasicBlock", projection="zero_pad")
    resnet_stages(b, block, (3, 3, 3), (32, 64, 128), (1, 2, 2))
    head(b, 10)
    assert analyze(wide).total_params == analyze(ref).total_params
    assert emit(wide).source == emit(ref).source
    before = project.to_dict()
    edit.apply(project)
    assert project.to_dict() == wide.to_dict()
    edit.revert(project)
    assert project.to_dict() == before


def test_width_of_one_stage_and_its_edit_label() -> None:
    project = make("resnet20")
    edit = set_stage_width(project, "layer3", 0.5)
    assert "layer3" in edit.label
    edit.apply(project)
    g = project.graph
    assert [g.node_by_name(f"layer3_{i}").params["out_channels"] for i in range(3)] == [32, 32, 32]
    assert g.node_by_name("layer2_0").params["out_channels"] == 32
    assert analyze(project).valid


def test_width_that_breaks_a_grouped_conv_is_refused() -> None:
    project = Project("grouped")
    b = Builder(project)
    b.input((16, 8, 8))
    a = b.conv("conv_a", 8, 3, 1, groups=8)
    c = b.conv("conv_b", 16, 3, 1)
    b.add("AdaptiveAvgPool2d", "avgpool", output_size=1)
    b.add("Flatten", "flatten")
    b.add("Linear", "fc", out_features=4)
    b.output()
    from graph.model import Stage

    project.graph.set_stages([Stage("features", "name", [a.id, c.id])])
    assert analyze(project).valid
    with pytest.raises(UserError) as info:
        variant_edit(project, width="features=1.5")
    assert "width features=1.5 makes the network invalid" in info.value.message
    assert info.value.exit_code == 2
    _, ok = variant_edit(project, width="features=2")
    assert ok.graph.node_by_name("conv_a").params["out_channels"] == 16


def test_plain_yes_is_the_plain_net_and_shortcut_b_is_option_b() -> None:
    project = make("resnet20")
    before = project.to_dict()
    edit = set_plain(project)
    edit.apply(project)
    plain20 = make("plain20")
    assert analyze(project).total_params == analyze(plain20).total_params == 269_722
    body = project.blocks["BasicBlock"].graph
    assert not any(e.is_shortcut for e in body.edges.values())
    assert [n.name for n in body.nodes.values()] == [
        n.name for n in plain20.blocks["PlainBlock"].graph.nodes.values()
    ]
    mine = emit(project).source.replace("BasicBlock", "PlainBlock").replace("ResNet20", "Plain20")
    ref = emit(plain20).source
    assert len(mine.splitlines()) == len(ref.splitlines())
    differing = [(a, b) for a, b in zip(mine.splitlines(), ref.splitlines(), strict=True) if a != b]
    assert len(differing) == 3  # the module docstring, the block's and the network's docstrings
    edit.revert(project)
    assert project.to_dict() == before

    edit = set_shortcut(project, "b")
    edit.apply(project)
    assert emit(project).source == emit(make("resnet20", shortcut="B")).source
    assert analyze(project).total_params == 269_722 + 2_752
    edit.revert(project)
    assert project.to_dict() == before


def test_plain_refuses_a_gate_and_whole_network_depth_needs_block_stages() -> None:
    with pytest.raises(UserError, match="only shortcuts into an Add can"):
        set_plain(make("highway20"))
    dense = make("densenet_bc100_k12")
    assert block_stages(dense) == []
    with pytest.raises(UserError, match="no stage made of block instances"):
        variant_edit(dense, depth=2)


def test_bottleneck_width_scales_planes() -> None:
    project = make("resnet50")
    _, wide = variant_edit(project, width="layer4=2")
    node = wide.graph.node_by_name("layer4_0")
    assert node.params["planes"] == 1024
    assert analyze(wide).valid


# ------------------------------------------------------------------ the CLI
def test_cli_edit_writes_resnet56(tmp_path, capsys) -> None:
    src, out = tmp_path / "r20.json", tmp_path / "r56.json"
    save_project(make("resnet20"), src)
    code = main.main(["edit", str(src), "--depth", "layer1=9,layer2=9,layer3=9", "-o", str(out)])
    assert code == 0
    assert "853,018 parameters (was 269,722)" in capsys.readouterr().out
    edited = load_project(out)
    assert analyze(edited).total_params == 853_018
    assert json.loads(out.read_text())["name"] == "ResNet-20"
    code = main.main(["edit", str(src), "--depth", "5", "--width", "2", "--name", "W", "-o", str(out)])
    assert code == 0
    assert load_project(out).name == "W"


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--depth", "layer7=2"], "unknown stage 'layer7'"),
        (["--depth", "0"], "the depth must be at least 1"),
        (["--width", "0.3"], "not a whole number"),
        (["--width", "wide"], "--width expects a number or STAGE=VALUE pairs"),
        ([], "edit needs at least one of"),
    ],
)
def test_cli_edit_bad_input_exit_2_nothing_written(tmp_path, capsys, flags, phrase) -> None:
    src, out = tmp_path / "r20.json", tmp_path / "out.json"
    save_project(make("resnet20"), src)
    code = main.main(["edit", str(src), *flags, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert phrase in err and err.count("\n") == 1 and err.startswith("skipwire: ")
    assert not out.exists()


def test_resnext_knobs_are_its_block_parameters(tmp_path, capsys) -> None:
    project = make("resnext29_8x64d")
    _, r = variant_edit(project, params={"cardinality": 16, "base_width": 32})
    nodes = [r.graph.node_by_name(f"layer{i}_0") for i in (1, 2, 3)]
    assert all(n.params["groups"] == 16 and n.params["base_width"] == 32 for n in nodes)
    # the grouped 3x3 conv holds (planes * 32 // 64 * 16) ** 2 * 9 / 16 weights: half of 8x64d's
    assert analyze(r).valid and analyze(r).total_params < analyze(project).total_params
    with pytest.raises(UserError, match="has a parameter 'cardinality'; they have: out_channels, stride"):
        variant_edit(make("resnet20"), params={"cardinality": 4})
    with pytest.raises(UserError, match="must be a whole number of at least 1; got '0'"):
        variant_edit(project, params={"cardinality": "0"})
    src, out = tmp_path / "rx.json", tmp_path / "out.json"
    save_project(project, src)
    assert main.main(["edit", str(src), "--set", "cardinality=16", "-o", str(out)]) == 0
    assert load_project(out).graph.node_by_name("layer3_2").params["groups"] == 16
    assert main.main(["edit", str(src), "--set", "cardinality", "-o", str(out)]) == 2
    assert "--set expects PARAM=VALUE" in capsys.readouterr().err


def test_growing_a_nested_stage_grows_the_stages_around_it() -> None:
    # efficientnet-style: "features" holds the stages of blocks "layer1" and "layer2"
    project = make("resnet20")
    g = project.graph
    inner = [s for s in g.stages if s.name in ("layer1", "layer2")]
    g.set_stages([Stage("features", "index", inner[0].nodes + inner[1].nodes), *g.stages])
    edit = set_stage_depth(project, "layer1", 4)
    edit.apply(project)
    stages = {s.name: s for s in g.stages}
    names = [g.nodes[i].name for i in stages["features"].nodes]
    assert names == [f"layer1_{i}" for i in range(4)] + [f"layer2_{i}" for i in range(3)]
    assert analyze(project).valid
    paths = set(emit(project).module_paths.values())
    assert {"features.0.3.conv1", "features.1.2.bn2"} <= paths  # layer1 is features.0, layer2 features.1
    edit.revert(project)
    stages = {s.name: s for s in g.stages}
    assert len(stages["features"].nodes) == 6 and len(stages["layer1"].nodes) == 3
