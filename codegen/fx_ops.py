"""torch.fx nodes -> registry layer types (used by ``codegen.fx_import``).

``convert_module(mod)`` maps a leaf ``nn.Module`` to ``(type, params)``;
``convert_call(node, shapes)`` maps a ``call_function`` / ``call_method`` node to
an :class:`OpSpec`. Both raise :class:`Unsupported` with a short reason when the
operation has no registry equivalent, so the importer can list every problem
in one message. Imports torch only inside functions.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from codegen.layer_codegen import FX_MODULES, HELPER_TYPES, Unsupported, square


def is_leaf(mod: Any) -> bool:
    """Modules traced as one call: Skipwire's helpers, norm+act modules, and classes outside torch.nn
    that the layer table imports as they are (torchvision's StochasticDepth)."""
    name = type(mod).__name__
    full = _module_name(type(mod))
    return (
        name in HELPER_LEAVES
        or name in NORM_ACT_LEAVES
        or full in SAME_AS
        or (not full.startswith("nn.") and full in FX_MODULES)
    )


def _module_name(t: type) -> str:
    """``nn.Upsample`` for torch's modules, ``package.module.Class`` for others."""
    if t.__module__.startswith("torch.nn.modules."):
        return f"nn.{t.__qualname__}"
    return f"{t.__module__}.{t.__qualname__}"


@dataclass
class OpSpec:
    """What one fx node becomes.

    kind: "layer" (a registry type), "alias" (pass its tensor input through),
    "drop" (a non-tensor helper such as ``x.size(0)``), "cat" (torch.cat over a list),
    "split" (split/chunk along the channels: params["bounds"]), "reshape" (view/reshape, read from the
    shapes), "transpose" (params["dims"]; only inside a channel shuffle), "stack" (torch.stack along
    dim 1: a Concat whose result is a grouped view).
    """

    kind: str
    type: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[Any] = field(default_factory=list)  # fx nodes, in port order


# Skipwire's own helper classes (declared with their types: codegen/layer_codegen.py) are traced as
# leaves, by name
HELPER_LEAVES = tuple(HELPER_TYPES)
# norm + activation modules (timm's BatchNormAct2d: a BatchNorm2d that calls F.batch_norm on its own
# buffers, then its ``drop`` and ``act`` children) are traced as leaves and split into their parts
NORM_ACT_LEAVES = ("BatchNormAct2d",)
# subclasses that only restate their base's forward (timm's Linear: F.linear, for TorchScript) import
# as the base; traced as leaves
SAME_AS = {"timm.layers.linear.Linear": "nn.Linear", "timm.layers.norm.LayerNorm": "nn.LayerNorm"}


def convert_norm_act(mod: Any, in_shape: tuple | None) -> list[tuple[str, dict, str]]:
    """A norm+act leaf -> [(type, params, attribute suffix)]: the norm itself ("") then its
    ``drop`` and ``act`` children (".drop", ".act"), Identity children left out."""
    from torch import nn

    if not isinstance(mod, nn.BatchNorm2d):
        raise Unsupported(f"{_module_name(type(mod))} that is not a BatchNorm2d")
    parts = [("BatchNorm2d", FX_MODULES["nn.BatchNorm2d"].from_module(mod, in_shape), "")]
    for child in ("drop", "act"):
        sub = getattr(mod, child, None)
        if sub is None or type(sub) is nn.Identity:
            continue
        type_name, params = convert_module(sub, in_shape)
        parts.append((type_name, params, f".{child}"))
    return parts


def convert_helper(mod: Any, in_shapes: list) -> tuple[str, dict]:
    """A helper-class leaf -> (registry type, params), by codegen/layer_codegen.py's table."""
    from torch import nn

    name = type(mod).__name__
    entry = FX_MODULES.get(name) if name in HELPER_LEAVES else None
    if entry is None or entry.from_module is None:
        raise Unsupported(_module_name(type(mod)))
    helper = HELPER_TYPES[name].helper
    if helper.inputs == "all":  # a merge (WeightedAdd): every input's shape
        return entry.type, entry.from_module(mod, in_shapes)
    if helper.torch_base is not None and (
        not isinstance(mod, getattr(nn, helper.torch_base)) or len(in_shapes) != 1
    ):
        raise Unsupported(f"a {name} that is not what Skipwire writes")
    # Skipwire's own, or timm's DropPath and RadixSoftmax, torchvision's Permute (same names)
    return entry.type, entry.from_module(mod, in_shapes[0])


def convert_module(mod: Any, in_shape: tuple | None) -> tuple[str, dict]:
    """A leaf module -> (registry type, params), by codegen/layer_codegen.py's table."""
    t = type(mod)
    if t.__name__ in HELPER_LEAVES:
        return convert_helper(mod, [in_shape])
    name = _module_name(t)
    entry = FX_MODULES.get(SAME_AS.get(name, name))
    if entry is None or entry.from_module is None:
        raise Unsupported(name)
    return entry.type, entry.from_module(mod, in_shape)


def _arg(node: Any, i: int, name: str, default: Any = None) -> Any:
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _is_node(x: Any) -> bool:
    import torch.fx

    return isinstance(x, torch.fx.Node)


def _binary(node: Any, type_name: str, shapes: dict) -> OpSpec:
    a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    if not (_is_node(a) and _is_node(b)) or a not in shapes or b not in shapes:
        raise Unsupported(
            f"{type_name.lower()} with a constant (only tensor {type_name.lower()}s are supported)"
        )
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        raise Unsupported("add with alpha")
    if type_name == "Add" and shapes[a] != shapes[b]:
        raise Unsupported(f"broadcasting add of {shapes[a]} and {shapes[b]}")
    return OpSpec("layer", type_name, {}, [a, b])


def _mean(node: Any, shapes: dict) -> OpSpec:
    src = node.args[0]
    dims = _arg(node, 1, "dim")
    keep = _arg(node, 2, "keepdim", False)
    dims = (
        tuple(d % 4 for d in (dims if isinstance(dims, (tuple, list)) else (dims,)))
        if dims is not None
        else ()
    )
    if sorted(dims) != [2, 3] or len(shapes.get(src, ())) != 3:
        raise Unsupported("mean over dimensions other than the spatial ones")
    if keep:
        return OpSpec("layer", "AdaptiveAvgPool2d", {"output_size": 1}, [src])
    return OpSpec("layer", "GlobalMeanFlat", {}, [src])  # expanded to pool + flatten by the importer


def _subsample(node: Any, shapes: dict) -> OpSpec:
    """``x[:, :, ::s, ::s]``: half of a zero-pad shortcut (the importer folds it into the edge)."""
    idx = node.args[1]
    full = slice(None, None, None)
    if isinstance(idx, tuple) and len(idx) == 4 and idx[2] == idx[3] == full:
        idx = idx[:2]  # x[:, :16, :, :] (timm's GhostModule) is x[:, :16]
    if (
        isinstance(idx, tuple)
        and len(idx) == 2
        and idx[0] == full
        and isinstance(idx[1], slice)
        and idx[1].step in (None, 1)
        and all(isinstance(v, (int, type(None))) for v in (idx[1].start, idx[1].stop))
    ):
        return OpSpec(
            "layer", "ChannelSlice", {"start": idx[1].start or 0, "stop": idx[1].stop}, [node.args[0]]
        )
    if (
        isinstance(idx, tuple)
        and len(idx) == 4
        and idx[0] == full
        and idx[1] == full
        and all(isinstance(i, slice) and i.start is None and i.stop is None for i in idx[2:])
        and idx[2].step == idx[3].step
        and isinstance(idx[2].step, (int, type(None)))
    ):
        return OpSpec("layer", "_Subsample", {"stride": idx[2].step or 1}, [node.args[0]])
    raise Unsupported(f"indexing {idx!r}")


def _channel_pad(node: Any, shapes: dict) -> OpSpec:
    """``F.pad(x, (0, 0, 0, 0, 0, n))``: zero channels appended, the other half of a zero-pad shortcut."""
    pad = _arg(node, 1, "pad")
    mode, value = _arg(node, 2, "mode", "constant"), _arg(node, 3, "value", None)
    if (
        mode == "constant"
        and value in (None, 0, 0.0)
        and isinstance(pad, (tuple, list))
        and len(pad) == 6
        and tuple(pad[:4]) == (0, 0, 0, 0)
        and all(isinstance(v, int) and v >= 0 for v in pad[4:])
    ):
        if pad[4]:  # channels before too: a zero_pad_both shortcut, else a ChannelPad layer (fx_patterns)
            return OpSpec("layer", "_ChannelPad", {"extra": pad[5], "before": pad[4]}, [node.args[0]])
        return OpSpec("layer", "_ChannelPad", {"extra": pad[5]}, [node.args[0]])
    raise Unsupported(f"padding {pad!r} (only zero channels added, as in a zero-pad shortcut)")


def _permute(node: Any, shapes: dict) -> OpSpec:
    """``x.permute(0, 2, 3, 1)`` (or ``torch.permute(x, [0, 2, 3, 1])``) of an image tensor -> Permute."""
    from graph.layers import PERMUTATIONS

    src = node.args[0]
    dims = _arg(node, 1, "dims", None) if node.op == "call_function" else None
    if dims is None:
        dims = node.args[1] if len(node.args) == 2 else node.args[1:]
        dims = node.kwargs.get("dims", dims)
    text = ",".join(str(d) for d in dims) if isinstance(dims, (list, tuple)) else "?"
    if len(shapes.get(src, ())) == 4 and text == "0,2,1,3,4":  # x.view(N, g, C // g, H, W).permute(...)
        return OpSpec("transpose", "", {"dims": (1, 2)}, [src])  # a channel shuffle's middle step
    if len(shapes.get(src, ())) != 3 or text not in PERMUTATIONS:
        raise Unsupported(f"a permutation {text} (only of the axes of an image tensor, batch first)")
    return OpSpec("layer", "Permute", {"dims": text}, [src])


_SIZE_ARITHMETIC = (
    operator.floordiv,
    operator.mul,
    operator.add,
    operator.sub,
    operator.truediv,
    operator.mod,
    operator.neg,
)


def _split(node: Any, shapes: dict, name: str) -> OpSpec:
    """``split``/``chunk`` along the channels -> the pieces' channel bounds (start, stop); the last
    stop is None (to the end). The importer turns each ``pieces[i]`` into a ChannelSlice."""
    src = node.args[0] if node.args else None
    if not _is_node(src) or len(shapes.get(src, ())) != 3:
        raise Unsupported(f"{name} of something other than an image tensor")
    dim = _arg(node, 2, "dim", 0)
    if dim not in (1, -3):
        raise Unsupported(f"{name} along dim {dim} (only the channels are supported)")
    c = shapes[src][0]
    if name == "split":
        size = _arg(node, 1, "split_size_or_sections", None)
        if size is None:
            size = _arg(node, 1, "split_size", None)
        if isinstance(size, int) and size > 0:
            sizes = [size] * (c // size) + ([c % size] if c % size else [])
        elif isinstance(size, (list, tuple)) and all(isinstance(v, int) for v in size) and sum(size) == c:
            sizes = list(size)
        else:
            raise Unsupported(f"split into {size!r}")
    else:
        n = _arg(node, 1, "chunks", None)
        if not isinstance(n, int) or n < 1:
            raise Unsupported(f"chunk into {n!r}")
        each = -(-c // n)
        sizes = [each] * (c // each) + ([c % each] if c % each else [])
    bounds, start = [], 0
    for i, size in enumerate(sizes):
        bounds.append((start, None if i == len(sizes) - 1 else start + size))
        start += size
    return OpSpec("split", "ChannelSlice", {"bounds": bounds}, [src])


def _drop(node: Any, shapes: dict) -> OpSpec:
    return OpSpec("drop")


def _alias(node: Any, shapes: dict) -> OpSpec:
    return OpSpec("alias", inputs=[node.args[0]])


def _transpose(node: Any, shapes: dict) -> OpSpec:
    dims = (_arg(node, 1, "dim0"), _arg(node, 2, "dim1"))
    return OpSpec("transpose", "", {"dims": tuple(sorted(dims))}, [node.args[0]])


def _getattr(node: Any, shapes: dict) -> OpSpec:
    if node.args[1] in ("shape",):
        return OpSpec("drop")
    raise Unsupported("")


def _getitem(node: Any, shapes: dict) -> OpSpec:
    src = node.args[0]
    if _is_node(src) and src in shapes:
        return _subsample(node, shapes)
    if not _is_node(src):
        raise Unsupported("indexing")
    if src.op in ("call_method", "call_function") and src.target in ("size", getattr):
        return OpSpec("drop")  # x.size()[1], x.shape[0]
    raise Unsupported("")


def _src(node: Any) -> Any:
    return node.args[0] if node.args else None


def _relu(node: Any, shapes: dict) -> OpSpec:
    name = node.target if node.op == "call_method" else getattr(node.target, "__name__", "")
    inplace = bool(_arg(node, 1, "inplace", False)) or name.endswith("_")
    return OpSpec("layer", "ReLU", {"inplace": inplace}, [_src(node)])


def _activation(type_name: str, inplace: bool) -> Any:
    """An activation without parameters: (x) or (x, inplace) when ``inplace``."""

    def convert(node: Any, shapes: dict) -> OpSpec:
        if type_name == "GELU" and node.kwargs.get("approximate", "none") != "none":
            raise Unsupported("gelu with approximate='tanh'")
        p = {"inplace": bool(_arg(node, 1, "inplace", False))} if inplace else {}
        return OpSpec("layer", type_name, p, [_src(node)])

    return convert


def _leaky_relu(node: Any, shapes: dict) -> OpSpec:
    return OpSpec(
        "layer",
        "LeakyReLU",
        {
            "negative_slope": float(_arg(node, 1, "negative_slope", 0.01)),
            "inplace": bool(_arg(node, 2, "inplace", False)),
        },
        [_src(node)],
    )


def _adaptive_avg_pool(node: Any, shapes: dict) -> OpSpec:
    size = square(_arg(node, 1, "output_size"), "output_size")
    return OpSpec("layer", "AdaptiveAvgPool2d", {"output_size": size}, [_src(node)])


def _pool_params(node: Any) -> dict:
    k = square(_arg(node, 1, "kernel_size"), "kernel_size")
    s = _arg(node, 2, "stride", None)
    return {
        "kernel_size": k,
        "stride": square(s, "stride") if s not in (None, [], ()) else k,
        "padding": square(_arg(node, 3, "padding", 0), "padding"),
    }


def _max_pool(node: Any, shapes: dict) -> OpSpec:
    p = _pool_params(node)
    if square(_arg(node, 4, "dilation", 1), "dilation") != 1 or _arg(node, 6, "return_indices", False):
        raise Unsupported("max_pool2d with dilation or return_indices")
    p["ceil_mode"] = bool(_arg(node, 5, "ceil_mode", False))
    return OpSpec("layer", "MaxPool2d", p, [_src(node)])


def _avg_pool(node: Any, shapes: dict) -> OpSpec:
    p = _pool_params(node)
    p["ceil_mode"] = bool(_arg(node, 4, "ceil_mode", False))
    p["count_include_pad"] = bool(_arg(node, 5, "count_include_pad", True))
    if _arg(node, 6, "divisor_override", None) is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    return OpSpec("layer", "AvgPool2d", p, [_src(node)])


def _dropout_as(type_name: str) -> Any:
    """F.dropout, F.dropout2d, ...: the layer of that type (which drops in training mode only)."""

    def convert(node: Any, shapes: dict) -> OpSpec:
        return OpSpec("layer", type_name, {"p": float(_arg(node, 1, "p", 0.5))}, [_src(node)])

    return convert


_dropout = _dropout_as("Dropout")


def _flatten(node: Any, shapes: dict) -> OpSpec:
    start, end = _arg(node, 1, "start_dim", 0), _arg(node, 2, "end_dim", -1)
    if start != 1 or end != -1:
        raise Unsupported(f"flatten(start_dim={start}, end_dim={end})")
    return OpSpec("layer", "Flatten", {}, [_src(node)])


def _reshape(node: Any, shapes: dict) -> OpSpec:
    return OpSpec("reshape", "", {}, [node.args[0]])  # by the shapes it gives (fx_import)


def _add(node: Any, shapes: dict) -> OpSpec:
    a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    for x, c in ((a, b), (b, a)):  # x + 3: a hand-written hard-swish's first step (fx_patterns folds it)
        if (
            _is_node(x)
            and x in shapes
            and isinstance(c, (int, float))
            and not isinstance(c, bool)
            and c == 3
            and node.kwargs.get("alpha", 1) == 1
        ):
            return OpSpec("layer", "_AddThree", {}, [x])
    return _binary(node, "Add", shapes)


def _div(node: Any, shapes: dict) -> OpSpec:
    """``x / c``: a term scaled by 1/c (a weighted sum's, or a hand-written hard-swish's ``/ 6``)."""
    a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    if (
        _is_node(a)
        and a in shapes
        and isinstance(b, (int, float))
        and not isinstance(b, bool)
        and b != 0
        and node.kwargs.get("rounding_mode") is None
    ):
        return OpSpec("layer", "_Scale", {"value": 1.0 / float(b)}, [a])
    raise Unsupported("")


def _mul(node: Any, shapes: dict) -> OpSpec:
    a, b = node.args[0], node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
    for x, c in ((a, b), (b, a)):
        if _is_node(x) and x in shapes and isinstance(c, (int, float)) and not isinstance(c, bool):
            return OpSpec("layer", "_Scale", {"value": float(c)}, [x])  # a fixed-weight Add's term
    return _binary(node, "Multiply", shapes)


def _sub(node: Any, shapes: dict) -> OpSpec:
    import torch

    a, b = node.args[0], node.args[1] if len(node.args) > 1 else None
    if node.target is torch.rsub or node.op == "call_method":
        a, b = b, a
    if a == 1 and _is_node(b) and b in shapes:
        return OpSpec("layer", "_OneMinus", {}, [b])  # the carry gate of a highway layer
    raise Unsupported("subtraction (only 1 - t inside a highway gate t*h + (1-t)*x is supported)")


def _stack(node: Any, shapes: dict) -> OpSpec:
    seq, dim = _arg(node, 0, "tensors"), _arg(node, 1, "dim", 0)
    if not isinstance(seq, (list, tuple)) or not all(_is_node(x) for x in seq):
        raise Unsupported("torch.stack over something other than a list of tensors")
    if dim not in (1, -4) or len({shapes.get(x) for x in seq}) != 1 or len(shapes.get(seq[0], ())) != 3:
        raise Unsupported(f"torch.stack along dim {dim} (only images of one shape, along dim 1)")
    return OpSpec("stack", "Concat", {}, list(seq))  # a Concat seen as a grouped view (fx_import)


def _size_check(node: Any, shapes: dict) -> OpSpec:
    """``torch._assert`` and ``==`` on sizes (timm's _assert(x.shape[1] == n)) are dropped."""
    if node.target is operator.eq and any(_is_node(a) and a in shapes for a in node.args):
        raise Unsupported("")
    return OpSpec("drop")


def _cat(node: Any, shapes: dict) -> OpSpec:
    seq = _arg(node, 0, "tensors")
    dim = _arg(node, 1, "dim", 0)
    if not isinstance(seq, (list, tuple)) or not all(_is_node(x) for x in seq):
        raise Unsupported("torch.cat over something other than a list of tensors")
    images = dim in (1, -3) and all(len(shapes.get(x, ())) == 3 for x in seq)
    vectors = dim in (1, -1) and all(len(shapes.get(x, ())) == 1 for x in seq)
    if not (images or vectors):
        raise Unsupported(f"torch.cat along dim {dim} (only channels are supported)")
    return OpSpec("cat", "Concat", {}, list(seq))


def _split_call(node: Any, shapes: dict) -> OpSpec:
    name = node.target if node.op == "call_method" else node.target.__name__
    return _split(node, shapes, name)


def _expand_as(node: Any, shapes: dict) -> OpSpec:
    """``y.expand_as(x)`` whose every use multiplies it with a tensor of x's shape (ECA's and SE's
    ``x * y.expand_as(x)``): the product broadcasts anyway, so the expansion passes y through."""
    import torch

    out = shapes.get(node)
    for user in node.users:
        others = [a for a in user.args[:2] if a is not node]
        product = (
            user.op == "call_function" and user.target in (operator.mul, operator.imul, torch.mul)
        ) or (user.op == "call_method" and user.target in ("mul", "mul_"))
        if not product or len(others) != 1 or not _is_node(others[0]) or shapes.get(others[0]) != out:
            raise Unsupported("only into a multiplication with a tensor of the shape it expands to")
    return OpSpec("alias", inputs=[node.args[0]])


@dataclass(frozen=True)
class CallForm:
    """One operation as code calls it: the torch functions (by attribute path, looked up when the table is
    built, so a name this torch lacks is skipped) and the tensor methods (by name) that mean it, and the
    function that reads one such fx node into an :class:`OpSpec` (or raises Unsupported)."""

    convert: Any
    functions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()


# every function and method the importer reads, each declared once; looked up by fx target
CALL_FORMS: tuple[CallForm, ...] = (
    CallForm(_split_call, ("torch.split", "torch.chunk"), ("split", "chunk")),
    CallForm(_transpose, ("torch.transpose",), ("transpose",)),
    CallForm(_drop, (), ("size", "dim")),
    CallForm(_getattr, ("builtins.getattr",)),
    CallForm(_getitem, ("operator.getitem",)),
    CallForm(_channel_pad, ("torch.nn.functional.pad", "torch._C._nn.pad")),
    CallForm(_permute, ("torch.permute",), ("permute",)),
    CallForm(_alias, ("torch.Tensor.contiguous",), ("contiguous",)),
    CallForm(
        _relu,
        ("torch.nn.functional.relu", "torch.relu", "torch.relu_", "torch.nn.functional.relu_"),
        ("relu", "relu_"),
    ),
    CallForm(_activation("GELU", False), ("torch.nn.functional.gelu",)),
    CallForm(_activation("SiLU", True), ("torch.nn.functional.silu",)),
    CallForm(_activation("Sigmoid", False), ("torch.sigmoid", "torch.nn.functional.sigmoid"), ("sigmoid",)),
    CallForm(_activation("Tanh", False), ("torch.tanh", "torch.nn.functional.tanh"), ("tanh",)),
    CallForm(_activation("ReLU6", True), ("torch.nn.functional.relu6",)),
    CallForm(_activation("Hardswish", True), ("torch.nn.functional.hardswish",)),
    CallForm(_activation("Hardsigmoid", True), ("torch.nn.functional.hardsigmoid",)),
    CallForm(_leaky_relu, ("torch.nn.functional.leaky_relu",)),
    CallForm(_adaptive_avg_pool, ("torch.nn.functional.adaptive_avg_pool2d",)),
    CallForm(_max_pool, ("torch.nn.functional.max_pool2d",)),
    CallForm(_avg_pool, ("torch.nn.functional.avg_pool2d",)),
    CallForm(_dropout, ("torch.nn.functional.dropout",), ("dropout",)),
    CallForm(_dropout_as("Dropout1d"), ("torch.nn.functional.dropout1d",)),
    CallForm(_dropout_as("Dropout2d"), ("torch.nn.functional.dropout2d",)),
    CallForm(_dropout_as("Dropout3d"), ("torch.nn.functional.dropout3d",)),
    CallForm(_dropout_as("AlphaDropout"), ("torch.nn.functional.alpha_dropout",)),
    CallForm(_flatten, ("torch.flatten",), ("flatten",)),
    CallForm(_reshape, ("torch.reshape", "torch.unflatten"), ("view", "reshape", "unflatten")),
    CallForm(_mean, ("torch.mean",), ("mean",)),
    CallForm(_add, ("operator.add", "operator.iadd", "torch.add"), ("add", "add_")),
    CallForm(_mul, ("operator.mul", "operator.imul", "torch.mul"), ("mul", "mul_")),
    CallForm(_div, ("operator.truediv", "operator.itruediv", "torch.div"), ("div", "div_")),
    CallForm(_sub, ("operator.sub", "torch.sub", "torch.rsub"), ("rsub",)),
    CallForm(_stack, ("torch.stack",)),
    CallForm(_size_check, ("torch._assert", "operator.eq")),
    CallForm(_cat, ("torch.cat", "torch.concat")),
    CallForm(_expand_as, (), ("expand_as",)),
)


def _resolve(path: str) -> Any:
    """``torch.nn.functional.relu`` -> the function (None where this torch lacks it)."""
    import importlib

    head, *rest = path.split(".")
    obj: Any = importlib.import_module(head)
    for part in rest:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


_TABLES: tuple[dict, dict] | None = None


def _call_tables() -> tuple[dict, dict]:
    """(function -> convert, method name -> convert) from CALL_FORMS, built once (they need torch)."""
    global _TABLES
    if _TABLES is None:
        functions: dict[Any, Any] = {}
        methods: dict[str, Any] = {}
        for form in CALL_FORMS:
            for fn in filter(None, map(_resolve, form.functions)):
                if functions.setdefault(fn, form.convert) is not form.convert:
                    raise RuntimeError(f"{fn} is declared twice in CALL_FORMS")
            for name in form.methods:
                if methods.setdefault(name, form.convert) is not form.convert:
                    raise RuntimeError(f".{name}() is declared twice in CALL_FORMS")
        _TABLES = functions, methods
    return _TABLES


def convert_call(node: Any, shapes: dict) -> OpSpec:
    """A call_function / call_method node -> OpSpec, by CALL_FORMS; raises Unsupported."""
    functions, methods = _call_tables()
    tgt = node.target
    if node.op == "call_method":
        convert = methods.get(tgt)
    else:
        if tgt in _SIZE_ARITHMETIC and not any(_is_node(a) and a in shapes for a in node.args):
            return OpSpec("drop")  # arithmetic on sizes (x.size(1) // groups): only reshapes use it
        try:
            convert = functions.get(tgt)
        except TypeError:  # an unhashable callable
            convert = None
    if convert is None:
        raise Unsupported("")  # the call itself is the message (fx_import._describe)
    return convert(node, shapes)


__all__ = [
    "CALL_FORMS",
    "HELPER_LEAVES",
    "NORM_ACT_LEAVES",
    "CallForm",
    "OpSpec",
    "Unsupported",
    "convert_call",
    "convert_helper",
    "convert_module",
    "convert_norm_act",
    "is_leaf",
]
