"""The registry holds every layer type of issue 2, each with its weight initialisation declared."""

from __future__ import annotations

import pytest

from graph import registry

ISSUE_TYPES = (
    "Input",
    "Output",
    "Conv2d",
    "BatchNorm2d",
    "GroupNorm",
    "LayerNorm",
    "InstanceNorm2d",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Flatten",
    "Linear",
    "Dropout",
    "Identity",
    "Add",
    "Concat",
    "Multiply",
    "Gate",
    "ChannelSlice",
    "LayerNorm2d",
)
RULES = set(registry.INIT_RULES)  # codegen/init_rules.py RULES says what each does


@pytest.mark.parametrize("name", ISSUE_TYPES)
def test_type_is_registered_with_an_init_rule(name):
    lt = registry.get(name)
    assert lt is not None and lt.name == name
    assert lt.init in RULES, (name, lt.init)


@pytest.mark.parametrize("lt", registry.all_types(), ids=lambda t: t.name)
def test_types_with_weights_say_how_they_start(lt):
    """A type that can hold parameters names a rule other than 'none'; one that cannot, 'none'."""
    params = lt.defaults()
    if "weights" in params:
        params["weights"] = "learnable"
    for flag in ("affine", "elementwise_affine"):
        if flag in params:
            params[flag] = True
    if "num_groups" in params:
        params["num_groups"] = 4
    n = lt.num_inputs(params) if lt.name not in ("Input", "BlockInput") else 0
    image = (8, 6, 6)
    ins = [image] * n
    if lt.name == "Linear":
        ins = [(8,)]
    if lt.name == "ChannelConv1d":
        ins = [(8, 1, 1)]  # slides over a pooled image's channels
    if lt.name in ("Dropout1d", "Dropout3d", "Unflatten"):
        ins = [{"Dropout1d": (8, 6), "Dropout3d": (8, 3, 6, 6), "Unflatten": (8,)}[lt.name]]
    out = tuple(lt.shape(params, ins)) if lt.name not in ("Input", "BlockInput") else image
    weights = lt.count_params(params, ins, out) > 0
    assert (lt.init != "none") == weights, (lt.name, lt.init)
