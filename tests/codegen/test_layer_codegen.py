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
