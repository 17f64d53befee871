"""torch.fx import: torchvision's ResNets and DenseNet, templates round trip, functional ops,
shortcuts, blocks and stages, diagnostics, the command line."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codegen.build import build_module
from codegen.emitter import emit
from codegen.fx_import import import_module, import_target
from codegen.weights import transfer_state
from graph.errors import UserError
from graph.shapes import analyze

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def tv():
    sys.path.insert(0, str(FIXTURES))
    try:
        import tv_densenet
        import tv_resnet

        yield {
            "resnet18": tv_resnet.resnet18,
            "resnet50": tv_resnet.resnet50,
            "densenet121": tv_densenet.densenet121,
            "densenet_tiny": tv_densenet.densenet_tiny,
        }
    finally:
        sys.path.remove(str(FIXTURES))


def _out(model, shape, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        return model.eval()(x)


def _roundtrip(model, shape):
    """Import, rebuild from the emitted code, copy the weights by name/shape: returns (result, rebuilt)."""
    result = import_module(model, shape)
    rebuilt = build_module(result.project)
    return result, rebuilt


# ------------------------------------------------------------------ torchvision
TV_COUNTS = {"resnet18": 11_689_512, "resnet50": 25_557_032, "densenet121": 7_978_856}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121"])
def test_torchvision_models_import_and_reexport_exactly(tv, name):
    model = tv[name]().eval()
    shape = (3, 32, 32)
    result, rebuilt = _roundtrip(model, shape)
    analysis = analyze(result.project)
    assert analysis.valid
    assert analysis.total_params == TV_COUNTS[name]
    assert result.warnings == []
    # torchvision's state_dict names survive: strict load, same outputs
    assert set(rebuilt.state_dict()) == set(model.state_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(_out(rebuilt, shape), _out(model, shape), rtol=1e-5, atol=1e-5)
    blocks = result.project.blocks
    if name.startswith("resnet"):
        (bname,) = blocks
        bdef = blocks[bname]
        assert bname == ("BasicBlock" if name == "resnet18" else "Bottleneck")
        assert set(bdef.params) == {"out_channels", "stride"}
        stages = {s.name: (s.keys, len(s.nodes)) for s in result.project.graph.stages}
        n = (2, 2, 2, 2) if name == "resnet18" else (3, 4, 6, 3)
        assert stages == {f"layer{i + 1}": ("index", k) for i, k in enumerate(n)}
        (sc,) = [e for e in bdef.graph.edges.values() if e.kind == "shortcut"]
        assert (sc.name, sc.projection) == ("downsample", "conv_bn")
        assert bdef.graph.nodes[sc.src].type == "BlockInput"
        if name == "resnet50":
            assert bdef.graph.node_by_name("conv3").params["out_channels"] == "out_channels * 4"
            assert bdef.graph.node_by_name("conv2").params["stride"] == "stride"
    else:
        assert "Transition" in "".join(blocks) or "_Transition" in blocks
        trans = next(b for n, b in blocks.items() if "Transition" in n)
        assert trans.graph.node_by_name("conv").params["out_channels"] == "in_channels // 2"
        (features,) = result.project.graph.stages
        assert (features.name, features.keys) == ("features", "name")
        layers = [b for n, b in blocks.items() if "DenseLayer" in n]
        assert len(layers) == 1  # all 58 dense layers share one definition


def test_densenet_growing_cat_becomes_chained_two_input_concats(tv):
    model = tv["densenet_tiny"]().eval()
    result, rebuilt = _roundtrip(model, (3, 32, 32))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(_out(rebuilt, (3, 32, 32)), _out(model, (3, 32, 32)))
    concats = [
        n for b in result.project.blocks.values() for n in b.graph.nodes.values() if n.type == "Concat"
    ]
    assert concats and all(n.params["num_inputs"] == 2 for n in concats)
    # the dense layers keep a single input: the cat was lifted into the dense block
    layer = next(b for n, b in result.project.blocks.items() if "DenseLayer" in n)
    assert not any(n.type == "Concat" for n in layer.graph.nodes.values())


# ------------------------------------------------------------------ templates round trip
ROUNDTRIP = [
    ("resnet20", None),
    ("resnet18", "3,64,64"),
    ("densenet_bc100_k12", None),
    ("se_resnet20", None),
    ("highway20", None),
    ("weighted_resnet20", None),
    ("preact_resnet110", None),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,inp", ROUNDTRIP)
def test_template_roundtrip_same_params_and_outputs(name, inp):
    from graph.templates import all_templates, make

    if name not in {t.name for t in all_templates()}:
        pytest.skip(f"template {name} not present")
    project = make(name, input_shape=inp)
    shape = tuple(analyze(project).root.nodes[project.graph.nodes_of_type("Input")[0].id].out_shape)
    original = build_module(project).eval()
    result, rebuilt = _roundtrip(original, shape)
    assert sum(p.numel() for p in rebuilt.parameters()) == sum(p.numel() for p in original.parameters())
    report = transfer_state(original.state_dict(), rebuilt)
    assert not report.missing and not report.unexpected
    torch.testing.assert_close(_out(rebuilt, shape), _out(original, shape), rtol=1e-5, atol=1e-5)
    assert result.warnings == []
    # instances of one block class share a definition
    assert len(result.project.blocks) <= 3


@pytest.mark.parametrize("option,projection", [("A", "zero_pad"), ("B", "conv_bn"), ("C", "conv_bn_always")])
def test_every_shortcut_option_gives_one_block_definition_and_strict_weights(option, projection):
    from graph.templates import make

    original = build_module(make("resnet20", shortcut=option)).eval()
    result, rebuilt = _roundtrip(original, (3, 32, 32))
    assert list(result.project.blocks) == ["BasicBlock"]
    edges = [e for e in result.project.blocks["BasicBlock"].graph.edges.values() if e.kind == "shortcut"]
    assert [e.projection for e in edges] == [projection]
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    torch.testing.assert_close(_out(rebuilt, (3, 32, 32)), _out(original, (3, 32, 32)))


def test_resnet20_zero_pad_shortcut_is_one_block_definition():
    from graph.templates import make

    original = build_module(make("resnet20")).eval()
    result = import_module(original, (3, 32, 32))
    assert list(result.project.blocks) == ["BasicBlock"]
    bdef = result.project.blocks["BasicBlock"]
    (sc,) = [e for e in bdef.graph.edges.values() if e.kind == "shortcut"]
    assert sc.projection == "zero_pad"
    values = [n.params for n in result.project.graph.nodes.values() if n.type == "block:BasicBlock"]
    assert [v["stride"] for v in values] == [1, 1, 1, 2, 1, 1, 2, 1, 1]


# ------------------------------------------------------------------ hand-written modules
class SqueezeExcite(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Conv2d(c, c // 2, 1)
        self.fc2 = nn.Conv2d(c // 2, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = F.relu(self.fc1(s))
        return x * torch.sigmoid(self.fc2(s))


class KuangBlock(nn.Module):
    """kuangliu/pytorch-cifar style: `shortcut` is an empty Sequential or conv+BN."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.se = SqueezeExcite(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        out = out + self.shortcut(x)
        return F.relu(out)


class FunctionalNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.layer1 = nn.Sequential(KuangBlock(8, 8), KuangBlock(8, 16, 2))
        self.branch = nn.Conv2d(16, 8, 1)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        x = torch.relu(self.gn(self.stem(x)))
        x = self.layer1(x)
        x = torch.cat([x, self.branch(x)], 1)
        x = F.max_pool2d(x, 2)
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(self.drop(x))


def test_functional_ops_and_kuangliu_shortcuts():
    model = FunctionalNet().eval()
    shape = (3, 16, 16)
    result, rebuilt = _roundtrip(model, shape)
    rebuilt.load_state_dict(model.state_dict(), strict=True)  # shortcut.0 / shortcut.1 names kept
    torch.testing.assert_close(_out(rebuilt, shape), _out(model, shape), rtol=1e-5, atol=1e-5)
    types = {
        n.type
        for g in [result.project.graph] + [b.graph for b in result.project.blocks.values()]
        for n in g.nodes.values()
    }
    assert {
        "Multiply",
        "Concat",
        "Flatten",
        "AdaptiveAvgPool2d",
        "MaxPool2d",
        "GroupNorm",
        "Sigmoid",
        "Dropout",
    } <= types
    kb = result.project.blocks["KuangBlock"]
    (sc,) = [e for e in kb.graph.edges.values() if e.kind == "shortcut"]
    assert (sc.name, sc.projection) == ("shortcut", "conv_bn")
    assert "SqueezeExcite" in result.project.blocks


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.relu(self.conv(x))
        x = self.relu(self.conv(x))  # the same conv again: shared weights
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_shared_weights_are_reported_and_parameterless_reuse_is_fine():
    result = import_module(Shared(), (4, 8, 8))
    assert len(result.warnings) == 3  # the shared conv, the parameter count it changes, the key map
    assert '"conv"' in result.warnings[0] and "shares its weights" in result.warnings[0]
    # issue 22: the self-check proved that both copies take the model's one weight
    assert result.project.key_map == {
        "conv.weight": ["conv.weight", "conv_1.weight"],
        "conv.bias": ["conv.bias", "conv_1.bias"],
    }
    relus = result.project.graph.nodes_of_type("ReLU")
    assert len(relus) == 2 and len({n.name for n in relus}) == 2
    assert not any("relu" in w for w in result.warnings)


class Unsupported(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 3, 1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        x = torch.sin(x)
        x = self.conv(x.flatten(2)).mean(2)
        return self.fc(x)


def test_unknown_operations_give_one_error_listing_them():
    with pytest.raises(UserError) as info:
        import_module(Unsupported(), (3, 4, 4))
    msg = info.value.message
    # one line per module class, after the summary: the class first, then where and the causes
    assert msg.count("\n  ") == 2
    assert '\n  nn.Conv1d (1 place, e.g. "conv"): has no Skipwire layer type' in msg
    # calls named as the user wrote them, not by torch's internal names
    assert "\n  Unsupported (1 place, e.g. the top level): calls torch.sin" in msg
    assert "_VariableFunctionsClass" not in msg and "torch.nn.modules" not in msg


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return -self.fc(x)


def test_untraceable_model_and_wrong_input_are_clear_errors(capfd):
    with pytest.raises(UserError, match="cannot be traced with torch.fx"):
        import_module(Untraceable(), (4,))
    with pytest.raises(UserError, match="--input") as info:
        import_module(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), (3, 8, 8))
    # the layer that fails and torch's own sentence; no fx node dump, no traceback on stderr
    assert (
        "at self[0] (Conv2d): Given groups=1" in info.value.message and "ShapeProp" not in info.value.message
    )
    assert "Traceback" not in capfd.readouterr().err
    # without an input shape: the first layer's channels, at 224x224
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    project = import_module(net).project
    assert project.graph.nodes_of_type("Input")[0].params["shape"] == [1, 224, 224]
    assert import_module(nn.Sequential(nn.Linear(5, 2))).project.graph.nodes_of_type("Input")[0].params[
        "shape"
    ] == [5]


def test_layout_places_every_node_top_to_bottom(tv):
    result = import_module(tv["densenet_tiny"](), (3, 32, 32))
    project = result.project
    graphs = [(project.ui["positions"], project.graph)] + [
        (project.ui["block_positions"][n], b.graph) for n, b in project.blocks.items()
    ]
    for pos, g in graphs:
        assert set(pos) == set(g.nodes)
        assert len({tuple(p) for p in pos.values()}) == len(pos)
        for e in g.edges.values():
            assert pos[e.dst][1] > pos[e.src][1]


# ------------------------------------------------------------------ targets and the command line
def test_import_target_accepts_class_factory_and_instance(tmp_path):
    (tmp_path / "mynets.py").write_text(
        textwrap.dedent("""
        import torch.nn as nn
        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(
                    nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
                )
            def forward(self, x):
                return self.body(x)
        def make():
            return Tiny()
        instance = Tiny()
        not_a_model = 3
    """)
    )
    for target in ("mynets:Tiny", "mynets:make", "mynets:instance", "mynets.py:Tiny"):
        project = import_target(target, (1, 8, 8), cwd=str(tmp_path)).project
        assert analyze(project).total_params == 40 + 4 * 36 * 3 + 3
        assert [s.name for s in project.graph.stages] == ["body"]
    with pytest.raises(UserError, match="neither an nn.Module"):
        import_target("mynets:not_a_model", (1, 8, 8), cwd=str(tmp_path))
    with pytest.raises(UserError, match="no attribute"):
        import_target("mynets:missing", (1, 8, 8), cwd=str(tmp_path))
    with pytest.raises(UserError, match="MODULE:CALLABLE"):
        import_target("mynets", (1, 8, 8), cwd=str(tmp_path))


@pytest.mark.slow
def test_cli_import_writes_a_valid_project(tmp_path):
    out = tmp_path / "r18.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "import",
            "tv_resnet:resnet18",
            "-o",
            str(out),
            "--input",
            "3,32,32",
        ],
        cwd=FIXTURES,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "11,689,512 parameters" in proc.stdout
    from graph.projectfile import load_project

    assert analyze(load_project(out)).valid
    bad = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "import", "no_such_module:x", "-o", str(tmp_path / "x.json")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("skipwire: cannot import module") and bad.stderr.count("\n") == 1


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x, mask=None):
        y = self.fc(x)
        return {"logits": y, "features": x}


def test_outputs_other_than_one_tensor_are_refused_and_unused_arguments_ignored():
    with pytest.raises(UserError, match="must return one tensor, not a tuple, list or dict"):
        import_module(TwoOutputs(), (4,))


# ------------------------------------------------------------------ property: random residual nets
class _PBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += identity
        return self.relu(out)


class _PNet(nn.Module):
    def __init__(self, items):
        super().__init__()
        c = 4
        self.stem = nn.Conv2d(3, c, 3, padding=1)
        layers = []
        for kind, width, stride in items:
            if kind == "block":
                layers.append(_PBlock(c, width, stride))
                c = width
            elif kind == "conv":
                layers += [nn.Conv2d(c, width, 3, stride, 1), nn.BatchNorm2d(width), nn.ReLU()]
                c = width
            elif kind == "pool":
                layers.append(nn.MaxPool2d(2) if stride == 2 else nn.AvgPool2d(3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.gate = nn.Conv2d(c, c, 1)
        self.fc = nn.Linear(2 * c, 3)

    def forward(self, x):
        x = self.body(F.relu(self.stem(x)))
        x = x * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))
        x = torch.cat([x, F.relu(x)], 1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_random_residual_nets_round_trip():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    item = st.tuples(
        st.sampled_from(["block", "conv", "pool"]), st.sampled_from([4, 8]), st.sampled_from([1, 2])
    )

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(st.lists(item, min_size=1, max_size=5).filter(lambda xs: sum(s == 2 for _, _, s in xs) <= 3))
    def check(items):
        torch.manual_seed(0)
        model = _PNet(items).eval()
        result, rebuilt = _roundtrip(model, (3, 16, 16))
        assert analyze(result.project).valid
        report = transfer_state(model.state_dict(), rebuilt)
        assert not report.missing and not report.unexpected
        torch.testing.assert_close(_out(rebuilt, (3, 16, 16)), _out(model, (3, 16, 16)), rtol=1e-5, atol=1e-5)
        blocks = [n for n in result.project.graph.nodes.values() if n.type.startswith("block:")]
        assert len({n.type for n in blocks}) <= 1  # every _PBlock shares one definition

    check()


# ------------------------------------------------------------------ height x width (Inception's 1x7)
class _Conv7(nn.Module):
    """Inception's factorised 7x7: a 1x7 and a 7x1 convolution, with attribute names in capitals."""

    def __init__(self, c):
        super().__init__()
        self.Conv2d_1a_3x3 = nn.Conv2d(3, c, kernel_size=3, stride=2, bias=False)
        self.branch7x7_2 = nn.Conv2d(c, c, kernel_size=(1, 7), padding=(0, 3), bias=False)
        self.branch7x7_3 = nn.Conv2d(c, c, kernel_size=(7, 1), padding=(3, 0), bias=False)
        self.Mixed_5b = nn.Conv2d(c, c, kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1))

    def forward(self, x):
        x = self.Conv2d_1a_3x3(x)
        return self.Mixed_5b(self.branch7x7_3(self.branch7x7_2(x)))


def test_height_by_width_convolutions_import_and_emit_as_torchvision_writes_them():
    original = _Conv7(16).eval()
    result, rebuilt = _roundtrip(original, (3, 33, 33))
    nodes = {n.name: n.params for n in result.project.graph.nodes.values() if n.type == "Conv2d"}
    assert nodes["branch7x7_2"]["kernel_size"] == [1, 7] and nodes["branch7x7_2"]["padding"] == [0, 3]
    assert nodes["Mixed_5b"]["stride"] == [1, 2] and nodes["Mixed_5b"]["dilation"] == [2, 1]
    assert type(nodes["Conv2d_1a_3x3"]["kernel_size"]) is int  # a square one stays a number
    source = emit(result.project).source
    assert "self.branch7x7_2 = nn.Conv2d(16, 16, kernel_size=(1, 7), padding=(0, 3), bias=False)" in source
    assert "self.branch7x7_3 = nn.Conv2d(16, 16, kernel_size=(7, 1), padding=(3, 0), bias=False)" in source
    assert "self.Conv2d_1a_3x3 = nn.Conv2d(in_channels, 16, kernel_size=3, stride=2, bias=False)" in source
    assert "kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), dilation=(2, 1))" in source
    rebuilt.load_state_dict(original.state_dict(), strict=True)
    torch.testing.assert_close(_out(rebuilt, (3, 33, 33)), _out(original, (3, 33, 33)))
    assert analyze(result.project).shape_of(result.project.graph.nodes_of_type("Output")[0].id) == tuple(
        _out(original, (3, 33, 33)).shape[1:]
    )
    again = import_module(rebuilt.eval(), (3, 33, 33)).project
    assert {n.name: n.params for n in again.graph.nodes.values()} == {
        n.name: n.params for n in result.project.graph.nodes.values()
    }
