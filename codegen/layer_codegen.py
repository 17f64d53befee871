"""Code generation's part of each layer type, declared once, keyed by the registry's type name.

graph/layers.py declares a type's data (parameters, shape rule, the module it
builds); this table declares what code generation and import need beyond that:

- ``torch_defaults``: keyword arguments of the module's constructor that
  equal PyTorch's defaults and are left out of the code, as torchvision leaves
  them out (checked against torch's signatures in the tests);
- ``channels``: the output channel count as a symbolic expression
  (codegen/symbolic.py) of the node's parameters and input shapes, for block
  classes whose sizes follow their arguments; None: the first input's;
- ``axis``: where the channel axis goes (a Permute: ``(params, axis) -> axis``, per-sample
  axes); None: where it was. Channels-last layers (LayerNorm over the last axis, Linear on
  the last axis) act on the channel axis wherever it is;
- ``writes_last_axis``: the ``channels`` rule gives the size of the last axis (Linear), so
  where the channel axis is another one it keeps its size;
- ``inplace_safe``: autograd does not keep the output for the backward pass,
  so ``out += identity`` may overwrite it;
- ``aliases_input``: the output may share memory with the input (a view,
  Identity, Dropout in eval mode), so an in-place layer after it must not
  overwrite it while the input is still needed;
- ``fx_modules`` / ``from_module``: the torch module classes that
  ``import`` (codegen/fx_import.py) turns into this type, and how their
  attributes become the type's parameters (raises ``Unsupported``);
- ``helper``: the class torch lacks that the type's module is (``LayerNorm2d``):
  its text, its place among a generated file's helper classes, how ``import``
  reads it back (:class:`HelperClass`; codegen/helpers.py gathers them).

Adding a layer type means one entry here (tests/test_layer_types.py walks
every registered type and fails on a missing one; :func:`missing` lists them).
Imports no torch at module level (a ``from_module`` receives a live module).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from codegen.symbolic import Sym


class Unsupported(Exception):
    """An operation with no Skipwire equivalent; the message says why."""


# ``channels(params, in_shapes, out_channels)``: params and shapes hold Syms; out_channels is
# the representative instance's number (for rules that can only pick among the inputs)
ChannelRule = Callable[[dict, list[tuple], int], Sym]
FromModule = Callable[[Any, tuple | None], dict]


@dataclass(frozen=True)
class HelperClass:
    """A class torch lacks that the generated code defines (``LayerNorm2d``), declared with its type.

    ``source``: the class's text. ``rank``: where it goes among the helper classes of a generated
    file (lower first; a new one takes the next number, so existing files keep their order).
    ``inputs``: what its ``from_module`` gets when ``import`` meets the class as a traced leaf:
    ``"first"`` (the first input's shape) or ``"all"`` (every input's, a merge). ``torch_base``:
    the torch class it must subclass to be imported (``"LayerNorm"``: a LayerNorm2d that is not an
    ``nn.LayerNorm`` is not what Skipwire writes); None: any."""

    name: str
    source: str
    rank: int
    inputs: str = "first"
    torch_base: str | None = None


@dataclass(frozen=True)
class TypeCodegen:
    """What code generation knows about one layer type."""

    type: str
    torch_defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    channels: ChannelRule | None = None  # None: the first input's channels
    axis: Callable[[dict, int], int] | None = None  # where the channel axis goes; None: where it was
    writes_last_axis: bool = False  # ``channels`` is the last axis's size, whichever axis is the channels
    inplace_safe: bool = False
    aliases_input: bool = False
    fx_modules: tuple[str, ...] = ()  # "nn.Conv2d", or a helper class name ("LayerNorm2d")
    from_module: FromModule | None = None
    helper: HelperClass | None = None  # the class torch lacks that its module is (codegen/helpers.py)

    def out_channels(self, params: dict, ins: list[tuple], out_channels: int, axis: int = 0) -> Sym:
        """The output's channel count; ``axis``: where the channels are in the (first) input."""
        if self.channels is None or (self.writes_last_axis and axis != len(ins[0]) - 1):
            return ins[0][axis]
        return self.channels(params, ins, out_channels)

    def out_axis(self, params: dict, axis: int, out_rank: int) -> int:
        """Where the channels are in the output, given where they are in the input."""
        if self.axis is not None:
            return self.axis(params, axis)
        return axis if axis < out_rank else 0


def _frozen(d: dict[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


# ---------------------------------------------------------------------------- channel rules
def _input_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    return Sym.const(out)


def _block_input_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    return Sym(("name", "in_channels"), out)


def _concat_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    total = ins[0][0]
    for s in ins[1:]:
        total = total + s[0]
    return total


def _slice_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    c, start, stop = ins[0][0], p["start"], p["stop"]
    if stop is None:
        return c - start
    return stop - start if stop >= 0 else c + stop - start


def _flatten_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    total = ins[0][0]
    for d in ins[0][1:]:
        total = total * d
    return total


def _broadcast_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    """A broadcasting product has the channels of whichever input is not 1 there."""
    return next((s[0] for s in ins if s[0].value == out), Sym(None, out))


# ---------------------------------------------------------------------------- fx import
def square(value: Any, what: str) -> int:
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise Unsupported(f"non-square {what} {tuple(value)}")
        value = value[0]
    if not isinstance(value, int):
        raise Unsupported(f"{what} {value!r}")
    return value


def hw(value: Any, what: str) -> int | list[int]:
    """A size that may differ between height and width (ParamSpec.pair): a number where both are
    equal, else [height, width] (a 1x7 kernel), as the project file stores it."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise Unsupported(f"{what} {tuple(value)}")
        return value[0] if value[0] == value[1] else [value[0], value[1]]
    return square(value, what)


def _conv_from(mod: Any, in_shape: tuple | None) -> dict:
    if mod.padding_mode != "zeros":
        raise Unsupported(f"padding_mode {mod.padding_mode!r}")
    pad = mod.padding if isinstance(mod.padding, str) else hw(mod.padding, "padding")
    return {
        "out_channels": mod.out_channels,
        "kernel_size": hw(mod.kernel_size, "kernel_size"),
        "stride": hw(mod.stride, "stride"),
        "padding": pad,
        "dilation": hw(mod.dilation, "dilation"),
        "groups": mod.groups,
        "bias": mod.bias is not None,
    }


def _channel_conv_from(mod: Any, in_shape: tuple | None) -> dict:
    """A Conv1d with one input and one output channel, sliding over the channels (ECA-Net's EcaModule),
    or Skipwire's ChannelConv1d: the padding keeps the length, nothing else is set."""
    from torch import nn

    if not isinstance(mod, nn.Conv1d):
        raise Unsupported(f"a {type(mod).__name__} that is not an nn.Conv1d")
    k = square(mod.kernel_size, "kernel_size")
    if (mod.in_channels, mod.out_channels) != (1, 1):
        raise Unsupported(
            f"has no Skipwire layer type for Conv1d({mod.in_channels}, {mod.out_channels}) (only for "
            "one channel in and out, sliding over the channels as in ECA-Net)"
        )
    if mod.padding_mode != "zeros":
        raise Unsupported(f"padding_mode {mod.padding_mode!r}")
    pad = mod.padding if isinstance(mod.padding, str) else square(mod.padding, "padding")
    if k % 2 == 0 or pad not in ((k - 1) // 2, "same"):
        raise Unsupported(
            f"Conv1d with kernel_size {k} and padding {pad!r} (only an odd kernel padded to keep C)"
        )
    if square(mod.stride, "stride") != 1 or square(mod.dilation, "dilation") != 1 or mod.groups != 1:
        raise Unsupported("Conv1d with stride, dilation or groups")
    return {"kernel_size": k, "bias": mod.bias is not None}


def _batchnorm_from(mod: Any, in_shape: tuple | None) -> dict:
    if mod.momentum is None or not mod.track_running_stats:
        raise Unsupported("BatchNorm2d without running statistics or with momentum=None")
    return {"eps": mod.eps, "momentum": mod.momentum, "affine": mod.affine}


def _groupnorm_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"num_groups": mod.num_groups, "eps": mod.eps, "affine": mod.affine}


def _layernorm_from(mod: Any, in_shape: tuple | None) -> dict:
    """Over the whole sample, or over its last axes (channels last: ConvNeXt's LayerNorm(C) after a
    Permute to (H, W, C))."""
    over = tuple(mod.normalized_shape)
    if mod.elementwise_affine and getattr(mod, "bias", True) is None:
        raise Unsupported("LayerNorm without bias")
    params = {"eps": mod.eps, "elementwise_affine": mod.elementwise_affine}
    if in_shape is None or over == tuple(in_shape):
        return params
    if len(over) < len(in_shape) and tuple(in_shape[len(in_shape) - len(over) :]) == over:
        return {**params, "last_dims": len(over)}
    raise Unsupported(f"LayerNorm over {over}, neither the whole sample {tuple(in_shape)} nor its last axes")


def _layernorm2d_from(mod: Any, in_shape: tuple | None) -> dict:
    if in_shape is None or tuple(mod.normalized_shape) != tuple(in_shape[:1]):
        raise Unsupported("a LayerNorm2d over something other than the channels")
    return {"eps": mod.eps, "elementwise_affine": mod.elementwise_affine}


def _instancenorm_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"eps": mod.eps, "affine": mod.affine, "track_running_stats": mod.track_running_stats}


def _inplace_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"inplace": mod.inplace}


def _leaky_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"negative_slope": mod.negative_slope, "inplace": mod.inplace}


def _gelu_from(mod: Any, in_shape: tuple | None) -> dict:
    if mod.approximate != "none":
        raise Unsupported(f"GELU(approximate={mod.approximate!r})")
    return {}


def _no_params(mod: Any, in_shape: tuple | None) -> dict:
    return {}


def _pool_from(mod: Any, in_shape: tuple | None) -> dict:
    k = square(mod.kernel_size, "kernel_size")
    s = square(mod.stride, "stride") if mod.stride is not None else k
    return {
        "kernel_size": k,
        "stride": s,
        "padding": square(mod.padding, "padding"),
        "ceil_mode": mod.ceil_mode,
    }


def _maxpool_from(mod: Any, in_shape: tuple | None) -> dict:
    if square(mod.dilation, "dilation") != 1 or mod.return_indices:
        raise Unsupported("MaxPool2d with dilation or return_indices")
    return _pool_from(mod, in_shape)


def _avgpool_from(mod: Any, in_shape: tuple | None) -> dict:
    if mod.divisor_override is not None:
        raise Unsupported("AvgPool2d with divisor_override")
    return {**_pool_from(mod, in_shape), "count_include_pad": mod.count_include_pad}


def _adaptive_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"output_size": square(mod.output_size, "output_size")}


def _linear_from(mod: Any, in_shape: tuple | None) -> dict:
    params = {"out_features": mod.out_features, "bias": mod.bias is not None}
    if in_shape is not None and len(in_shape) > 1:
        return {**params, "last_axis": True}  # on the channels of a channels-last tensor
    return params


def _permute_from(mod: Any, in_shape: tuple | None) -> dict:
    """torchvision's Permute (or Skipwire's): ``dims`` of the whole (B, C, H, W) tensor."""
    from graph.layers import PERMUTATIONS

    dims = ",".join(str(int(d)) for d in getattr(mod, "dims", ()))
    if dims not in PERMUTATIONS:
        raise Unsupported(f"a permutation {dims or '?'} (only of the axes of an image tensor, batch first)")
    return {"dims": dims}


def _permute_axis(p: dict, axis: int) -> int:
    """Where per-sample axis ``axis`` lands after the permutation."""
    return [int(d) - 1 for d in p["dims"].split(",")[1:]].index(axis)


def _flatten_from(mod: Any, in_shape: tuple | None) -> dict:
    if mod.start_dim != 1 or mod.end_dim != -1:
        raise Unsupported(f"Flatten(start_dim={mod.start_dim}, end_dim={mod.end_dim})")
    return {}


def _dropout_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"p": float(mod.p)}


def _shuffle_from(mod: Any, in_shape: tuple | None) -> dict:
    return {"groups": int(mod.groups)}


def _drop_path_from(mod: Any, in_shape: tuple | None) -> dict:
    """Skipwire's DropPath (p), torchvision's StochasticDepth (p, mode) or timm's DropPath (drop_prob)."""
    if getattr(mod, "mode", "row") != "row":
        raise Unsupported(f"stochastic depth in mode {mod.mode!r} (only 'row': one draw per sample)")
    if not getattr(mod, "scale_by_keep", True):
        raise Unsupported("DropPath(scale_by_keep=False)")
    p = getattr(mod, "p", getattr(mod, "drop_prob", None))
    if not isinstance(p, (int, float)):
        raise Unsupported(f"a drop probability {p!r}")
    return {"p": float(p)}


def _weighted_add_from(mod: Any, in_shapes: Any) -> dict:
    """A WeightedAdd leaf: ``in_shapes`` is the list of its inputs' shapes."""
    from torch import nn

    w = getattr(mod, "weight", None)
    shapes = list(in_shapes or [])
    if not isinstance(w, nn.Parameter) or w.dim() != 1 or len(w) != len(shapes) or len(shapes) < 2:
        raise Unsupported("a WeightedAdd whose weight is not one number per input")
    if any(s != shapes[0] for s in shapes):
        raise Unsupported("a WeightedAdd of differently shaped inputs")
    return {
        "num_inputs": len(shapes),
        "weights": "learnable",
        "weight_values": [float(v) for v in w.detach().tolist()],
    }


def _radix_softmax_from(mod: Any, in_shape: tuple | None) -> dict:
    """timm's RadixSoftmax (ResNeSt) or Skipwire's: radix 1 is a sigmoid in timm, refused here."""
    radix, card = getattr(mod, "radix", None), getattr(mod, "cardinality", None)
    if not isinstance(radix, int) or not isinstance(card, int) or radix < 2 or card < 1:
        raise Unsupported(f"RadixSoftmax(radix={radix!r}, cardinality={card!r}) (only radix 2 or more)")
    return {"radix": radix, "cardinality": card}


def _group_channels(p: dict, ins: list[tuple], out: int) -> Sym:
    return ins[0][0] // p["groups"]


# ---------------------------------------------------------------------------- helper classes
# Classes torch lacks, written into a generated file when a network uses them (formatted as ruff would).
# A type that builds one declares it in its entry (``helper=``); codegen/helpers.py gathers them.
LAYER_NORM_2D = '''\
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at each position of an image tensor (ConvNeXt)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''

WEIGHTED_ADD = '''\
class WeightedAdd(nn.Module):
    """Sum of the inputs, each scaled by a learnable weight."""

    def __init__(self, weights: list[float]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(weights))

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out = self.weight[0] * inputs[0]
        for i in range(1, len(inputs)):
            out = out + self.weight[i] * inputs[i]
        return out
'''

DROP_PATH = '''\
class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, each sample's branch is dropped with
    probability p and the kept ones scaled by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            keep = 1.0 - self.p
            shape = [x.shape[0]] + [1] * (x.dim() - 1)  # one draw per sample
            mask = torch.bernoulli(torch.full(shape, keep, dtype=x.dtype, device=x.device))
            return torch.div(x * mask, keep)
        return x
'''

PERMUTE = '''\
class Permute(nn.Module):
    """Reorder the axes of a tensor, as torchvision's Permute (channels last and back in ConvNeXt)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)
'''

CHANNEL_CONV_1D = '''\
class ChannelConv1d(nn.Conv1d):
    """ECA-Net's attention conv (Wang et al. 2020): one filter sliding over the channels of a pooled
    (B, C, 1, 1) tensor, zero-padded so that C stays C."""

    def __init__(self, kernel_size: int = 3, bias: bool = False) -> None:
        super().__init__(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        x = x.view(x.shape[0], 1, -1)  # the channels as one sequence
        x = F.conv1d(x, self.weight, self.bias, padding=self.padding)
        return x.view(x.shape[0], -1, 1, 1)
'''

RADIX_SOFTMAX = '''\
class RadixSoftmax(nn.Module):
    """A softmax across the radix groups of each channel (ResNeSt's split attention, SKNet's selection
    among its kernels); the channels come in as cardinality x radix x C' and leave radix first."""

    def __init__(self, radix: int, cardinality: int = 1) -> None:
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.view(shape[0], self.cardinality, self.radix, -1, shape[2], shape[3])
        x = x.transpose(1, 2)
        x = F.softmax(x, dim=1)
        return x.reshape(shape)
'''


# ---------------------------------------------------------------------------- the table
_NORM = {"eps": 1e-5}
_ENTRIES = (
    TypeCodegen("Input", channels=_input_channels),
    TypeCodegen("Output", aliases_input=True),
    TypeCodegen("BlockInput", channels=_block_input_channels),
    TypeCodegen("BlockOutput", aliases_input=True),
    TypeCodegen(
        "Conv2d",
        _frozen(
            {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
        ),
        channels=lambda p, ins, out: p["out_channels"],
        inplace_safe=True,
        fx_modules=("nn.Conv2d",),
        from_module=_conv_from,
    ),
    TypeCodegen(
        "ChannelConv1d",
        _frozen({"bias": False}),
        inplace_safe=True,
        fx_modules=("ChannelConv1d", "nn.Conv1d"),
        from_module=_channel_conv_from,
        helper=HelperClass("ChannelConv1d", CHANNEL_CONV_1D, 5),
    ),
    TypeCodegen(
        "BatchNorm2d",
        _frozen({**_NORM, "momentum": 0.1, "affine": True, "track_running_stats": True}),
        inplace_safe=True,
        fx_modules=("nn.BatchNorm2d",),
        from_module=_batchnorm_from,
    ),
    TypeCodegen(
        "GroupNorm",
        _frozen({**_NORM, "affine": True}),
        inplace_safe=True,
        fx_modules=("nn.GroupNorm",),
        from_module=_groupnorm_from,
    ),
    TypeCodegen(
        "LayerNorm",
        _frozen({**_NORM, "elementwise_affine": True, "bias": True}),
        fx_modules=("nn.LayerNorm",),
        from_module=_layernorm_from,
    ),
    TypeCodegen(
        "LayerNorm2d",
        _frozen({**_NORM, "elementwise_affine": True, "bias": True}),
        fx_modules=("LayerNorm2d",),
        from_module=_layernorm2d_from,
        helper=HelperClass("LayerNorm2d", LAYER_NORM_2D, 1, torch_base="LayerNorm"),
    ),
    TypeCodegen(
        "InstanceNorm2d",
        _frozen({**_NORM, "momentum": 0.1, "affine": False, "track_running_stats": False}),
        fx_modules=("nn.InstanceNorm2d",),
        from_module=_instancenorm_from,
    ),
    TypeCodegen("ReLU", _frozen({"inplace": False}), fx_modules=("nn.ReLU",), from_module=_inplace_from),
    TypeCodegen(
        "LeakyReLU",
        _frozen({"negative_slope": 0.01, "inplace": False}),
        fx_modules=("nn.LeakyReLU",),
        from_module=_leaky_from,
    ),
    TypeCodegen("GELU", fx_modules=("nn.GELU",), from_module=_gelu_from),
    TypeCodegen("SiLU", _frozen({"inplace": False}), fx_modules=("nn.SiLU",), from_module=_inplace_from),
    TypeCodegen("Sigmoid", fx_modules=("nn.Sigmoid",), from_module=_no_params),
    TypeCodegen("Tanh", fx_modules=("nn.Tanh",), from_module=_no_params),
    TypeCodegen("Mish", _frozen({"inplace": False}), fx_modules=("nn.Mish",), from_module=_inplace_from),
    TypeCodegen("ReLU6", _frozen({"inplace": False}), fx_modules=("nn.ReLU6",), from_module=_inplace_from),
    TypeCodegen(
        "Hardswish", _frozen({"inplace": False}), fx_modules=("nn.Hardswish",), from_module=_inplace_from
    ),
    TypeCodegen(
        "Hardsigmoid", _frozen({"inplace": False}), fx_modules=("nn.Hardsigmoid",), from_module=_inplace_from
    ),
    TypeCodegen(
        "MaxPool2d",
        _frozen({"stride": None, "padding": 0, "dilation": 1, "return_indices": False, "ceil_mode": False}),
        fx_modules=("nn.MaxPool2d",),
        from_module=_maxpool_from,
    ),
    TypeCodegen(
        "AvgPool2d",
        _frozen(
            {
                "stride": None,
                "padding": 0,
                "ceil_mode": False,
                "count_include_pad": True,
                "divisor_override": None,
            }
        ),
        fx_modules=("nn.AvgPool2d",),
        from_module=_avgpool_from,
    ),
    TypeCodegen("AdaptiveAvgPool2d", fx_modules=("nn.AdaptiveAvgPool2d",), from_module=_adaptive_from),
    TypeCodegen(
        "Flatten",
        channels=_flatten_channels,
        aliases_input=True,
        fx_modules=("nn.Flatten",),
        from_module=_flatten_from,
    ),
    TypeCodegen(
        "Linear",
        _frozen({"bias": True}),
        channels=lambda p, ins, out: p["out_features"],
        writes_last_axis=True,
        inplace_safe=True,
        fx_modules=("nn.Linear",),
        from_module=_linear_from,
    ),
    TypeCodegen(
        "Dropout",
        _frozen({"p": 0.5, "inplace": False}),
        aliases_input=True,
        fx_modules=("nn.Dropout",),
        from_module=_dropout_from,
    ),
    *(
        TypeCodegen(
            name,
            _frozen({"p": 0.5, "inplace": False}),
            aliases_input=True,
            fx_modules=(f"nn.{name}",),
            from_module=_dropout_from,
        )
        for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
    ),
    TypeCodegen("Identity", aliases_input=True, fx_modules=("nn.Identity",), from_module=_no_params),
    TypeCodegen(
        "DropPath",
        aliases_input=True,  # the identity in eval mode
        fx_modules=(
            "DropPath",
            "torchvision.ops.stochastic_depth.StochasticDepth",
            "timm.layers.drop.DropPath",
        ),
        from_module=_drop_path_from,
        helper=HelperClass("DropPath", DROP_PATH, 3),
    ),
    TypeCodegen(
        "Add",
        fx_modules=("WeightedAdd",),
        from_module=_weighted_add_from,
        helper=HelperClass("WeightedAdd", WEIGHTED_ADD, 2, inputs="all"),  # learnable weights
    ),
    TypeCodegen("Concat", channels=_concat_channels),
    TypeCodegen("Multiply", channels=_broadcast_channels),
    TypeCodegen("Gate"),
    TypeCodegen("ChannelSlice", channels=_slice_channels, aliases_input=True),
    TypeCodegen("ChannelPad", channels=lambda p, ins, out: ins[0][0] + p["before"] + p["after"]),
    TypeCodegen("Unflatten", aliases_input=True),  # a view
    TypeCodegen("ChannelShuffle", fx_modules=("nn.ChannelShuffle",), from_module=_shuffle_from),
    TypeCodegen(
        "Permute",
        axis=_permute_axis,
        aliases_input=True,  # a view
        fx_modules=("Permute", "torchvision.ops.misc.Permute"),
        from_module=_permute_from,
        helper=HelperClass("Permute", PERMUTE, 4),
    ),
    TypeCodegen("LayerScale", inplace_safe=True),  # imported from ``scale * x`` (codegen/fx_import.py)
    TypeCodegen("GroupSum", channels=_group_channels),
    TypeCodegen(
        "RadixSoftmax",
        _frozen({"cardinality": 1}),
        fx_modules=("RadixSoftmax",),
        from_module=_radix_softmax_from,
        helper=HelperClass("RadixSoftmax", RADIX_SOFTMAX, 6),
    ),
)

CODEGEN_TYPES: Mapping[str, TypeCodegen] = MappingProxyType({e.type: e for e in _ENTRIES})

# helper class name -> the type whose module it is
HELPER_TYPES: Mapping[str, TypeCodegen] = MappingProxyType({e.helper.name: e for e in _ENTRIES if e.helper})

# torch module class (or helper class) name -> the type it imports as
FX_MODULES: Mapping[str, TypeCodegen] = MappingProxyType({m: e for e in _ENTRIES for m in e.fx_modules})


def get(type_name: str) -> TypeCodegen:
    """The entry for a registered layer type (KeyError names a type nobody declared here)."""
    try:
        return CODEGEN_TYPES[type_name]
    except KeyError:
        raise KeyError(f"layer type {type_name!r} has no entry in codegen/layer_codegen.py") from None


def missing() -> list[str]:
    """Registered layer types without an entry here, and entries for no registered type."""
    from graph import registry

    names = [t.name for t in registry.all_types()]
    return [f"{n} (no entry)" for n in names if n not in CODEGEN_TYPES] + [
        f"{n} (not a registered type)" for n in CODEGEN_TYPES if n not in names
    ]


def check_complete() -> None:
    """Raise AssertionError naming every registered type without an entry (and stale entries)."""
    gaps = missing()
    if gaps:
        raise AssertionError("codegen/layer_codegen.py: " + ", ".join(gaps))


__all__ = [
    "CODEGEN_TYPES",
    "FX_MODULES",
    "HELPER_TYPES",
    "HelperClass",
    "TypeCodegen",
    "Unsupported",
    "check_complete",
    "get",
    "missing",
]
