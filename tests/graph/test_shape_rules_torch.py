"""Each registry shape rule against torch itself, on random shapes and parameters.

The property test (test_property.py) builds random chains and residual adds;
this one covers every type one call at a time, including the merges (Concat,
Multiply with broadcasting, Gate), ChannelSlice and the norms the chains do
not use. Whenever the rule accepts an input, torch must accept it too and give
the same shape and parameter count; whenever the rule refuses (ShapeError),
torch must fail too (or, for a refusal that is a design choice, the reason is
named below).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import registry
from graph.registry import ShapeError

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

small = st.integers(1, 9)


def image(draw, c=None):
    return (c or draw(st.integers(1, 8)), draw(small), draw(small))


def rule(name, params, ins):
    lt = registry.get(name)
    p = lt.defaults()
    p.update(params)
    out = tuple(lt.shape(p, [tuple(s) for s in ins]))
    return out, lt.count_params(p, [tuple(s) for s in ins], out)


def run(module_or_fn, *shapes):
    xs = [torch.randn(2, *s) for s in shapes]
    with torch.no_grad():
        y = module_or_fn(*xs)
    n = sum(p.numel() for p in module_or_fn.parameters()) if isinstance(module_or_fn, nn.Module) else 0
    return tuple(y.shape[1:]), n


def agree(name, params, ins, torch_call):
    try:
        ours = rule(name, params, ins)
    except ShapeError as exc:
        if exc.code == "kernel_too_large":
            return  # refused by design (issue 2), though torch's ceil_mode pools accept an overhanging window
        ours = None
    try:
        real = torch_call()
    except (RuntimeError, ValueError, IndexError):
        real = None
    assert ours == real, (name, params, ins, ours, real)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_conv_and_pools(data):
    d = data.draw
    ins = image(d)
    k, s, dil = d(st.integers(1, 5)), d(st.integers(1, 3)), d(st.integers(1, 2))
    pad = d(st.sampled_from([0, 1, 2, "same"]))
    if pad == "same":
        s = 1
        k = k | 1  # odd: our rule's choice (PyTorch pads asymmetrically for even kernels)
    g = d(st.sampled_from([1, 2]))
    out_c = g * d(st.integers(1, 4))
    if ins[0] % g:
        ins = (ins[0] * g, *ins[1:])
    params = {
        "out_channels": out_c,
        "kernel_size": k,
        "stride": s,
        "padding": pad,
        "dilation": dil,
        "groups": g,
        "bias": d(st.booleans()),
    }
    agree(
        "Conv2d", params, [ins], lambda: run(nn.Conv2d(ins[0], out_c, k, s, pad, dil, g, params["bias"]), ins)
    )
    pk, ps = d(st.integers(1, 4)), d(st.sampled_from([None, 1, 2]))
    ppad, ceil = d(st.integers(0, 2)), d(st.booleans())
    pparams = {"kernel_size": pk, "stride": ps, "padding": ppad, "ceil_mode": ceil}
    agree("MaxPool2d", pparams, [ins], lambda: run(nn.MaxPool2d(pk, ps, ppad, ceil_mode=ceil), ins))
    agree("AvgPool2d", pparams, [ins], lambda: run(nn.AvgPool2d(pk, ps, ppad, ceil_mode=ceil), ins))
    osz = d(st.integers(1, 4))
    agree("AdaptiveAvgPool2d", {"output_size": osz}, [ins], lambda: run(nn.AdaptiveAvgPool2d(osz), ins))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_conv_height_by_width(data):
    """kernel_size, stride, padding and dilation as (height, width), such as Inception's 1x7."""
    d = data.draw

    def hw(values):
        return d(st.one_of(values, st.tuples(values, values)))

    ins = image(d)
    k, s, dil = hw(st.integers(1, 7)), hw(st.integers(1, 3)), hw(st.integers(1, 2))
    pad = hw(st.integers(0, 3)) if d(st.booleans()) else d(st.sampled_from(["same", "valid"]))
    if pad == "same":
        s = 1
        k = tuple(v | 1 for v in k) if isinstance(k, tuple) else k | 1
    out_c = d(st.integers(1, 6))
    params = {"out_channels": out_c, "kernel_size": k, "stride": s, "padding": pad, "dilation": dil}
    agree(
        "Conv2d",
        params,
        [ins],
        lambda: run(nn.Conv2d(ins[0], out_c, k, s, pad, dil, bias=False), ins),
    )


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_norms_and_elementwise(data):
    d = data.draw
    ins = image(d)
    c = ins[0]
    agree("BatchNorm2d", {}, [ins], lambda: run(nn.BatchNorm2d(c), ins))
    groups = d(st.integers(1, 4))
    agree("GroupNorm", {"num_groups": groups}, [ins], lambda: run(nn.GroupNorm(groups, c), ins))
    agree("LayerNorm", {}, [ins], lambda: run(nn.LayerNorm(list(ins)), ins))
    ln2d = nn.LayerNorm(c)
    agree("LayerNorm2d", {}, [ins], lambda: run_layernorm2d(ln2d, ins))
    agree(
        "InstanceNorm2d",
        {"affine": True},
        [ins],
        lambda: run(nn.InstanceNorm2d(c, affine=True), ins) if ins[1] * ins[2] > 1 else None,
    )
    for name, mod in (
        ("ReLU", nn.ReLU()),
        ("LeakyReLU", nn.LeakyReLU()),
        ("GELU", nn.GELU()),
        ("SiLU", nn.SiLU()),
        ("Mish", nn.Mish()),
        ("Sigmoid", nn.Sigmoid()),
        ("Tanh", nn.Tanh()),
        ("ReLU6", nn.ReLU6()),
        ("Hardswish", nn.Hardswish()),
        ("Hardsigmoid", nn.Hardsigmoid()),
        ("Dropout", nn.Dropout()),
        ("Identity", nn.Identity()),
        ("Flatten", nn.Flatten()),
    ):
        agree(name, {}, [ins], lambda mod=mod: run(mod, ins))
    feats = ins[0] * ins[1] * ins[2]
    out_f = d(st.integers(1, 6))
    agree("Linear", {"out_features": out_f}, [(feats,)], lambda: run(nn.Linear(feats, out_f), (feats,)))
    start = d(st.integers(0, c + 1))
    stop = d(st.one_of(st.none(), st.integers(0, c + 2)))
    agree("ChannelSlice", {"start": start, "stop": stop}, [ins], lambda: slice_or_fail(ins, start, stop))
    groups = d(st.integers(1, 4))
    agree(
        "ChannelShuffle",
        {"groups": groups},
        [ins],
        lambda: run(nn.ChannelShuffle(groups), ins),
    )


class _LN2d(nn.Module):
    def __init__(self, ln):
        super().__init__()
        self.ln = ln

    def forward(self, x):
        return self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def run_layernorm2d(ln, ins):
    return run(_LN2d(ln), ins)


def slice_or_fail(ins, start, stop):
    """Our rule refuses an empty or out-of-range slice (a design choice: a zero-channel tensor is a
    mistake)."""
    c = ins[0]
    end = c if stop is None else stop
    if not 0 <= start < end <= c:
        return None
    return run(lambda x: x[:, start:stop], ins)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_merges(data):
    d = data.draw
    a = image(d)
    same_spatial = d(st.booleans())
    b = (d(st.integers(1, 8)), *(a[1:] if same_spatial else (d(small), d(small))))
    agree("Concat", {"num_inputs": 2}, [a, b], lambda: run(lambda x, y: torch.cat([x, y], 1), a, b))
    b2 = d(st.sampled_from([a, b, (a[0], 1, 1), (1, *a[1:]), (a[0],), (1,)]))
    agree(
        "Multiply",
        {"num_inputs": 2},
        [a, b2],
        lambda: run(lambda x, y: x * y, a, b2) if len(a) == len(b2) else None,
    )  # see _broadcast
    agree("Add", {"num_inputs": 2}, [a, b2], lambda: run_add(a, b2))
    t = d(st.sampled_from([a, (a[0], 1, 1), b]))
    x = d(st.sampled_from([a, b]))
    agree("Gate", {}, [a, t, x], lambda: run_gate(a, t, x))


def run_gate(h, t, x):
    """The gate keeps h's shape by design: the carry x must equal h; t may broadcast to it, never widen it."""
    got = run(lambda hh, tt, xx: tt * hh + (1 - tt) * xx, h, t, x)
    return got if got[0] == tuple(h) and tuple(x) == tuple(h) else None


def run_add(a, b):
    """Add is the residual sum: shapes must be equal (no broadcasting, by design)."""
    if tuple(a) != tuple(b):
        return None
    return run(lambda x, y: x + y, a, b)


class _Scale(nn.Module):
    """A layer scale as torchvision (C, 1, 1) or timm ((C,), reshaped in forward) hold it."""

    def __init__(self, c, flat):
        super().__init__()
        self.flat = flat
        self.w = nn.Parameter(torch.ones(c) if flat else torch.ones(c, 1, 1))

    def forward(self, x):
        return x * self.w.reshape(1, -1, 1, 1) if self.flat else self.w * x


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_channels_last_layers(data):
    """Permute, LayerNorm over the last axes, Linear on the last axis and LayerScale, against torch."""
    from graph.layers import PERMUTATIONS

    d = data.draw
    ins = image(d)
    dims = d(st.sampled_from(PERMUTATIONS))
    order = [int(x) for x in dims.split(",")]
    agree("Permute", {"dims": dims}, [ins], lambda: run(lambda x: x.permute(*order), ins))
    n = d(st.integers(1, 3))
    agree("LayerNorm", {"last_dims": n}, [ins], lambda: run(nn.LayerNorm(list(ins[3 - n :])), ins))
    out_f = d(st.integers(1, 6))
    agree(
        "Linear",
        {"out_features": out_f, "last_axis": True},
        [ins],
        lambda: run(nn.Linear(ins[-1], out_f), ins),
    )
    for shape, flat in (("C,1,1", False), ("C", True)):
        agree("LayerScale", {"weight_shape": shape}, [ins], lambda flat=flat: run(_Scale(ins[0], flat), ins))


def channel_conv_or_fail(k, bias, ins):
    """ECA-Net's conv, as torch's Conv1d over the channels; our rule refuses an unpooled input (torch
    would slide over C*H*W positions and come back as C*H*W channels) and an even kernel (torch would
    drop a channel): design choices, an ECA gate must give one number per channel."""
    _c, h, w = ins
    if (h, w) != (1, 1) or k % 2 == 0:
        return None
    conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=bias)
    return run(lambda x: conv(x.view(x.shape[0], 1, -1)).view(x.shape[0], -1, 1, 1), ins)[0], sum(
        p.numel() for p in conv.parameters()
    )


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_channel_conv1d(data):
    d = data.draw
    ins = (d(st.integers(1, 64)), d(st.sampled_from([1, 1, 2])), d(st.sampled_from([1, 1, 3])))
    k, bias = d(st.integers(1, 9)), d(st.booleans())
    agree(
        "ChannelConv1d", {"kernel_size": k, "bias": bias}, [ins], lambda: channel_conv_or_fail(k, bias, ins)
    )


def radix_softmax(ins, radix, card):
    def f(x):
        y = x.view(x.shape[0], card, radix, -1, *x.shape[2:]).transpose(1, 2)
        return y.softmax(dim=1).reshape(x.shape)

    return run(f, ins)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_group_sum_and_radix_softmax(data):
    d = data.draw
    ins = image(d, c=d(st.integers(1, 12)))
    g, card = d(st.integers(2, 4)), d(st.integers(1, 3))
    agree("GroupSum", {"groups": g}, [ins], lambda: run(lambda x: x.unflatten(1, (g, -1)).sum(1), ins))
    agree("RadixSoftmax", {"radix": g, "cardinality": card}, [ins], lambda: radix_softmax(ins, g, card))
