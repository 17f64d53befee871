"""The generated module is the model shape inference describes.

For every template: ``build_module`` instantiates; the real output shape is
the inferred one; parameter counts (total and trainable) equal the
analysis's and graph/summary.py's; torchinfo agrees on the totals, on every
module's output shape and, where the conventions coincide (Conv2d, Linear),
on MACs. The templates that mirror torchvision have exactly torchvision's
state_dict keys and shapes (fixture made by fixtures/make_fixture.py), so a
torchvision checkpoint loads with strict=True.

ImageNet templates run at 3x64x64, CIFAR ones at 3x16x16, batch 1, once each. (Building on
the meta device and materialising uninitialised memory was tried: it is
slower here, the meta device's dispatch costs more than the initialisation,
and uninitialised weights make the forward pass slow.)

MAC convention (graph/layers.py): a multiply-add counts once; a convolution
costs out_elements * (in_channels / groups) * k * k (no bias term), a Linear
in_features * out_features, BatchNorm 2 per element, pooling the window size
per output, an Add (n - 1) per element; activations are free. torchinfo uses
the same figure for Conv2d and Linear without bias; with a bias it adds
out_elements (Conv2d) or out_features (Linear), which the test allows for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchinfo
from hypothesis import HealthCheck, assume, given, settings
from torch import nn

from codegen.build import build_module
from codegen.emitter import emit
from graph.shapes import analyze
from graph.summary import summarize
from graph.templates import all_templates, make

FIXTURE = Path(__file__).parent / "fixtures" / "torchvision_state_dicts.json"
SMALL_IMAGENET = "3,64,64"
SMALL_CIFAR = "3,16,16"


def _build(project, analysis):
    emitted = emit(project, analysis)
    return build_module(project, analysis, emitted).eval(), emitted


def _path(info) -> str:
    parts = []
    while info.parent_info is not None:
        parts.append(info.var_name)
        info = info.parent_info
    return ".".join(reversed(parts))


def _template_names() -> list[str]:
    return [t.name for t in all_templates()]


def _small(name: str, **kwargs):
    family = next(t.family for t in all_templates() if t.name == name)
    return make(name, input_shape=SMALL_IMAGENET if family == "imagenet" else SMALL_CIFAR, **kwargs)


@pytest.mark.parametrize("name", _template_names())
def test_template_matches_shape_inference_and_torchinfo(name):
    _check_against_torchinfo(name, _small(name))


def _frozen_resnet20():
    project = _small("resnet20")
    g = project.graph
    for nid in [g.node_by_name("conv1").id, g.node_by_name("bn1").id, *g.stages[0].nodes]:
        g.set_node_field(nid, "frozen", True)
    return project


@pytest.mark.parametrize(
    "name, variant",
    [
        ("resnet20", lambda: _small("resnet20", shortcut="B")),
        ("resnet20", lambda: _small("resnet20", shortcut="C")),
        ("preact_resnet110", lambda: _small("preact_resnet110", shortcut="B")),
        ("highway20", lambda: _small("highway20", shortcut="C")),
        ("resnet20", _frozen_resnet20),
    ],
    ids=["resnet20-B", "resnet20-C", "preact_resnet110-B", "highway20-C", "resnet20-frozen"],
)
def test_template_variants_match_shape_inference_and_torchinfo(name, variant):
    """The --shortcut options and frozen nodes (trainable counts) go through the same checks."""
    _check_against_torchinfo(name, variant())


def _check_against_torchinfo(name, project):
    analysis = analyze(project)
    assert analysis.valid, [d.message for d in analysis.errors]
    model, emitted = _build(project, analysis)
    in_shape = tuple(project.graph.nodes_of_type("Input")[0].params["shape"])

    # parameters: module == analysis == summary
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    summary = summarize(analysis)
    assert total == analysis.total_params == summary["total_params"]
    assert trainable == analysis.trainable_params == summary["trainable_params"]
    assert summary["total_params"] - summary["trainable_params"] == sum(
        p.numel() for p in model.parameters() if not p.requires_grad
    )

    # torchinfo: totals, output shape, every module's output shape, conv/linear MACs
    with torch.no_grad():
        info = torchinfo.summary(
            model,
            input_size=(1, *in_shape),
            verbose=0,
            depth=100,
            device="cpu",
            col_names=("output_size", "num_params"),
        )
    assert info.total_params == total and info.trainable_params == trainable
    assert tuple(info.summary_list[0].output_size[1:]) == analysis.output_shape
    seen = {_path(li): li for li in info.summary_list[1:]}
    checked = 0
    for row in analysis.layers():
        path = emitted.module_paths.get(row.path)
        if path is None:  # functional nodes (flatten, merges, slices) have no module
            continue
        li = seen.get(path)
        assert li is not None, f"{name}: no module {path} (layer {row.path})"
        assert tuple(li.output_size[1:]) == row.out_shape, (name, row.path, li.output_size, row.out_shape)
        if row.type in ("Conv2d", "Linear"):
            module = li.module
            bias = (
                0
                if module.bias is None
                else (row.out_shape[0] if row.type == "Linear" else int(torch.tensor(row.out_shape).prod()))
            )
            assert li.macs == row.macs + bias, (name, row.path, li.macs, row.macs)
        checked += 1
    assert checked >= len([r for r in analysis.layers() if r.type.startswith(("Conv2d", "block:"))])


@pytest.mark.parametrize("name", [t.name for t in all_templates() if t.family == "imagenet"])
def test_imagenet_template_at_its_own_input_size_on_meta(name):
    """The torchinfo test runs ImageNet templates at 64x64; here each runs at its own 224x224 on the
    meta device (no memory, no arithmetic): every module's output shape and the network's output
    equal shape inference at that size."""
    project = make(name)
    analysis = analyze(project)
    emitted = emit(project, analysis)
    with torch.device("meta"):
        model = build_module(project, analysis, emitted)
        modules = dict(model.named_modules())
        wanted = {
            emitted.module_paths[r.path]: r.out_shape
            for r in analysis.layers()
            if r.path in emitted.module_paths
        }
        got: dict[str, tuple] = {}

        def record(path: str):
            def hook(module, args, output) -> None:
                got.setdefault(path, tuple(output.shape[1:]))

            return hook

        hooks = [modules[path].register_forward_hook(record(path)) for path in wanted]
        out = model(torch.empty(1, *project.graph.nodes_of_type("Input")[0].params["shape"]))
    for h in hooks:
        h.remove()
    assert tuple(out.shape[1:]) == analysis.output_shape == (1000,)
    assert got == wanted


def _fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))["models"]


@pytest.mark.parametrize(
    "name", ["resnet18", "resnet50", "densenet121", "resnext50_32x4d", "wide_resnet50_2"]
)
def test_torchvision_state_dict_keys_and_shapes(name):
    want = _fixture()[name]
    project = make(name, input_shape=SMALL_IMAGENET)
    with torch.device("meta"):
        model = build_module(project)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(want) - set(got))[:10]
    extra = sorted(set(got) - set(want))[:10]
    assert not missing and not extra, f"{name}: missing {missing}, unexpected {extra}"
    bad = [(k, got[k], want[k]) for k in want if got[k] != want[k]][:10]
    assert not bad, bad
    assert list(got) == list(want), "same keys, different order"


def test_torchvision_checkpoint_loads_strictly():
    """A state_dict with torchvision's keys and shapes loads with strict=True and is used."""
    want = _fixture()["resnet18"]
    torch.manual_seed(0)
    state = {k: (torch.randn(s) if s else torch.tensor(7)) for k, s in want.items()}
    for k, value in state.items():
        if k.endswith("running_var"):
            state[k] = value.abs() + 0.5
    model = build_module(make("resnet18", input_shape=SMALL_IMAGENET))
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.layer2[0].downsample[0].weight, state["layer2.0.downsample.0.weight"])
    assert isinstance(model.layer2[0].downsample, nn.Sequential)


# ------------------------------------------------------------------ random graphs
def _random_graphs():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graph"))
    from test_property import graphs  # the shape-inference property test's random projects

    return graphs()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(_random_graphs())
def test_random_graphs_generated_module_matches_inference(project):
    """For random valid graphs (blocks, groups, dilation, pools, every shortcut projection), the
    generated module's every module output and its parameter count equal shape inference."""
    analysis = analyze(project)
    assume(analysis.valid)
    emitted = emit(project, analysis)
    model = build_module(project, analysis, emitted).eval()
    assert sum(p.numel() for p in model.parameters()) == analysis.total_params
    wanted = {
        emitted.module_paths[r.path]: r.out_shape for r in analysis.layers() if r.path in emitted.module_paths
    }
    got: dict[str, tuple] = {}
    modules = dict(model.named_modules())

    def record(path: str):
        def hook(module, args, output) -> None:  # returns None: a hook's return value replaces the output
            got.setdefault(path, tuple(output.shape[1:]))

        return hook

    hooks = [modules[path].register_forward_hook(record(path)) for path in wanted]
    in_shape = tuple(project.graph.nodes_of_type("Input")[0].params["shape"])
    with torch.no_grad():
        out = model(torch.randn(2, *in_shape))
    for h in hooks:
        h.remove()
    assert tuple(out.shape[1:]) == analysis.output_shape
    assert got == {p: s for p, s in wanted.items() if p in got}
    assert len(got) == len(wanted)


@pytest.mark.parametrize("projection", ["identity", "conv_bn", "conv_bn_always"])
def test_shortcut_into_concat(projection):
    """A shortcut into a Concat: an identity one adds its own channels (torch.cat), a projected one
    the main input's (what shape inference says), in a block whose instances differ in width."""
    from graph.model import BlockDef, BlockParam, Graph, Project

    p = Project("cat-shortcut", Graph())
    b = BlockDef("CatBlock", {"width": BlockParam("int", 8), "stride": BlockParam("int", 1)})
    g = b.graph
    i = g.add("BlockInput", "input")
    conv = g.add("Conv2d", "conv", out_channels="width", kernel_size=3, padding=1, stride="stride")
    cat = g.add("Concat", "cat")
    o = g.add("BlockOutput", "output")
    g.chain(i, conv, cat, o)
    g.connect(i, cat, 1, kind="shortcut", projection=projection, name="skip")
    p.add_block(b)
    G = p.graph
    x = G.add("Input", "input", shape=[4, 8, 8])
    b1 = G.add("block:CatBlock", "b1", width=6)
    b2 = G.add("block:CatBlock", "b2", width=8, stride=1 if projection == "identity" else 2)
    pool = G.add("AdaptiveAvgPool2d", "pool", output_size=1)
    flat = G.add("Flatten", "flatten")
    fc = G.add("Linear", "fc", out_features=3)
    out = G.add("Output", "output")
    G.chain(x, b1, b2, pool, flat, fc, out)
    analysis = analyze(p)
    assert analysis.valid, [d.message for d in analysis.errors]
    emitted = emit(p, analysis)
    model = build_module(p, analysis, emitted).eval()
    assert sum(t.numel() for t in model.parameters()) == analysis.total_params
    wanted = {
        emitted.module_paths[r.path]: r.out_shape for r in analysis.layers() if r.path in emitted.module_paths
    }
    info = torchinfo.summary(model, input_size=(1, 4, 8, 8), verbose=0, depth=100, device="cpu")
    got = {_path(li): tuple(li.output_size[1:]) for li in info.summary_list[1:]}
    assert {k: got[k] for k in wanted} == wanted
