"""codegen/layer_codegen.py: one entry per registered layer type, consistent with torch and the registry."""

from __future__ import annotations

import inspect

import pytest
from torch import nn

from codegen import helpers, layer_codegen
from codegen.build import load_source
from codegen.layer_codegen import CODEGEN_TYPES, FX_MODULES, Unsupported
from graph import registry

_SIZES = {"out_channels": 8, "out_features": 4, "num_groups": 2}


def _torch_class(name: str) -> type:
    if name.startswith("nn."):
        return getattr(nn, name[3:])
    head = "import torch\nimport torch.nn.functional as F\nfrom torch import Tensor, nn\n\n\n"
    return load_source(head + helpers.HELPERS[name], name, "helper")


def test_every_registered_type_has_an_entry_and_no_entry_is_stale():
    assert layer_codegen.missing() == []
    layer_codegen.check_complete()
    assert set(CODEGEN_TYPES) == {t.name for t in registry.all_types()}


def test_check_complete_names_the_gap(monkeypatch):
    monkeypatch.setattr(
        layer_codegen, "CODEGEN_TYPES", {k: v for k, v in CODEGEN_TYPES.items() if k != "Gate"}
    )
    with pytest.raises(AssertionError, match="Gate \\(no entry\\)"):
        layer_codegen.check_complete()
    with pytest.raises(KeyError, match="Gate"):
        layer_codegen.get("Gate")


@pytest.mark.parametrize("name", sorted(CODEGEN_TYPES))
def test_torch_defaults_match_torch_signatures(name):
    entry = CODEGEN_TYPES[name]
    if not entry.torch_defaults:
        return
    params = inspect.signature(_torch_class(entry.fx_modules[0]).__init__).parameters
    for k, v in entry.torch_defaults.items():
        assert k in params, (name, k)
        assert params[k].default == v and type(params[k].default) is type(v), (name, k)


@pytest.mark.parametrize(
    "lt", [t for t in registry.all_types() if t.module is not None], ids=lambda t: t.name
)
def test_the_module_the_registry_builds_imports_back_as_the_same_type(lt):
    """The class the registry's module builder names is the one the table imports, with the same params."""
    params = lt.defaults() | {k: v for k, v in _SIZES.items() if lt.spec(k) is not None}
    sample = (8,) if lt.name == "Linear" else (8, 4, 4)  # a Linear's own input: a vector
    spec = lt.module(params, [sample])
    entry = CODEGEN_TYPES[lt.name]
    assert spec.cls in entry.fx_modules
    assert FX_MODULES[spec.cls] is entry
    mod = _torch_class(spec.cls)(*spec.args, **spec.kwargs)
    in_shape = tuple(mod.normalized_shape) if lt.name == "LayerNorm" else sample
    got = entry.from_module(mod, in_shape)
    for k, v in got.items():
        if k in params:
            assert v == params[k] or (k == "stride" and params[k] is None), (lt.name, k, v, params[k])


def test_from_module_refuses_what_the_type_cannot_hold():
    with pytest.raises(Unsupported, match="padding_mode"):
        CODEGEN_TYPES["Conv2d"].from_module(nn.Conv2d(3, 8, 3, padding_mode="reflect"), (3, 8, 8))
    with pytest.raises(Unsupported, match="approximate"):
        CODEGEN_TYPES["GELU"].from_module(nn.GELU(approximate="tanh"), (3, 8, 8))


def test_channels_last_layers_import_with_the_axes_they_act_on():
    ln = CODEGEN_TYPES["LayerNorm"].from_module
    assert ln(nn.LayerNorm(96, eps=1e-6), (7, 7, 96)) == {
        "eps": 1e-6,
        "elementwise_affine": True,
        "last_dims": 1,
    }
    assert "last_dims" not in ln(nn.LayerNorm([4, 5, 6]), (4, 5, 6))
    with pytest.raises(Unsupported, match="neither the whole sample"):
        ln(nn.LayerNorm(7), (7, 5, 5))  # the first axis: not a trailing one
    linear = CODEGEN_TYPES["Linear"].from_module
    assert linear(nn.Linear(96, 384), (7, 7, 96))["last_axis"] is True
    assert "last_axis" not in linear(nn.Linear(96, 384), (96,))
    permute = CODEGEN_TYPES["Permute"].from_module
    assert permute(_torch_class("Permute")([0, 3, 1, 2]), (7, 7, 96)) == {"dims": "0,3,1,2"}
    with pytest.raises(Unsupported, match="a permutation 1,0,2,3"):
        permute(_torch_class("Permute")([1, 0, 2, 3]), (7, 7, 96))


def test_permute_moves_the_channel_axis_and_linear_writes_only_the_last():
    from codegen.symbolic import Sym

    c = Sym(("name", "in_channels"), 8)
    entry = CODEGEN_TYPES["Permute"]
    assert entry.out_axis({"dims": "0,2,3,1"}, 0, 3) == 2
    assert entry.out_axis({"dims": "0,3,1,2"}, 2, 3) == 0
    linear = CODEGEN_TYPES["Linear"]
    wide = Sym(("mul", ("name", "in_channels"), ("int", 4)), 32)
    # on channels last it sets the channels; on another axis the channels keep their size
    assert linear.out_channels({"out_features": wide}, [(5, 5, c)], 32, axis=2) is wide
    assert linear.out_channels({"out_features": wide}, [(c, 5, 5)], 8, axis=0) is c


def test_channel_conv1d_imports_only_a_one_channel_conv_that_keeps_the_length():
    entry = CODEGEN_TYPES["ChannelConv1d"]
    assert entry.from_module(nn.Conv1d(1, 1, 5, padding=2, bias=False), (1, 64)) == {
        "kernel_size": 5,
        "bias": False,
    }
    assert entry.from_module(nn.Conv1d(1, 1, 3, padding="same"), (1, 64)) == {"kernel_size": 3, "bias": True}
    refused = [
        (nn.Conv1d(1, 4, 3, padding=1), "Conv1d\\(1, 4\\) \\(only for one channel in and out"),
        (nn.Conv1d(1, 1, 4, padding=1), "odd kernel"),
        (nn.Conv1d(1, 1, 3), "odd kernel"),
        (nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular"), "padding_mode"),  # timm's CecaModule
        (nn.Conv1d(1, 1, 3, padding=1, stride=2), "stride"),
        (nn.Conv2d(1, 1, 3, padding=1), "not an nn.Conv1d"),
    ]
    for mod, why in refused:
        with pytest.raises(Unsupported, match=why):
            entry.from_module(mod, (1, 64))


def _eca_project(k=5):
    """Input -> conv -> block:Eca(k) named se -> Output, the ECA block built by hand from the palette's
    layers: pool -> ChannelConv1d(kernel_size=k) -> Sigmoid -> Multiply with the block's input."""
    from graph.model import BlockDef, BlockParam, Project

    p = Project("eca by hand")
    b = BlockDef("Eca", {"k": BlockParam("int", 3)})
    g = b.graph
    i = g.add("BlockInput", "input")
    pool = g.add("AdaptiveAvgPool2d", "pool", output_size=1)
    conv = g.add("ChannelConv1d", "conv", kernel_size="k")
    gate = g.add("Sigmoid", "gate")
    mul = g.add("Multiply", "scale")
    o = g.add("BlockOutput", "output")
    g.chain(i, pool, conv, gate)
    g.connect(i, mul, 0)
    g.connect(gate, mul, 1)
    g.connect(mul, o)
    p.add_block(b)
    G = p.graph
    x = G.add("Input", "input", shape=[3, 8, 8])
    c = G.add("Conv2d", "conv1", out_channels=16)
    se = G.add("block:Eca", "se", k=k)
    G.chain(x, c, se, G.add("Output", "output"))
    return p


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_a_hand_built_eca_block_emits_the_helper_and_computes_eca_net_s_attention():
    import torch

    from codegen.build import build_module
    from codegen.emitter import emit
    from graph.shapes import analyze

    p = _eca_project(k=5)
    a = analyze(p)
    assert a.valid, [d.message for d in a.diagnostics]
    e = emit(p, a)
    assert "class ChannelConv1d(nn.Conv1d):" in e.source and "ChannelConv1d" in e.helpers
    assert "self.conv = ChannelConv1d(kernel_size=k)" in e.source
    m = build_module(p).eval()
    assert tuple(m.state_dict()["se.conv.weight"].shape) == (1, 1, 5)
    assert a.total_params == sum(t.numel() for t in m.parameters())
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        h = m.conv1(x)
        y = torch.nn.functional.conv1d(h.mean((2, 3)).view(2, 1, -1), m.se.conv.weight, padding=2)
        want = h * torch.sigmoid(y).view(2, -1, 1, 1)
        torch.testing.assert_close(m(x), want)
    torch.jit.script(m)  # the helper is scriptable (export --torchscript)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_group_sum_and_radix_softmax_code_computes_resnest_s_split_attention_and_scripts():
    import torch

    from codegen.build import build_module
    from codegen.emitter import emit
    from graph.model import Project

    p = Project("split")
    g = p.graph
    x = g.add("Input", "input", shape=[12, 3, 3])
    rs = g.add("RadixSoftmax", "rsoftmax", radix=3, cardinality=2)
    gs = g.add("GroupSum", "group_sum", groups=3)
    g.chain(x, rs, gs, g.add("Output", "output"))
    e = emit(p)
    assert "self.rsoftmax = RadixSoftmax(radix=3, cardinality=2)" in e.source
    assert "torch.sum(torch.unflatten(x, 1, (3, -1)), 1)" in e.source
    m = build_module(p).eval()
    t = torch.randn(2, 12, 3, 3)
    # timm's RadixSoftmax at each position: channels cardinality x radix x C' in, radix first out
    w = t.view(2, 2, 3, 2, 3, 3).transpose(1, 2).softmax(dim=1).reshape(2, 12, 3, 3)
    want = w.view(2, 3, 4, 3, 3).sum(1)
    with torch.no_grad():
        torch.testing.assert_close(m(t), want)
        torch.testing.assert_close(torch.jit.script(m)(t), want)
    with pytest.raises(Unsupported, match="only radix 2 or more"):
        CODEGEN_TYPES["RadixSoftmax"].from_module(_torch_class("RadixSoftmax")(1, 4), (8, 1, 1))


def test_mish_emits_torch_s_module_and_computes_mish():
    import torch

    from codegen.build import build_module
    from codegen.emitter import emit
    from graph.model import Project

    p = Project("mish")
    g = p.graph
    x = g.add("Input", "input", shape=[4, 5, 5])
    c = g.add("Conv2d", "conv", out_channels=6, bias=False)
    g.chain(x, c, g.add("Mish", "mish"), g.add("Output", "output"))
    e = emit(p)
    assert "self.mish = nn.Mish()" in e.source and not e.helpers
    m = build_module(p).eval()
    t = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        h = m.conv(t)
        torch.testing.assert_close(m(t), h * torch.tanh(torch.nn.functional.softplus(h)))
