"""The code emitter: names, layout, determinism, ruff, golden files, init, frozen, in-place safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from codegen.build import build_module, load_source
from codegen.emitter import emit
from codegen.namespace import MODULE_ATTRIBUTES, Namespace, attribute_namespace, camel_case, snake_case
from codegen.symbolic import render, simplify
from graph.errors import UserError
from graph.expr import parse
from graph.model import BlockDef, BlockParam, Graph, Project, Stage
from graph.projectfile import dumps_project, loads_project, project_from_dict
from graph.shapes import analyze
from graph.templates import all_templates, make

sys.path.insert(0, str(Path(__file__).parent))
from handmade import resnet20

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
RUFF = Path(sys.executable).parent / "ruff"
REGEN = os.environ.get("SKIPWIRE_REGEN_GOLDEN") == "1"


def _n_params(m: nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad or not trainable)


# ------------------------------------------------------------------ names
@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("conv1", "conv1"),
        ("Conv 1", "conv_1"),
        ("bn-2", "bn_2"),
        ("layer1.0", "layer1_0"),
        ("convBlock", "conv_block"),
        ("ｃｏｎｖ", "conv"),
        ("3x3", "_3x3"),
        ("ÄÖü", "aou"),
        ("a" * 100, "a" * 40),
    ],
)
def test_snake_case(text, want):
    assert snake_case(text) == want


def test_camel_case():
    assert camel_case("ResNet-20") == "ResNet20"
    assert camel_case("basic block") == "BasicBlock"
    assert camel_case("20 layers") == "Net20Layers"
    assert camel_case("!!!") == ""


def test_namespace_avoids_reserved_and_duplicates():
    ns = Namespace()
    got = [
        ns.create(t)
        for t in (
            "class",
            "torch",
            "nn",
            "F",
            "self",
            "x",
            "print",
            "conv",
            "conv",
            "Conv",
            "",
            "__import__",
            "_",
            "conv_1",
        )
    ]
    assert got == [
        "class_1",
        "torch_1",
        "nn_1",
        "f",
        "self_1",
        "x",
        "print_1",
        "conv",
        "conv_1",
        "conv_2",
        "node",
        "import_1",
        "_1",
        "conv_1_1",
    ]
    assert all(g.isidentifier() and g.isascii() for g in got)


def test_namespace_is_deterministic_and_keyed():
    a, b = attribute_namespace(), attribute_namespace()
    names = ["train", "forward", "fc", "fc", "input", "eval"]
    assert [a.create(n, key=i) for i, n in enumerate(names)] == [b.create(n) for n in names]
    assert a.get(0) == "train_1" and a.get(4) == "input"  # builtins are fine as attributes


def test_attribute_names_keep_identifiers_as_they_are():
    """A node's name is its attribute's: torchvision's Inception3 has ``self.Conv2d_1a_3x3`` (its state_dict
    keys); text that is no identifier still becomes snake_case, and nn.Module's names are still avoided."""
    a = attribute_namespace()
    names = ["Conv2d_1a_3x3", "Mixed_5b", "Conv 1", "convBlock", "train", "F", "Mixed_5b", "a" * 41]
    assert [a.create(n) for n in names] == [
        "Conv2d_1a_3x3",
        "Mixed_5b",
        "conv_1",
        "convBlock",
        "train_1",
        "F_1",
        "Mixed_5b_1",
        "a" * 40,
    ]
    assert Namespace().create("Mixed_5b") == "mixed_5b"  # locals and parameters stay snake_case


def test_height_by_width_conv_emits_tuples_and_a_square_one_a_number():
    g = Graph()
    i = g.add("Input", "input", shape=[8, 17, 17])
    a = g.add("Conv2d", "branch7x7_2", out_channels=8, kernel_size=[1, 7], padding=[0, 3])
    b = g.add("Conv2d", "branch7x7_3", out_channels=8, kernel_size=[7, 1], padding=[3, 0], stride=[2, 1])
    c = g.add("Conv2d", "conv", out_channels=8, kernel_size=[3, 3], padding=[1, 1])
    o = g.add("Output", "output")
    g.chain(i, a, b, c, o)
    project = Project("t", g)
    source = emit(project).source
    assert "nn.Conv2d(in_channels, 8, kernel_size=(1, 7), padding=(0, 3), bias=False)" in source
    assert "nn.Conv2d(8, 8, kernel_size=(7, 1), stride=(2, 1), padding=(3, 0), bias=False)" in source
    assert "nn.Conv2d(8, 8, kernel_size=3, padding=1, bias=False)" in source
    model = build_module(project).eval()
    assert tuple(model.branch7x7_2.weight.shape) == (8, 8, 1, 7)
    with torch.no_grad():
        y = model(torch.randn(2, 8, 17, 17))
    assert tuple(y.shape[1:]) == analyze(project).shape_of(o.id) == (8, 9, 17)
    # the file keeps [1, 7]; loading it back gives the same code
    saved = json.loads(dumps_project(project))
    (node,) = [n for n in saved["graph"]["nodes"] if n["name"] == "branch7x7_2"]
    assert node["params"]["kernel_size"] == [1, 7]
    assert emit(loads_project(dumps_project(project))).source == source


def test_module_attributes_cover_nn_module():
    public = {n for n in dir(nn.Module) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES, sorted(public - MODULE_ATTRIBUTES)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a + b + b + b - 2", "a + 3 * b - 2"),
        ("planes * 4", "planes * 4"),
        ("planes * base_width // 64 * groups", "planes * base_width // 64 * groups"),
        ("a - (b - c)", "a - b + c"),
        ("a // (b * c)", "a // (b * c)"),
        ("a * (b // c)", "a * (b // c)"),
        ("-(a + b)", "-(a + b)"),
        ("x * 1 + 0", "x"),
        ("x * 2 // 2", "x"),  # a GroupSum's channels after a conv that made them
        ("2 * (a + b) // 2", "a + b"),
        ("x * 2 // 4", "x * 2 // 4"),
    ],
)
def test_symbolic_render(text, want):
    got = render(simplify(parse(text).ast), str)
    assert got == want
    env = {"a": 7, "b": 3, "c": 2, "planes": 5, "base_width": 64, "groups": 2, "x": 9}
    assert eval(got, {}, env) == eval(text, {}, env)  # a test of our own arithmetic


# ------------------------------------------------------------------ layout and determinism
def test_emit_returns_names_and_is_deterministic():
    p = make("resnet20")
    e1, e2 = emit(p), emit(p)
    assert e1 == e2
    again = emit(project_from_dict(json.loads(json.dumps(p.to_dict()))))
    assert again.source == e1.source
    assert e1.class_name == "ResNet20"
    assert e1.block_classes == {"BasicBlock": "BasicBlock"}
    assert e1.helpers == ("ZeroPadShortcut",)
    assert "ZeroPadShortcut" not in emit(make("resnet50")).source


def test_generated_module_needs_only_torch():
    src = emit(make("densenet_bc100_k12")).source
    imports = [line for line in src.splitlines() if line.startswith(("import ", "from "))]
    assert tuple(imports) == emit(make("densenet_bc100_k12")).imports
    assert all(line.startswith(("import torch", "from torch", "from collections")) for line in imports), (
        imports
    )


def test_ruff_check_and_format_are_clean(tmp_path):
    """Every template's code passes ruff (the project's settings) unchanged."""
    for t in all_templates():
        (tmp_path / f"{t.name}.py").write_text(emit(make(t.name)).source, encoding="utf-8")
    (tmp_path / "handmade_resnet20.py").write_text(emit(resnet20()).source, encoding="utf-8")
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    check = subprocess.run(
        [str(RUFF), "check", *config, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout[-4000:]
    fmt = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", *config, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout[-4000:] + fmt.stderr[-2000:]


@pytest.mark.parametrize("name", ["resnet20", "resnet50"])
def test_golden(name):
    source = emit(make(name)).source
    path = GOLDEN / f"{name}.py"
    if REGEN:
        path.parent.mkdir(exist_ok=True)
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with SKIPWIRE_REGEN_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8"), (
        f"{path.name} differs from the emitted code; if the change is intended, regenerate with "
        "SKIPWIRE_REGEN_GOLDEN=1 and read the diff"
    )


# ------------------------------------------------------------------ structure
def test_topological_order_is_checked():
    p = resnet20()
    a = analyze(p)
    a.root.order.reverse()
    with pytest.raises(AssertionError, match="topological"):
        emit(p, a)


def test_nodes_added_out_of_order_still_emit_in_data_order():
    p = Project("reversed")
    g = p.graph
    out = g.add("Output", "output")
    fc = g.add("Linear", "fc", out_features=3)
    flat = g.add("Flatten", "flatten")
    x = g.add("Input", "input", shape=[2, 4, 4])
    g.chain(x, flat, fc, out)
    e = emit(p)
    fwd = e.source.split("def forward")[1]
    assert fwd.index("torch.flatten") < fwd.index("self.fc")
    assert build_module(p)(torch.randn(2, 2, 4, 4)).shape == (2, 3)


def test_invalid_project_is_refused_with_its_errors():
    p = resnet20(projection="identity")
    with pytest.raises(UserError) as info:
        emit(p)
    assert info.value.exit_code == 1
    assert "error" in info.value.message and "shortcut" in info.value.message


def test_bad_stage_is_refused():
    p = resnet20()
    g = p.graph
    ids = list(g.nodes)
    g.set_stages([Stage("layer", "index", [ids[1], ids[3]])])  # conv1 and relu: not consecutive
    with pytest.raises(UserError, match="stage"):
        emit(p)


def test_stage_keys_index_and_name():
    p = make("resnet18", input_shape="3,64,64")
    assert "layer1.0.conv1.weight" in build_module(p).state_dict()
    d = make("densenet121", input_shape="3,64,64")
    sd = build_module(d).state_dict()
    assert "features.denseblock1.denselayer1.norm1.weight" in sd
    assert "OrderedDict" in emit(d).source


def test_option_c_builds_the_projection_inside_the_block():
    p = make("resnet20", shortcut="C")
    src = emit(p).source
    assert "downsample: nn.Module | None" not in src and "shortcut: nn.Module | None" not in src
    a = analyze(p)
    assert _n_params(build_module(p)) == a.total_params


def test_option_b_only_where_needed():
    p = make("resnet20", shortcut="B")
    m = build_module(p)
    a = analyze(p)
    assert _n_params(m) == a.total_params == 269722 + 2752
    down = [k for k in m.state_dict() if "downsample" in k or "shortcut" in k]
    assert down and all(k.split(".")[1] == "0" for k in down)  # only the first block of a stage


def test_nested_blocks_with_expressions():
    p = Project("nested")
    inner = BlockDef("Inner", {"width": BlockParam("int", 8)})
    g = inner.graph
    i = g.add("BlockInput", "input")
    c = g.add("Conv2d", "conv", out_channels="(width + in_channels) // 2 * 2", kernel_size=1, padding=0)
    o = g.add("BlockOutput", "output")
    g.chain(i, c, o)
    p.add_block(inner)
    outer = BlockDef("Outer", {"width": BlockParam("int", 8), "grow": BlockParam("int", 2)})
    g = outer.graph
    i = g.add("BlockInput", "input")
    a = g.add("block:Inner", "first", width="width * grow")
    b = g.add("block:Inner", "second", width="width - 2")
    cat = g.add("Concat", "cat")
    o = g.add("BlockOutput", "output")
    g.chain(i, a, b)
    g.connect(b, cat, 0)
    g.connect(i, cat, 1)
    g.connect(cat, o)
    p.add_block(outer)
    G = p.graph
    x = G.add("Input", "input", shape=[3, 8, 8])
    prev = x
    for k, w in enumerate([4, 6, 10]):
        n = G.add("block:Outer", f"outer{k}", width=w, grow=k + 1)
        G.connect(prev, n)
        prev = n
    G.chain(prev, G.add("Output", "output"))
    an = analyze(p)
    assert an.valid, [d.message for d in an.diagnostics]
    e = emit(p, an)
    assert "Inner(in_channels, width * grow)" in e.source
    m = build_module(p)
    assert _n_params(m) == an.total_params
    assert tuple(m(torch.randn(2, 3, 8, 8)).shape[1:]) == an.output_shape


# ------------------------------------------------------------------ init and frozen
def test_init_rules():
    p = make("resnet20")
    g = p.graph
    fc = g.node_by_name("fc")
    g.set_param(fc.id, "init", "zeros")
    conv1 = g.node_by_name("conv1")
    g.set_param(conv1.id, "bias", True)
    g.set_param(conv1.id, "bias_init", -2.0)
    bn2 = p.blocks["BasicBlock"].graph.node_by_name("bn2")
    p.blocks["BasicBlock"].graph.set_param(bn2.id, "zero_init", True)
    src = emit(p).source
    assert 'nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")' in src
    torch.manual_seed(0)
    m = build_module(p)
    assert torch.all(m.fc.weight == 0) and torch.all(m.fc.bias == 0)
    assert torch.all(m.conv1.bias == -2.0)
    assert torch.all(m.layer1[0].bn2.weight == 0) and torch.all(m.layer1[0].bn1.weight == 1)
    std = m.layer2[0].conv1.weight.std().item()
    fan_out = 32 * 9
    assert abs(std - (2 / fan_out) ** 0.5) < 0.2 * (2 / fan_out) ** 0.5


def test_torch_default_conv_in_a_kaiming_network_is_reset():
    p = make("resnet20")
    g = p.graph
    g.set_param(g.node_by_name("conv1").id, "init", "torch_default")
    assert "self.conv1.reset_parameters()" in emit(p).source
    build_module(p)


def test_frozen_nodes_do_not_train():
    p = make("resnet20")
    g = p.graph
    g.set_node_field(g.node_by_name("conv1").id, "frozen", True)
    first = p.graph.nodes[p.graph.stages[0].nodes[0]]
    g.set_node_field(first.id, "frozen", True)
    inner = p.blocks["BasicBlock"].graph
    inner.set_node_field(inner.node_by_name("conv2").id, "frozen", True)
    e = emit(p)
    assert e.frozen[:2] == ("conv1", "layer1.0")
    assert "layer1.1.conv2" in e.frozen and "layer1.0.conv2" not in e.frozen and len(e.frozen) == 2 + 8
    m = build_module(p, emitted=e)
    a = analyze(p)
    assert _n_params(m, trainable=True) == a.trainable_params < a.total_params
    assert not m.conv1.weight.requires_grad and m.bn1.weight.requires_grad


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script is deprecated in torch 2.13
def test_frozen_code_reads_well():
    """Only modules with parameters are frozen in the code, and a stage frozen whole is one line."""
    p = make("resnet20")
    g = p.graph
    for name in ("conv1", "bn1", "relu"):
        g.set_node_field(g.node_by_name(name).id, "frozen", True)
    for nid in g.stages[0].nodes + g.stages[1].nodes[:1]:
        g.set_node_field(nid, "frozen", True)
    e = emit(p)
    lines = [s.strip() for s in e.source.splitlines() if "requires_grad_" in s]
    assert lines == [
        "self.conv1.requires_grad_(False)",
        "self.bn1.requires_grad_(False)",
        "self.layer1.requires_grad_(False)",
        "self.layer2[0].requires_grad_(False)",
    ]
    assert "        self.bn1.eval()\n        self.layer1.eval()\n        self.layer2[0].eval()\n" in e.source
    m = build_module(p, emitted=e)
    assert _n_params(m, trainable=True) == analyze(p).trainable_params
    assert not any(q.requires_grad for q in m.layer1.parameters()) and m.layer2[1].conv1.weight.requires_grad
    # a frozen conv alone needs no eval(); a block frozen inside its definition gets it in the block class
    p = make("resnet20")
    p.graph.set_node_field(p.graph.node_by_name("conv1").id, "frozen", True)
    inner = p.blocks["BasicBlock"].graph
    inner.set_node_field(inner.node_by_name("bn2").id, "frozen", True)
    e = emit(p)
    assert e.source.count("def train(") == 1 and "        self.bn2.eval()" in e.source
    m = build_module(p, emitted=e).train()
    assert not m.layer3[2].bn2.training and m.layer3[2].bn1.training and m.bn1.training
    scripted = torch.jit.script(m.eval())
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(scripted(x), m(x))


# ------------------------------------------------------------------ semantics
def test_inplace_relu_never_overwrites_a_value_needed_later():
    p = Project("preact-ish")
    g = p.graph
    x = g.add("Input", "input", shape=[4, 6, 6])
    conv = g.add("Conv2d", "conv", out_channels=4)
    relu = g.add("ReLU", "relu")  # inplace by default; its input feeds the Add too
    conv2 = g.add("Conv2d", "conv2", out_channels=4)
    add = g.add("Add", "add")
    out = g.add("Output", "output")
    g.chain(x, conv, relu, conv2, add, out)
    g.connect(conv, add, 1, kind="shortcut")
    src = emit(p).source
    assert "self.relu = nn.ReLU()" in src
    torch.manual_seed(0)
    m = build_module(p).eval()
    t = torch.randn(2, 4, 6, 6)
    c = m.conv(t)
    want = m.conv2(torch.relu(c)) + c
    assert torch.allclose(m(t), want)


def test_helpers_layer_norm_2d_and_learnable_add():
    p = Project("helpers")
    g = p.graph
    x = g.add("Input", "input", shape=[4, 5, 5])
    ln = g.add("LayerNorm2d", "norm")
    conv = g.add("Conv2d", "conv", out_channels=4, padding=1)
    add = g.add("Add", "add", weights="learnable", weight_values=[0.5, 2.0])
    fixed = g.add("Add", "mix", weights="fixed", weight_values=[1.0, 0.25])
    out = g.add("Output", "output")
    g.chain(x, ln, conv, add, fixed, out)
    g.connect(ln, add, 1, kind="shortcut")
    g.connect(x, fixed, 1, kind="shortcut")
    e = emit(p)
    assert e.helpers == ("LayerNorm2d", "WeightedAdd")
    assert "out = 1.0 * out + 0.25 * x" in e.source
    m = build_module(p).eval()
    assert m.add.weight.tolist() == [0.5, 2.0]
    t = torch.randn(2, 4, 5, 5)
    n = nn.functional.layer_norm(t.permute(0, 2, 3, 1), (4,), m.norm.weight, m.norm.bias, 1e-6).permute(
        0, 3, 1, 2
    )
    want = 1.0 * (0.5 * m.conv(n) + 2.0 * n) + 0.25 * t
    assert torch.allclose(m(t), want, atol=1e-6)
    assert _n_params(m) == analyze(p).total_params


def test_source_is_checked_before_use(monkeypatch):
    from codegen import writer

    real = writer.add_imports

    def evil(source):
        return real(source) + "import os\n"

    monkeypatch.setattr(writer, "add_imports", evil)
    with pytest.raises(UserError, match="never writes"):
        emit(resnet20())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", ["resnet20", "weighted_resnet20", "dpn26", "highway20"])
def test_generated_code_is_scriptable(name):
    """TorchScript reads the source through linecache (build.load_source registers it)."""
    m = build_module(make(name, input_shape="3,16,16")).eval()
    scripted = torch.jit.script(m)
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(scripted(x), m(x), atol=1e-5)


def test_network_level_projection_and_unused_node():
    p = Project("flat")
    g = p.graph
    x = g.add("Input", "input", shape=[3, 8, 8])
    conv = g.add("Conv2d", "conv", out_channels=8, stride=2)
    bn = g.add("BatchNorm2d", "bn")
    add = g.add("Add", "add")
    relu = g.add("ReLU", "relu")
    out = g.add("Output", "output")
    g.chain(x, conv, bn, add, relu, out)
    g.connect(x, add, 1, kind="shortcut", projection="conv_bn", name="proj")
    spare = g.add("Conv2d", "spare", out_channels=2)  # leads nowhere: built, never called
    g.connect(x, spare)
    a = analyze(p)
    e = emit(p, a)
    assert "out += self.proj(x)" in e.source or "self.proj(x)" in e.source
    assert "self.spare(" not in e.source.split("def forward")[1]
    m = build_module(p, a, e)
    assert _n_params(m) == a.total_params
    assert tuple(m(torch.randn(2, 3, 8, 8)).shape[1:]) == a.output_shape == (8, 4, 4)
    assert e.module_paths["proj"] == "proj"


def test_output_does_not_depend_on_hash_seed():
    code = (
        "import sys; sys.path.insert(0, {root!r}); from codegen.emitter import emit; "
        "from graph.templates import make; print(emit(make('dpn26')).source + "
        "emit(make('densenet121')).source)"
    )
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run(
            [sys.executable, "-c", code.format(root=str(ROOT))],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outs.add(r.stdout)
    assert len(outs) == 1


def test_vector_network():
    p = Project("mlp")
    g = p.graph
    g.chain(
        g.add("Input", "input", shape=[20]),
        g.add("Linear", "fc1", out_features=16),
        g.add("LayerNorm", "ln"),
        g.add("GELU", "act"),
        g.add("Linear", "fc2", out_features=3, init="normal_0.01"),
        g.add("Output", "output"),
    )
    e = emit(p)
    assert (
        "self.ln = nn.LayerNorm(16)" in e.source and "nn.init.normal_(self.fc2.weight, 0, 0.01)" in e.source
    )
    m = build_module(p, emitted=e)
    assert m(torch.randn(4, 20)).shape == (4, 3)
    assert _n_params(m) == analyze(p).total_params


def test_inplace_never_writes_through_a_view_or_an_alias():
    p = Project("views")
    g = p.graph
    x = g.add("Input", "input", shape=[8, 4, 4])
    conv = g.add("Conv2d", "conv", out_channels=8)
    part = g.add("ChannelSlice", "part", start=0, stop=4)  # a view of conv's output
    relu = g.add("ReLU", "relu")  # in-place would overwrite conv's output, still needed by the concat
    cat = g.add("Concat", "cat")
    out = g.add("Output", "output")
    g.chain(x, conv, part, relu)
    g.connect(relu, cat, 0)
    g.connect(conv, cat, 1)
    g.connect(cat, out)
    src = emit(p).source
    assert "self.relu = nn.ReLU()" in src
    m = build_module(p).eval()
    t = torch.randn(2, 8, 4, 4)
    c = m.conv(t)
    assert torch.equal(m(t), torch.cat([torch.relu(c[:, :4]), c], 1))


def test_load_source_refuses_edited_code_and_keeps_registry_bounded(monkeypatch):
    from codegen import build

    source = emit(resnet20()).source
    with pytest.raises(UserError, match="never writes"):
        build.load_source(source + "\nimport os\n", "ResNet20ByHand")
    monkeypatch.setattr(build, "MAX_REGISTERED", 3)
    classes = [build.load_source(source, "ResNet20ByHand") for _ in range(5)]
    names = [c.__module__ for c in classes]
    assert sum(n in sys.modules for n in names) == 3 and names[-1] in sys.modules
    assert classes[0]()(torch.randn(1, 3, 32, 32)).shape == (1, 10)  # an evicted module's class still works


# ------------------------------------------------------------------ torchvision's shape of code
def test_network_takes_num_classes_and_in_channels_like_torchvision():
    emitted = emit(make("resnet110"))
    cls = load_source(emitted.source, emitted.class_name)
    assert "def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:" in emitted.source
    default, hundred, gray = cls(), cls(num_classes=100), cls(in_channels=1)
    assert hundred.fc.out_features == 100 and hundred(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    assert gray.conv1.in_channels == 1 and gray(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert list(default.state_dict()) == list(hundred.state_dict()) == list(gray.state_dict())


def test_network_without_a_linear_head_or_conv_stem_takes_no_arguments():
    g = Graph()
    g.chain(g.add("Input", "input", shape=[3, 8, 8]), g.add("BatchNorm2d", "bn"), g.add("Output", "output"))
    source = emit(Project("NoHead", g)).source
    assert "def __init__(self) -> None:" in source


def test_a_stage_of_identical_blocks_is_written_once_with_a_count():
    source = emit(make("resnet110")).source
    assert "self.layer1 = nn.Sequential(*[BasicBlock(16, 16) for _ in range(18)])" in source
    assert "*[BasicBlock(32, 32) for _ in range(17)]," in source
    assert source.count("BasicBlock(") == 1 + 3 + 2  # the call sites: 1 + 2 + 2, and the class
    assert len(source.splitlines()) < 90
    # the same modules in the same order: equal initial weights for equal seeds, state_dict keys as before
    cls = load_source(source, "ResNet110")
    keys = list(cls().state_dict())
    assert keys[6].startswith("layer1.0.") and "layer2.17.conv1.weight" in keys


def test_long_repeated_members_are_split_as_ruff_splits_a_comprehension():
    from codegen import pyformat as pf

    member = pf.Call("Bottleneck", tuple(str(1000 + i) for i in range(20)))
    lines = pf.layout(pf.Call("nn.Sequential", ("first", pf.Repeat(member, 7))), 2, "self.layer = ")
    assert lines[2] == "            *["
    assert lines[-3] == "                for _ in range(7)" and lines[-2] == "            ],"
    assert all(len(ln) <= pf.LINE_LENGTH for ln in lines)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_dense_blocks_are_one_class_with_num_layers_and_a_loop():
    emitted = emit(make("densenet121"))
    source = emitted.source
    assert "class DenseBlock(nn.ModuleDict):" in source
    assert not any(f"DenseBlock{n}" in source for n in (6, 12, 16, 24))
    for n in (6, 12, 24, 16):
        assert f", num_layers={n})" in source
    assert set(emitted.block_classes.values()) == {"DenseLayer", "DenseBlock", "Transition"}
    assert len(source.splitlines()) < 150
    model = load_source(source, emitted.class_name)()
    keys = list(model.state_dict())
    assert "features.denseblock3.denselayer24.conv2.weight" in keys
    assert model.features.denseblock1.denselayer6.norm1.num_features == 64 + 5 * 32
    torch.jit.script(model)  # scriptable, as torchvision's _DenseBlock


def test_a_chain_that_is_not_regular_stays_spelled_out():
    """Layers with different parameters, or names that are not numbered, are no dense loop."""
    from codegen.dense import find_chain

    project = make("densenet_bc100_k12")
    (name,) = [b for b in project.blocks if b.startswith("DenseBlock")]
    bdef = project.blocks[name]
    assert find_chain(bdef) is not None
    layer = next(n for n in bdef.graph.nodes.values() if n.name == "denselayer3")
    layer.name = "extra"
    assert find_chain(bdef) is None
    layer.name = "denselayer3"
    layer.params["bn_size"] = 2
    assert find_chain(bdef) is None
    source = emit(project).source
    assert "class DenseBlock16(nn.Module):" in source and "self.denselayer16 = DenseLayer(" in source


def test_code_is_written_from_frozen_plans():
    """Phases: the planner returns a frozen plan of the whole module before any text; the writer cannot
    change a plan (FrozenInstanceError, TypeError on its mappings), and writing again gives the same
    text."""
    import dataclasses

    from codegen.planner import plan_module
    from codegen.writer import write_class, write_module

    project = make("resnet50")
    plan = plan_module(project, analyze(project))
    first = emit(project).source
    assert write_module(plan) == first
    bottleneck = plan.blocks["Bottleneck"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        bottleneck.paths = {}
    with pytest.raises(TypeError):
        bottleneck.paths["x"] = "y"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.network_name = "X"
    text = write_class(bottleneck, plan.class_names["Bottleneck"])
    assert "\n".join(text) in first


def test_plans_are_fully_typed_and_frozen():
    """Every dataclass of the plan is frozen and declares the type of every field."""
    import dataclasses

    from codegen import plan as plan_mod

    classes = [
        plan_mod.ClassPlan,
        plan_mod.DenseChain,
        plan_mod.DenseGroup,
        plan_mod.Merge,
        plan_mod.BlockClass,
        plan_mod.VariantBaseClass,
        plan_mod.DenseClass,
        plan_mod.ModulePlan,
        plan_mod.Unit,
    ]
    for cls in classes:
        assert cls.__dataclass_params__.frozen, cls
        for f in dataclasses.fields(cls):
            assert f.type != "Any" and not str(f.type).startswith(("dict", "list", "set")), (cls, f.name)


def test_dpn_entry_and_body_blocks_are_one_class_with_an_optional_shortcut():
    emitted = emit(make("dpn26"))
    source = emitted.source
    assert "DualPathEntry" not in source and source.count("class DualPathBlock(nn.Module):") == 1
    assert "shortcut: nn.Module | None = None," in source
    assert "        if self.shortcut is not None:\n            x = self.shortcut(x)\n" in source
    assert emitted.block_classes == {"DualPathEntry": "DualPathBlock", "DualPathBlock": "DualPathBlock"}
    model = load_source(source, emitted.class_name)()
    keys = list(model.state_dict())
    assert "layer2.0.shortcut.0.weight" in keys and not any(k.startswith("layer2.1.shortcut") for k in keys)
    # the shortcut sits where the entry block built it: state_dict order as before
    first = [k for k in keys if k.startswith("layer1.0.")]
    assert first.index("layer1.0.shortcut.0.weight") == first.index("layer1.0.bn3.num_batches_tracked") + 1


def test_a_variant_whose_extra_chain_needs_its_own_init_stays_its_own_class():
    from codegen.variants import find_pairs

    project = make("dpn26")
    entry = project.blocks["DualPathEntry"]
    assert find_pairs(project, ["DualPathEntry", "DualPathBlock"]) != {}
    conv = next(n for n in entry.graph.nodes.values() if n.name == "shortcut_conv")
    conv.params["bias"] = True  # a bias the network's init loop would not set
    assert find_pairs(project, ["DualPathEntry", "DualPathBlock"]) == {}
    source = emit(project).source
    assert "class DualPathEntry(nn.Module):" in source and "shortcut: nn.Module | None" not in source


def test_the_project_name_names_the_network_class():
    project = make("resnet110")
    assert emit(project).class_name == "ResNet110"
    project.name = "my cifar net"
    emitted = emit(project)
    assert emitted.class_name == "MyCifarNet" and "class MyCifarNet(nn.Module):" in emitted.source
    model = load_source(emitted.source, emitted.class_name)(num_classes=100)
    assert model.fc.out_features == 100
