"""Declarations of every built-in layer type (one each, docs/style.md)."""

from __future__ import annotations

from collections.abc import Callable
from math import prod

from graph.diagnostics import Fix
from graph.fixes import InsertBeforeFix, SetParamFix
from graph.params import ParamSpec as P
from graph.params import format_value, pair
from graph.registry import LayerType, ModuleSpec, ParameterSpec, Shape, ShapeError, register


def _largest_divisor(c: int, at_most: int) -> int:
    """The most groups, at most ``at_most``, that split ``c`` channels evenly (the groups fixes)."""
    return next(d for d in range(min(at_most, c), 0, -1) if c % d == 0)


def _image(shape: Shape, what: str = "input") -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError("expects_image", f"expects an image tensor CxHxW but the {what} is {_fmt(shape)}")
    return shape  # type: ignore[return-value]


def _set(param: str, value, label: str) -> Fix:
    """A fix a shape rule offers: set one of the node's parameters (bound to the node by the analysis)."""
    return Fix(label, SetParamFix(param=param, value=value))


def _fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def _same(p: dict, ins: list[Shape]) -> Shape:
    return ins[0]


# what a layer keeps for its backward pass, in float32-sized elements per sample (LayerType.saves).
# A rule that keeps tensors the graph has (its input(s), its output) says which in ``tensors``, so that
# a memory estimate counts a tensor kept by two layers once (graph/memory.py); the rest is the layer's own.
def _keeps(which: str):
    def mark(rule):
        rule.tensors = which  # "input" | "inputs" | "output"
        return rule

    return mark


def _nothing(p: dict, ins: list[Shape], out: Shape) -> int:
    return 0


@_keeps("input")
def _input(p: dict, ins: list[Shape], out: Shape) -> int:
    return prod(ins[0])


@_keeps("output")
def _output(p: dict, ins: list[Shape], out: Shape) -> int:
    return prod(out)


@_keeps("inputs")
def _inputs(p: dict, ins: list[Shape], out: Shape) -> int:
    return sum(prod(s) for s in ins)


@_keeps("inputs")
def _gate_saves(p: dict, ins: list[Shape], out: Shape) -> int:
    return prod(ins[0]) + 2 * prod(ins[1]) + prod(ins[2])  # h, t, 1 - t, x


@_keeps("inputs")
def _weighted_add_saves(p: dict, ins: list[Shape], out: Shape) -> int:
    return _inputs(p, ins, out) if p["weights"] == "learnable" else 0  # each input, for its weight's grad


def _dropout_saves(p: dict, ins: list[Shape], out: Shape) -> int:
    # the scaled mask (a tensor of its own, output-sized); with p = 0 the CPU kernel returns its input
    return prod(out) if p["p"] > 0 else 0


@_keeps("input")
def _input_and_indices(p: dict, ins: list[Shape], out: Shape) -> int:
    return prod(ins[0]) + 2 * prod(out)  # the input, and int64 indices


def _spatial(size: int, k: int, s: int, pad: int, d: int = 1, ceil: bool = False) -> int:
    eff = d * (k - 1) + 1
    span = size + 2 * pad - eff
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pad:
        out -= 1
    return out


# ---------------------------------------------------------------- input / output
register(
    LayerType(
        "Input",
        "io",
        "The network input: one sample's shape, such as 3x32x32.",
        (P("shape", "shape", [3, 32, 32], doc="per-sample shape C,H,W (or F)"),),
        shape=lambda p, ins: tuple(p["shape"]),
        inputs=0,
        key_params=("shape",),
        saves=_nothing,
    )
)

register(
    LayerType(
        "Output",
        "io",
        "The network output (logits); a marker with no parameters.",
        (),
        shape=_same,
        saves=_nothing,
    )
)

register(
    LayerType(
        "BlockInput",
        "io",
        "Where a block's input enters its body.",
        (),
        shape=_same,
        inputs=0,
        saves=_nothing,
    )
)

register(LayerType("BlockOutput", "io", "What a block returns.", (), shape=_same, saves=_nothing))


# ---------------------------------------------------------------- convolution
def _conv_padding(p: dict) -> tuple[int, int]:
    pad = p["padding"]
    if pad == "same":
        (kh, kw), (dh, dw) = pair(p["kernel_size"]), pair(p["dilation"])
        return dh * (kh - 1) // 2, dw * (kw - 1) // 2
    if pad == "valid":
        return 0, 0
    return pair(pad)


def _hw(values: tuple[int, int]) -> int | tuple[int, int]:
    """A (height, width) pair as a parameter value: a number where both are equal."""
    return values[0] if values[0] == values[1] else values


def _conv_shape(p: dict, ins: list[Shape]) -> Shape:
    c, h, w = _image(ins[0])
    (kh, kw), (sh, sw), (dh, dw) = pair(p["kernel_size"]), pair(p["stride"]), pair(p["dilation"])
    g, out = p["groups"], p["out_channels"]
    keep = _hw((dh * (kh - 1) // 2, dw * (kw - 1) // 2))
    if p["padding"] == "same":
        if (sh, sw) != (1, 1):
            raise ShapeError(
                "bad_param",
                "padding 'same' needs stride 1",
                [_set("padding", keep, f"Set padding to {format_value(keep)}")],
            )
        if (dh * (kh - 1)) % 2 or (dw * (kw - 1)) % 2:
            raise ShapeError(
                "bad_param",
                f"padding 'same' needs an odd kernel; kernel_size is {format_value(p['kernel_size'])}",
            )
    if c % g or out % g:
        divisors = [x for x in range(min(g, c, out), 0, -1) if c % x == 0 and out % x == 0]
        best = divisors[0] if divisors else 1
        which = f"in_channels {c}" if c % g else f"out_channels {out}"
        raise ShapeError(
            "groups",
            f"groups {g} does not divide {which}",
            [_set("groups", best, f"Set groups to {best}")],
        )
    ph, pw = _conv_padding(p)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        kh_keep, kw_keep = pair(keep)
        raise ShapeError(
            "kernel_too_large",
            f"kernel {eh}x{ew} is larger than its padded input {h + 2 * ph}x{w + 2 * pw}",
            [_set("padding", keep, f"Set padding to {format_value(keep)} (keeps the size)")]
            if keep != _hw((ph, pw)) and eh <= h + 2 * kh_keep and ew <= w + 2 * kw_keep
            else [],
        )
    ho, wo = _spatial(h, kh, sh, ph, dh), _spatial(w, kw, sw, pw, dw)
    if ho <= 0 or wo <= 0:
        raise ShapeError("zero_size", f"output size reaches zero (input {h}x{w})")
    return (out, ho, wo)


def _kernel_area(p: dict) -> int:
    kh, kw = pair(p["kernel_size"])
    return kh * kw


register(
    LayerType(
        "Conv2d",
        "convolution",
        "2-D convolution; in_channels comes from the incoming edge.",
        (
            P("out_channels", "int", 64, 1, doc="number of filters"),
            P("kernel_size", "int", 3, 1, 31, doc="a number, or height x width such as 1x7", pair=True),
            P("stride", "int", 1, 1, 32, doc="a number, or height x width", pair=True),
            P(
                "padding",
                "int_or_same",
                1,
                0,
                64,
                doc="a number, height x width such as 0x3, 'same' or 'valid'",
                pair=True,
            ),
            P("dilation", "int", 1, 1, 32, doc="a number, or height x width", pair=True),
            P("groups", "int", 1, 1, doc="grouped convolution (ResNeXt's cardinality)"),
            P("bias", "bool", False),
            P(
                "init",
                "choice",
                "kaiming_fan_out",
                choices=("kaiming_fan_out", "kaiming_fan_in", "torch_default"),
                doc="weight initialisation",
            ),
            P("bias_init", "float", 0.0, doc="initial bias (highway gates use -2)"),
        ),
        shape=_conv_shape,
        count_params=lambda p, ins, out: (
            out[0] * (ins[0][0] // p["groups"]) * _kernel_area(p) + (out[0] if p["bias"] else 0)
        ),
        macs=lambda p, ins, out: prod(out) * (ins[0][0] // p["groups"]) * _kernel_area(p),
        module=lambda p, ins: ModuleSpec(
            "nn.Conv2d",
            (ins[0][0], p["out_channels"]),
            {
                "kernel_size": p["kernel_size"],
                "stride": p["stride"],
                "padding": p["padding"],
                "dilation": p["dilation"],
                "groups": p["groups"],
                "bias": p["bias"],
            },
        ),
        init="conv",
        fix_name="proj_conv",  # inserted by a fix: the projection's 1x1 conv
        key_params=("kernel_size", "out_channels", "stride", "groups"),
        pads_to_keep_size=True,
        saves=_input,
    )
)


def _channel_conv_shape(p: dict, ins: list[Shape]) -> Shape:
    c, h, w = _image(ins[0])
    k = p["kernel_size"]
    if (h, w) != (1, 1):
        raise ShapeError(
            "expects_pooled",
            f"slides over the channels of a pooled Cx1x1 tensor, but its input is {_fmt(ins[0])}",
            [Fix("Insert AdaptiveAvgPool2d before it", InsertBeforeFix(type="AdaptiveAvgPool2d"))],
        )
    if k % 2 == 0:
        raise ShapeError(
            "bad_param",
            f"kernel_size {k} is even; only an odd kernel keeps the {c} channels",
            [_set("kernel_size", k + 1, f"Set kernel_size to {k + 1}")],
        )
    return ins[0]


register(
    LayerType(
        "ChannelConv1d",
        "convolution",
        "ECA-Net's channel attention conv: one 1-D filter sliding over the channels of a Cx1x1 tensor "
        "(their global averages), zero-padded so that C stays C; a Sigmoid after it gates a Multiply.",
        (
            P("kernel_size", "int", 3, 1, 31, doc="odd: how many neighbouring channels each one sees"),
            P("bias", "bool", False),
        ),
        shape=_channel_conv_shape,
        count_params=lambda p, ins, out: p["kernel_size"] + (1 if p["bias"] else 0),
        macs=lambda p, ins, out: out[0] * p["kernel_size"],
        module=lambda p, ins: ModuleSpec(
            "ChannelConv1d", (), {"kernel_size": p["kernel_size"], "bias": p["bias"]}
        ),
        init="torch",  # torch's default, as timm's and ECA-Net's inits (they touch only Conv2d)
        key_params=("kernel_size",),
        saves=_input,
    )
)


# ---------------------------------------------------------------- normalization
def _affine_count(key: str):
    return lambda p, ins, out: 2 * ins[0][0] if p[key] else 0


register(
    LayerType(
        "BatchNorm2d",
        "normalization",
        "Batch normalization over each channel.",
        (
            P("eps", "float", 1e-5, 0),
            P("momentum", "float", 0.1, 0, 1),
            P("affine", "bool", True),
            P("zero_init", "bool", False, doc="start the scale at 0 (zero_init_residual)"),
        ),
        shape=lambda p, ins: _image(ins[0]) and ins[0],
        count_params=_affine_count("affine"),
        macs=lambda p, ins, out: 2 * prod(out),
        module=lambda p, ins: ModuleSpec(
            "nn.BatchNorm2d",
            (ins[0][0],),
            {"eps": p["eps"], "momentum": p["momentum"], "affine": p["affine"]},
        ),
        init="norm",
        fix_name="proj_bn",  # inserted by a fix: the projection's BatchNorm
        aliases=("BatchNorm",),
        saves=_input,
    )
)


def _gn_shape(p: dict, ins: list[Shape]) -> Shape:
    c = _image(ins[0])[0]
    g = p["num_groups"]
    if c % g:
        best = _largest_divisor(c, g)
        raise ShapeError(
            "groups",
            f"num_groups {g} does not divide the {c} input channels",
            [_set("num_groups", best, f"Set num_groups to {best}")],
        )
    return ins[0]


register(
    LayerType(
        "GroupNorm",
        "normalization",
        "Group normalization (Wu and He): channels in groups, batch-independent.",
        (P("num_groups", "int", 32, 1), P("eps", "float", 1e-5, 0), P("affine", "bool", True)),
        shape=_gn_shape,
        count_params=_affine_count("affine"),
        macs=lambda p, ins, out: 2 * prod(out),
        module=lambda p, ins: ModuleSpec(
            "nn.GroupNorm", (p["num_groups"], ins[0][0]), {"eps": p["eps"], "affine": p["affine"]}
        ),
        init="norm",
        key_params=("num_groups",),
        saves=_input,
    )
)


def _normalized(p: dict, ins: list[Shape]) -> list[int]:
    """The sizes a LayerNorm normalises over: the whole sample, or its last ``last_dims`` axes."""
    n = p.get("last_dims")
    n = getattr(n, "value", n)  # the code generator passes whole numbers as symbolic values (.value)
    return list(ins[0]) if n is None else list(ins[0][len(ins[0]) - n :])


def _layernorm_shape(p: dict, ins: list[Shape]) -> Shape:
    n = p.get("last_dims")
    if n is not None and n > len(ins[0]):
        raise ShapeError(
            "bad_param",
            f"normalises over the last {n} axes but its input {_fmt(ins[0])} has {len(ins[0])}",
            [_set("last_dims", None, "Normalise over the whole sample")],
        )
    return ins[0]


register(
    LayerType(
        "LayerNorm",
        "normalization",
        "Layer normalization over the whole per-sample shape, or over its last axes (channels last).",
        (
            P("eps", "float", 1e-5, 0),
            P("elementwise_affine", "bool", True),
            P(
                "last_dims",
                "opt_int",
                None,
                1,
                3,
                doc="normalise over the last n axes; empty = the whole sample",
            ),
        ),
        shape=_layernorm_shape,
        count_params=lambda p, ins, out: 2 * prod(_normalized(p, ins)) if p["elementwise_affine"] else 0,
        macs=lambda p, ins, out: 2 * prod(out),
        module=lambda p, ins: ModuleSpec(
            "nn.LayerNorm",
            (_normalized(p, ins),),
            {"eps": p["eps"], "elementwise_affine": p["elementwise_affine"]},
        ),
        init="torch",  # torch's own: weight 1, bias 0 (docs/decisions.md, issue 23)
        saves=_input,
    )
)

register(
    LayerType(
        "LayerNorm2d",
        "normalization",
        "LayerNorm over the channels at each position of an image (ConvNeXt).",
        (P("eps", "float", 1e-6, 0), P("elementwise_affine", "bool", True)),
        shape=lambda p, ins: _image(ins[0]) and ins[0],
        count_params=_affine_count("elementwise_affine"),
        macs=lambda p, ins, out: 2 * prod(out),
        module=lambda p, ins: ModuleSpec(
            "LayerNorm2d", (ins[0][0],), {"eps": p["eps"], "elementwise_affine": p["elementwise_affine"]}
        ),
        init="torch",  # torch's own: weight 1, bias 0 (docs/decisions.md, issue 23)
        saves=lambda p, ins, out: prod(ins[0]) + 2 * prod(ins[0][1:]),  # a permuted copy, per-position stats
    )
)


def _instance_norm_shape(p: dict, ins: list[Shape]) -> Shape:
    _c, h, w = _image(ins[0])
    if h * w == 1:  # torch refuses: "Expected more than 1 spatial element when training"
        raise ShapeError(
            "too_small",
            f"normalises over each channel's positions, but its input {_fmt(ins[0])} has only one position",
        )
    return ins[0]


register(
    LayerType(
        "InstanceNorm2d",
        "normalization",
        "Instance normalization: each sample and channel on its own.",
        (P("eps", "float", 1e-5, 0), P("affine", "bool", False), P("track_running_stats", "bool", False)),
        shape=_instance_norm_shape,
        count_params=_affine_count("affine"),
        macs=lambda p, ins, out: 2 * prod(out),
        module=lambda p, ins: ModuleSpec(
            "nn.InstanceNorm2d",
            (ins[0][0],),
            {"eps": p["eps"], "affine": p["affine"], "track_running_stats": p["track_running_stats"]},
        ),
        init="torch",  # torch's own: weight 1, bias 0 (docs/decisions.md, issue 23)
        saves=_input,
    )
)


# ---------------------------------------------------------------- activations
def _activation(
    name: str,
    doc: str,
    params: tuple = (),
    kwargs=lambda p: {},
    saturates: tuple[float, float] | None = None,
) -> None:
    register(
        LayerType(
            name,
            "activation",
            doc,
            params,
            shape=_same,
            module=lambda p, ins: ModuleSpec(f"nn.{name}", (), kwargs(p)),
            saves=_output,  # its input or its result: one of them, the same size
            saturates=saturates,
        )
    )


_activation(
    "ReLU",
    "Rectified linear unit, max(0, x).",
    (P("inplace", "bool", True),),
    lambda p: {"inplace": p["inplace"]},
)
_activation(
    "LeakyReLU",
    "Leaky ReLU with a small negative slope.",
    (P("negative_slope", "float", 0.01, 0, 1), P("inplace", "bool", False)),
    lambda p: {"negative_slope": p["negative_slope"], "inplace": p["inplace"]},
)
_activation("GELU", "Gaussian error linear unit.")
_activation(
    "SiLU",
    "Sigmoid linear unit (swish).",
    (P("inplace", "bool", False),),
    lambda p: {"inplace": p["inplace"]},
)
_activation(
    "Sigmoid", "Logistic sigmoid; gates in squeeze-excitation and highway nets.", saturates=(0.01, 0.99)
)
_activation("Tanh", "Hyperbolic tangent.", saturates=(-0.99, 0.99))
_activation(
    "Mish",
    "Mish, x * tanh(softplus(x)) (YOLOv4; a smooth ReLU).",
    (P("inplace", "bool", False),),
    lambda p: {"inplace": p["inplace"]},
)
_activation(
    "ReLU6",
    "ReLU clipped at 6, min(max(0, x), 6) (MobileNetV2).",
    (P("inplace", "bool", False),),
    lambda p: {"inplace": p["inplace"]},
)
_activation(
    "Hardswish",
    "Hard swish, x * ReLU6(x + 3) / 6 (MobileNetV3).",
    (P("inplace", "bool", False),),
    lambda p: {"inplace": p["inplace"]},
)
_activation(
    "Hardsigmoid",
    "Hard sigmoid, ReLU6(x + 3) / 6; gates of MobileNetV3's squeeze-excitation.",
    (P("inplace", "bool", False),),
    lambda p: {"inplace": p["inplace"]},
    saturates=(0.01, 0.99),
)


# ---------------------------------------------------------------- pooling
def _pool_shape(p: dict, ins: list[Shape]) -> Shape:
    c, h, w = _image(ins[0])
    k = p["kernel_size"]
    s = p["stride"] or k
    pad = p["padding"]
    if pad * 2 > k:
        raise ShapeError(
            "bad_param",
            f"padding {pad} is more than half the window {k}",
            [_set("padding", k // 2, f"Set padding to {k // 2}")],
        )
    if k > h + 2 * pad or k > w + 2 * pad:
        fit = min(h, w) + 2 * pad
        raise ShapeError(
            "kernel_too_large",
            f"window {k}x{k} is larger than its input {h}x{w}",
            [_set("kernel_size", fit, f"Set kernel_size to {fit}")],
        )
    ceil = p.get("ceil_mode", False)
    ho, wo = _spatial(h, k, s, pad, 1, ceil), _spatial(w, k, s, pad, 1, ceil)
    if ho <= 0 or wo <= 0:
        raise ShapeError("zero_size", f"output size reaches zero (input {h}x{w})")
    return (c, ho, wo)


_POOL_PARAMS = (
    P("kernel_size", "int", 2, 1, 64),
    P("stride", "opt_int", None, 1, 64, doc="defaults to kernel_size"),
    P("padding", "int", 0, 0, 32),
    P("ceil_mode", "bool", False),
)


def _pool_module(cls: str, extra=lambda p: {}):
    return lambda p, ins: ModuleSpec(
        cls,
        (),
        {
            "kernel_size": p["kernel_size"],
            "stride": p["stride"] or p["kernel_size"],
            "padding": p["padding"],
            "ceil_mode": p["ceil_mode"],
            **extra(p),
        },
    )


register(
    LayerType(
        "MaxPool2d",
        "pooling",
        "Max pooling over a window.",
        _POOL_PARAMS,
        shape=_pool_shape,
        module=_pool_module("nn.MaxPool2d"),
        key_params=("kernel_size", "stride"),
        pads_to_keep_size=True,
        saves=_input_and_indices,
    )
)

register(
    LayerType(
        "AvgPool2d",
        "pooling",
        "Average pooling over a window.",
        _POOL_PARAMS + (P("count_include_pad", "bool", True),),
        shape=_pool_shape,
        macs=lambda p, ins, out: prod(out) * p["kernel_size"] ** 2,
        module=_pool_module("nn.AvgPool2d", lambda p: {"count_include_pad": p["count_include_pad"]}),
        key_params=("kernel_size", "stride"),
        pads_to_keep_size=True,
        saves=_input,
    )
)


def _adaptive_shape(p: dict, ins: list[Shape]) -> Shape:
    c, _h, _w = _image(ins[0])
    o = p["output_size"]
    return (c, o, o)


register(
    LayerType(
        "AdaptiveAvgPool2d",
        "pooling",
        "Average pooling to a fixed output size (1 = global average pooling).",
        (P("output_size", "int", 1, 1, 64),),
        shape=_adaptive_shape,
        macs=lambda p, ins, out: prod(ins[0]),
        module=lambda p, ins: ModuleSpec(
            "nn.AdaptiveAvgPool2d", (p["output_size"] if p["output_size"] != 1 else (1, 1),), {}
        ),
        key_params=("output_size",),
        saves=lambda p, ins, out: 0 if p["output_size"] == 1 else prod(ins[0]),  # 1: a mean
    )
)


# ---------------------------------------------------------------- reshape, linear, regularization
register(
    LayerType(
        "Flatten",
        "shape",
        "Flatten each sample to a vector (torch.flatten(x, 1)).",
        (),
        shape=lambda p, ins: (prod(ins[0]),),
        forward=lambda a, p: f"torch.flatten({a[0]}, 1)",
        in_stage=True,  # nn.Flatten() in a stage
        saves=_nothing,
        returns_input=lambda p: True,  # a view
    )
)


def _linear_shape(p: dict, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 1 and p.get("last_axis"):
        return tuple(ins[0][:-1]) + (p["out_features"],)  # on the last axis of a channels-last tensor
    if len(ins[0]) != 1:
        raise ShapeError(
            "expects_vector",
            f"expects a flat vector but its input is {_fmt(ins[0])}",
            [Fix("Insert Flatten before it", InsertBeforeFix(type="Flatten"))],
        )
    return (p["out_features"],)


register(
    LayerType(
        "Linear",
        "linear",
        "Fully connected layer; in_features comes from the incoming edge.",
        (
            P("out_features", "int", 10, 1),
            P("bias", "bool", True),
            P(
                "init",
                "choice",
                "torch_default",
                choices=("torch_default", "zero_bias", "zeros", "normal_0.01"),
                doc="torch_default; zero_bias: torch's weight, bias 0 (DenseNet); zeros; normal_0.01",
            ),
            P(
                "last_axis",
                "bool",
                False,
                doc="act on the last axis of a multi-axis input (channels last, after a Permute)",
            ),
        ),
        shape=_linear_shape,
        count_params=lambda p, ins, out: ins[0][-1] * out[-1] + (out[-1] if p["bias"] else 0),
        macs=lambda p, ins, out: ins[0][-1] * prod(out),
        module=lambda p, ins: ModuleSpec("nn.Linear", (ins[0][-1], p["out_features"]), {"bias": p["bias"]}),
        init="linear",
        key_params=("out_features",),
        saves=_input,
    )
)

register(
    LayerType(
        "Dropout",
        "regularization",
        "Randomly zeroes elements during training.",
        (P("p", "float", 0.5, 0, 1),),
        shape=_same,
        module=lambda p, ins: ModuleSpec("nn.Dropout", (), {"p": p["p"]}),
        key_params=("p",),
        saves=_dropout_saves,
        returns_input=lambda p: not p.get("p"),  # Dropout(p=0) on the CPU returns its input
    )
)


def _axes_rule(n: int, text: str) -> Callable[[dict, list[Shape]], Shape]:
    """A shape rule: the per-sample input has ``n`` axes (``text`` names them), returned as it is."""

    def shape(p: dict, ins: list[Shape]) -> Shape:
        if len(ins[0]) != n:
            raise ShapeError("expects_dims", f"expects a tensor {text} but the input is {_fmt(ins[0])}")
        return ins[0]

    return shape


def _channel_mask_saves(p: dict, ins: list[Shape], out: Shape) -> int:
    return out[0] if p["p"] > 0 else 0  # one scaled mask value per channel


for _name, _n, _text, _doc in (
    ("Dropout1d", 2, "CxL", "Randomly zeroes whole channels of a sequence during training."),
    ("Dropout2d", 3, "CxHxW", "Randomly zeroes whole channels (feature maps) during training."),
    ("Dropout3d", 4, "CxDxHxW", "Randomly zeroes whole channels of a volume during training."),
):
    register(
        LayerType(
            _name,
            "regularization",
            _doc,
            (P("p", "float", 0.5, 0, 1),),
            shape=_axes_rule(_n, _text),
            module=lambda p, ins, _cls=f"nn.{_name}": ModuleSpec(_cls, (), {"p": p["p"]}),
            key_params=("p",),
            saves=_channel_mask_saves,
            returns_input=lambda p: not p.get("p"),  # as Dropout: p=0 returns its input
        )
    )
del _name, _n, _text, _doc

register(
    LayerType(
        "AlphaDropout",
        "regularization",
        "Dropout for SELU networks: keeps the mean and variance of its input during training.",
        (P("p", "float", 0.5, 0, 1),),
        shape=_same,
        module=lambda p, ins: ModuleSpec("nn.AlphaDropout", (), {"p": p["p"]}),
        key_params=("p",),
        saves=_dropout_saves,
        returns_input=lambda p: not p.get("p"),  # as Dropout: p=0 returns its input
    )
)

register(
    LayerType(
        "DropPath",
        "regularization",
        "Stochastic depth: in training, drops a residual branch for a whole sample with probability p "
        "(the kept ones scaled by 1/(1-p)); the identity in eval mode.",
        (P("p", "float", 0.1, 0, 1),),
        shape=_same,
        module=lambda p, ins: ModuleSpec("DropPath", (p["p"],), {}),
        key_params=("p",),
        saves=lambda p, ins, out: 1,  # the per-sample mask
    )
)

register(
    LayerType(
        "Identity",
        "shape",
        "Passes its input through unchanged.",
        (),
        shape=_same,
        module=lambda p, ins: ModuleSpec("nn.Identity", (), {}),
        saves=_nothing,
    )
)


# ---------------------------------------------------------------- merges
def _num_inputs_param(default: int = 2) -> P:
    return P("num_inputs", "int", default, 2, 64, doc="number of input ports")


def _equal_shapes(p: dict, ins: list[Shape]) -> Shape:
    first = ins[0]
    for i, s in enumerate(ins[1:], start=1):
        if s != first:
            raise ShapeError(
                "shape_mismatch", f"input {i + 1} is {_fmt(s)} but input 1 is {_fmt(first)}", port=i
            )
    return first


def _add_forward(args: list[str], p: dict) -> str:
    if p["weights"] == "none":
        return " + ".join(args)
    if p["weights"] == "fixed":
        ws = p["weight_values"]
        return " + ".join(f"{ws[i] if i < len(ws) else 1.0!r} * {a}" for i, a in enumerate(args))
    return " + ".join(f"self.{{attr}}[{i}] * {a}" for i, a in enumerate(args))


def _add_shape(p: dict, ins: list[Shape]) -> Shape:
    if p["weights"] == "fixed" and len(p["weight_values"]) != len(ins):
        n = len(ins)
        raise ShapeError(
            "bad_param",
            f"weight_values has {len(p['weight_values'])} number(s) for {n} inputs",
            [_set("weight_values", [1.0] * n, f"Set weight_values to {n} ones")],
        )
    return _equal_shapes(p, ins)


register(
    LayerType(
        "Add",
        "merge",
        "Element-wise sum (the residual addition); optionally weighted per input.",
        (
            _num_inputs_param(),
            P(
                "weights",
                "choice",
                "none",
                choices=("none", "fixed", "learnable"),
                doc="weighted residuals: fixed or learnable per-input scalars",
            ),
            P("weight_values", "floats", [1.0, 1.0], doc="fixed weights, or initial learnable weights"),
        ),
        shape=_add_shape,
        inputs="num_inputs",
        count_params=lambda p, ins, out: len(ins) if p["weights"] == "learnable" else 0,
        macs=lambda p, ins, out: prod(out) * (len(ins) - 1),
        forward=_add_forward,
        init="weight_values",
        key_params=("weights",),
        saves=_weighted_add_saves,
    )
)


def _concat_shape(p: dict, ins: list[Shape]) -> Shape:
    first = _image(ins[0], "input 1") if len(ins[0]) != 1 else ins[0]
    for i, s in enumerate(ins[1:], start=1):
        if len(s) != len(first) or s[1:] != first[1:]:
            raise ShapeError(
                "concat_mismatch",
                f"input {i + 1} is {_fmt(s)} but input 1 is {_fmt(first)}; "
                "all but the channel size must match",
                port=i,
            )
    return (sum(s[0] for s in ins),) + tuple(first[1:])


register(
    LayerType(
        "Concat",
        "merge",
        "Concatenate along channels (DenseNet).",
        (_num_inputs_param(),),
        shape=_concat_shape,
        inputs="num_inputs",
        forward=lambda a, p: f"torch.cat([{', '.join(a)}], 1)",
        saves=_nothing,
    )
)


def _broadcast(ins: list[Shape]) -> Shape:
    """Broadcast per-sample shapes of one rank. Shapes of different ranks are refused: with the batch
    dimension in front, torch would line the shorter one's batch up with a sample dimension
    ((B, 8, 4, 4) * (B, 8) fails, (B, 1, 1, 1) * (B, 1) silently makes (B, 1, B, 1))."""
    ranks = {len(s) for s in ins}
    if len(ranks) > 1:
        port = next(i for i, s in enumerate(ins) if len(s) != len(ins[0]))
        raise ShapeError(
            "shape_mismatch",
            "inputs cannot broadcast: "
            + " and ".join(_fmt(s) for s in ins)
            + " have different ranks, so the batch dimension would not line up",
            port=port,
        )
    rank = max(len(s) for s in ins)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in ins]
    out = []
    for dims in zip(*padded, strict=True):
        big = max(dims)
        if any(d not in (1, big) for d in dims):
            # the first input that cannot broadcast with the ones before it names the edge to fix
            port = next((i for i in range(1, len(ins)) if not _broadcastable(ins[: i + 1])), None)
            raise ShapeError(
                "shape_mismatch", "inputs cannot broadcast: " + " and ".join(_fmt(s) for s in ins), port=port
            )
        out.append(big)
    return tuple(out)


def _broadcastable(ins: list[Shape]) -> bool:
    rank = max(len(s) for s in ins)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in ins]
    return all(all(d in (1, max(dims)) for d in dims) for dims in zip(*padded, strict=True))


register(
    LayerType(
        "Multiply",
        "merge",
        "Element-wise product with broadcasting (squeeze-excitation gates).",
        (_num_inputs_param(),),
        shape=lambda p, ins: _broadcast(ins),
        inputs="num_inputs",
        macs=lambda p, ins, out: prod(out) * (len(ins) - 1),
        forward=lambda a, p: " * ".join(a),
        mismatch_note="they cannot broadcast",
        saves=_inputs,
    )
)


def _gate_shape(p: dict, ins: list[Shape]) -> Shape:
    h, t, x = ins
    if h != x:
        raise ShapeError("shape_mismatch", f"carry input x is {_fmt(x)} but transform h is {_fmt(h)}", port=2)
    try:
        fits = _broadcast([h, t]) == h
    except ShapeError:
        fits = False
    if not fits:
        raise ShapeError("shape_mismatch", f"gate t is {_fmt(t)} and cannot broadcast to {_fmt(h)}", port=1)
    return h


register(
    LayerType(
        "Gate",
        "merge",
        "Highway gate: t * h + (1 - t) * x, with t in [0, 1] (feed it from a Sigmoid).",
        (),
        shape=_gate_shape,
        inputs=3,
        input_names=("h", "t", "x"),
        shortcut_meets=0,  # a shortcut into a Gate meets the transform h
        saves=_gate_saves,
        macs=lambda p, ins, out: 3 * prod(out),
        forward=lambda a, p: f"{a[1]} * {a[0]} + (1 - {a[1]}) * {a[2]}",
    )
)


def _slice_shape(p: dict, ins: list[Shape]) -> Shape:
    c = ins[0][0]
    start = p["start"]
    stop = c if p["stop"] is None else (p["stop"] if p["stop"] >= 0 else c + p["stop"])
    if not 0 <= start < stop <= c:
        raise ShapeError(
            "bad_slice",
            f"channels {start}:{p['stop']} are outside the input's {c} channels",
            [_set("stop", None, "Slice to the last channel")] if start < c else [],
        )
    return (stop - start,) + tuple(ins[0][1:])


def _slice_forward(a: list[str], p: dict) -> str:
    stop = "" if p["stop"] is None else str(p["stop"])
    return f"{a[0]}[:, {p['start']}:{stop}]"


def _shuffle_shape(p: dict, ins: list[Shape]) -> Shape:
    c, _h, _w = _image(ins[0])
    g = p["groups"]
    if c % g:
        fit = _largest_divisor(c, g)
        raise ShapeError(
            "bad_param",
            f"{c} channels do not split into {g} groups",
            [_set("groups", fit, f"Set groups to {fit}")],
        )
    return ins[0]


register(
    LayerType(
        "ChannelShuffle",
        "shape",
        "Interleave the channels of its groups (ShuffleNet): view as groups x channels, transpose, flatten.",
        (P("groups", "int", 2, 1),),
        shape=_shuffle_shape,
        module=lambda p, ins: ModuleSpec("nn.ChannelShuffle", (p["groups"],), {}),
        key_params=("groups",),
        saves=_nothing,
    )
)

register(
    LayerType(
        "ChannelSlice",
        "shape",
        "Take channels start:stop (dual path nets split residual and dense parts).",
        (P("start", "int", 0, 0), P("stop", "opt_int", None, -(1 << 20), doc="empty = to the end")),
        shape=_slice_shape,
        forward=_slice_forward,
        key_params=("start", "stop"),
        saves=_nothing,
    )
)


def _channel_pad_shape(p: dict, ins: list[Shape]) -> Shape:
    c, h, w = _image(ins[0])
    s = p["stride"]
    return (c + p["before"] + p["after"], -(-h // s), -(-w // s))


def _channel_pad_forward(a: list[str], p: dict) -> str:
    s = p["stride"]
    x = a[0] if s == 1 else f"{a[0]}[:, :, ::{s}, ::{s}]"
    return f"F.pad({x}, (0, 0, 0, 0, {p['before']}, {p['after']}))"


register(
    LayerType(
        "ChannelPad",
        "shape",
        "Every stride-th row and column, zero channels added before and after: the option A shortcut as "
        "often written, F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p)).",
        (P("stride", "int", 1, 1), P("before", "int", 0, 0), P("after", "int", 0, 0)),
        shape=_channel_pad_shape,
        forward=_channel_pad_forward,
        key_params=("stride", "before", "after"),
        saves=_nothing,
    )
)


def _unflatten_shape(p: dict, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 1:
        raise ShapeError("expects_vector", f"expects a vector of C values but the input is {_fmt(ins[0])}")
    return (ins[0][0], 1, 1)


register(
    LayerType(
        "Unflatten",
        "shape",
        "A vector of C values as a Cx1x1 image, e.g. a squeeze-and-excitation gate's weights before the "
        "product: y.view(b, c, 1, 1).",
        (),
        shape=_unflatten_shape,
        forward=lambda a, p: f"torch.unflatten({a[0]}, 1, (-1, 1, 1))",
        saves=_nothing,
    )
)

# ---------------------------------------------------------------- channels last (ConvNeXt)
PERMUTATIONS = ("0,2,3,1", "0,3,1,2", "0,1,3,2", "0,2,1,3", "0,3,2,1")  # of (B, C, H, W); 0 stays


def _dims(p: dict) -> list[int]:
    return [int(d) for d in p["dims"].split(",")]


def _permute_shape(p: dict, ins: list[Shape]) -> Shape:
    if len(ins[0]) != 3:
        raise ShapeError(
            "expects_image", f"permutes the axes of a 3-axis sample but its input is {_fmt(ins[0])}"
        )
    return tuple(ins[0][d - 1] for d in _dims(p)[1:])


def _group_sum_shape(p: dict, ins: list[Shape]) -> Shape:
    c, h, w = _image(ins[0])
    g = p["groups"]
    if c % g:
        fit = _largest_divisor(c, g)
        raise ShapeError(
            "groups",
            f"{c} channels do not split into {g} equal groups",
            [_set("groups", fit, f"Set groups to {fit}")] if fit > 1 else [],
        )
    return (c // g, h, w)


register(
    LayerType(
        "Permute",
        "shape",
        "Reorder the axes, such as (B, C, H, W) -> (B, H, W, C) for channels-last layers (ConvNeXt).",
        (P("dims", "choice", "0,2,3,1", choices=PERMUTATIONS, doc="the new order of the axes (B, C, H, W)"),),
        shape=_permute_shape,
        module=lambda p, ins: ModuleSpec("Permute", (_dims(p),), {}),
        key_params=("dims",),
        saves=_nothing,
    )
)


register(
    LayerType(
        "GroupSum",
        "shape",
        "Sum of the input's equal channel groups (ResNeSt's split attention adds its radix groups): "
        "groups x C channels in, C out.",
        (P("groups", "int", 2, 2, doc="how many consecutive channel groups are added"),),
        shape=_group_sum_shape,
        macs=lambda p, ins, out: prod(out) * (p["groups"] - 1),
        forward=lambda a, p: f"torch.sum(torch.unflatten({a[0]}, 1, ({p['groups']}, -1)), 1)",
        key_params=("groups",),
        saves=_nothing,
    )
)


def _layer_scale_shape(p: dict, ins: list[Shape]) -> Shape:
    _image(ins[0])
    return ins[0]


def _layer_scale_forward(a: list[str], p: dict) -> str:
    x, w = a
    return f"{w} * {x}" if p["weight_shape"] == "C,1,1" else f"{x} * {w}.reshape(1, -1, 1, 1)"


register(
    LayerType(
        "LayerScale",
        "normalization",
        "A learnable scale per channel, starting small (ConvNeXt's layer_scale, timm's gamma); a parameter "
        "of its block, named as the node.",
        (
            P("init_value", "float", 1e-6, doc="every channel's initial scale"),
            P(
                "weight_shape",
                "choice",
                "C,1,1",
                choices=("C,1,1", "C"),
                doc="C,1,1 (torchvision) or C, reshaped in forward (timm)",
            ),
        ),
        shape=_layer_scale_shape,
        count_params=lambda p, ins, out: ins[0][0],
        macs=lambda p, ins, out: prod(out),
        forward=_layer_scale_forward,
        parameter=lambda p, ins: ParameterSpec(
            (ins[0][0], 1, 1) if p["weight_shape"] == "C,1,1" else (ins[0][0],), p["init_value"]
        ),
        init="weight_values",  # starts at init_value, set in its constructor
        key_params=("init_value",),
        saves=_input,  # for the scale's gradient
    )
)


def _radix_softmax_shape(p: dict, ins: list[Shape]) -> Shape:
    c, _h, _w = _image(ins[0])
    r, card = p["radix"], p["cardinality"]
    if c % (r * card):
        fixes = [_set("cardinality", 1, "Set cardinality to 1")] if card != 1 and c % r == 0 else []
        raise ShapeError(
            "groups", f"{c} channels do not split into cardinality {card} x radix {r} groups", fixes
        )
    return ins[0]


register(
    LayerType(
        "RadixSoftmax",
        "activation",
        "Split-attention weights (ResNeSt, SKNet): a softmax across the radix groups of each channel "
        "(channels in as cardinality x radix x C', out radix first, as the GroupSum after the product "
        "expects).",
        (
            P("radix", "int", 2, 2, doc="how many groups share each channel's softmax"),
            P("cardinality", "int", 1, 1, doc="ResNeXt-style groups, each with its own radix groups"),
        ),
        shape=_radix_softmax_shape,
        module=lambda p, ins: ModuleSpec(
            "RadixSoftmax", (), {"radix": p["radix"], "cardinality": p["cardinality"]}
        ),
        key_params=("radix",),
        saves=lambda p, ins, out: prod(out),  # softmax keeps its result (before the reshape's copy)
    )
)
