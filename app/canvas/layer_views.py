"""The editor's part of each layer type, declared once, keyed by the registry's type name.

graph/layers.py declares a type's data; codegen/layer_codegen.py what code generation needs; this table
(``APP_TYPES``) what the editor shows for it: the text of its card (``3x3 conv, 64, /2``) and the base of
a new node's name (``conv``). A type with nothing special to say on its card uses ``key_text``: its name
and its key parameters. Adding a layer type means one entry here (tests/test_layer_types.py walks every
registered type and fails on a missing one).

Also the text of a block instance's card and of a shortcut's chip. Plain functions of model data (no Qt),
so the inspector or tests can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from graph import registry
from graph.model import Edge, Node, Project
from graph.params import format_value
from graph.projections import PROJECTIONS
from graph.shapes import ShortcutInfo

CardText = Callable[[str, dict[str, Any]], str]  # (type name, parameters with defaults) -> the card's line


@dataclass(frozen=True)
class LayerView:
    """What the editor shows for one layer type: its card's text, and the base of a new node's name
    (``conv`` -> conv, conv1, ...; empty: the type's name in lower case)."""

    type: str
    card: CardText
    name_base: str = ""

    @property
    def base_name(self) -> str:
        return self.name_base or self.type.lower()


def _stride(s: Any) -> str:
    if s in (None, 1):
        return ""
    if isinstance(s, (list, tuple)) and len(s) == 2:
        return f", /{s[0]}x{s[1]}"
    return f", /{s}"


def _k(k: Any) -> str:
    if isinstance(k, (list, tuple)) and len(k) == 2:
        return f"{k[0]}x{k[1]}"
    if isinstance(k, str):  # a block parameter's name or an expression: not "kernel_sizexkernel_size"
        return f"k={k}"
    return f"{k}x{k}"


def key_text(t: str, p: dict[str, Any]) -> str:
    """The type's name in lower case and its key parameters: ``layernorm2d``, ``dropout, p 0.5``."""
    lt = registry.get(t)
    keys = lt.key_params if lt else ()
    extra = ", ".join(f"{k} {p[k]}" for k in keys if k in p)
    return t.lower() + (f", {extra}" if extra else "")


def _fixed(text: str) -> CardText:
    return lambda t, p: text


def _conv(t: str, p: dict[str, Any]) -> str:
    literal = all(isinstance(p.get(k), (int, list, tuple)) for k in ("out_channels", "stride"))
    text = (
        f"{_k(p.get('kernel_size'))}{' conv' if literal else ''}, {p.get('out_channels')}"
        f"{_stride(p.get('stride'))}"
    )
    if p.get("groups") not in (None, 1):
        text += f", groups {p['groups']}"
    if p.get("dilation") not in (None, 1):
        text += f", dil {format_value(p['dilation'])}"
    return text


def _pool(kind: str) -> CardText:
    return lambda t, p: f"{_k(p.get('kernel_size'))} {kind}{_stride(p.get('stride') or p.get('kernel_size'))}"


def _adaptive(t: str, p: dict[str, Any]) -> str:
    o = p.get("output_size")
    return "global avg pool" if o in (1, [1, 1], (1, 1)) else f"adaptive avg pool \u2192 {o}"


def _permute(t: str, p: dict[str, Any]) -> str:
    """``permute to channels last``, ``permute to channels first``, else the axes' new order."""
    named = {"0,2,3,1": "permute to channels last", "0,3,1,2": "permute to channels first"}
    return named.get(p.get("dims"), f"permute {p.get('dims')}")


_ENTRIES = (
    LayerView("Input", _fixed("input")),
    LayerView("Output", _fixed("logits")),
    LayerView("BlockInput", _fixed("block input")),
    LayerView("BlockOutput", _fixed("block output")),
    LayerView("Conv2d", _conv, name_base="conv"),
    LayerView("ChannelConv1d", lambda t, p: f"channel conv, k={p.get('kernel_size')}", name_base="conv"),
    LayerView(
        "BatchNorm2d",
        lambda t, p: "batch norm" + (", \u03b3=0" if p.get("zero_init") else ""),
        name_base="bn",
    ),
    LayerView("GroupNorm", lambda t, p: f"group norm, {p.get('num_groups')} groups", name_base="gn"),
    LayerView("LayerNorm", key_text, name_base="ln"),
    LayerView("LayerNorm2d", key_text, name_base="ln"),
    LayerView("InstanceNorm2d", key_text, name_base="inorm"),
    LayerView("ReLU", key_text),
    LayerView("LeakyReLU", key_text),
    LayerView("GELU", key_text),
    LayerView("SiLU", key_text),
    LayerView("Mish", key_text),
    LayerView("Sigmoid", key_text),
    LayerView("Tanh", key_text),
    LayerView("ReLU6", key_text),
    LayerView("Hardswish", key_text),
    LayerView("Hardsigmoid", key_text),
    LayerView("MaxPool2d", _pool("max pool"), name_base="maxpool"),
    LayerView("AvgPool2d", _pool("avg pool"), name_base="avgpool"),
    LayerView("AdaptiveAvgPool2d", _adaptive, name_base="avgpool"),
    LayerView("Flatten", key_text),
    LayerView("Linear", lambda t, p: f"fully connected, {p.get('out_features')}", name_base="fc"),
    LayerView("Dropout", lambda t, p: f"dropout p={p.get('p')}"),
    LayerView("Unflatten", lambda t, p: "to Cx1x1"),
    LayerView("ChannelPad", lambda t, p: f"pad +{p.get('before')}/+{p.get('after')} ch, /{p.get('stride')}"),
    *(
        LayerView(name, lambda t, p: f"{t.lower()} p={p.get('p')}")
        for name in ("Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
    ),
    LayerView("DropPath", lambda t, p: f"drop path p={p.get('p')}"),
    LayerView("Identity", key_text),
    LayerView("Add", lambda t, p: "weighted sum" if p.get("weights") not in (None, "none", False) else "sum"),
    LayerView("Concat", _fixed("concatenate channels")),
    LayerView("Multiply", _fixed("multiply")),
    LayerView("Gate", _fixed("t\u00b7h + (1\u2212t)\u00b7x")),
    LayerView("ChannelShuffle", lambda t, p: f"shuffle channels, {p.get('groups')} groups"),
    LayerView("ChannelSlice", lambda t, p: f"channels [{p.get('start')}:{p.get('stop')}]", name_base="slice"),
    LayerView("Permute", _permute),
    LayerView(
        "LayerScale", lambda t, p: f"layer scale, starts at {p.get('init_value')}", name_base="layer_scale"
    ),
    LayerView("GroupSum", lambda t, p: f"sum of {p.get('groups')} channel groups", name_base="group_sum"),
    LayerView(
        "RadixSoftmax", lambda t, p: f"softmax across {p.get('radix')} radix groups", name_base="rsoftmax"
    ),
)

APP_TYPES: Mapping[str, LayerView] = MappingProxyType({e.type: e for e in _ENTRIES})


def missing() -> list[str]:
    """Registered layer types without an entry here, and entries for no registered type."""
    names = [t.name for t in registry.all_types()]
    return [f"{n} (no entry)" for n in names if n not in APP_TYPES] + [
        f"{n} (not a registered type)" for n in APP_TYPES if n not in names
    ]


def block_call(project: Project, node: Node) -> str:
    """``BasicBlock(128, stride=2)``: the first parameter positional, the rest by keyword."""
    bname = node.block_name or node.type
    bdef = project.blocks.get(bname)
    names = list(bdef.params) if bdef is not None else list(node.params)
    values = {**(bdef.defaults() if bdef is not None else {}), **node.params}
    parts = []
    for i, k in enumerate(names):
        if k not in values:
            continue
        text = f"{values[k]:.4g}" if isinstance(values[k], float) else str(values[k])  # a drop rate 0.005882
        if i == 0:
            parts.append(text)
        elif bdef is None or values[k] != bdef.params[k].default or k == "stride":
            parts.append(f"{k}={text}")
    return f"{bname}({', '.join(parts)})"


def node_summary(project: Project, node: Node) -> str:
    """The key parameters on one line: ``3x3 conv, 64, /2``."""
    if node.block_name is not None:
        return block_call(project, node)
    lt = registry.get(node.type)
    p = {**(lt.defaults() if lt else {}), **node.params}
    view = APP_TYPES.get(node.type)
    return (view.card if view is not None else key_text)(node.type, p)


PROJECTION_TEXT = {name: p.chip for name, p in PROJECTIONS.items()}  # graph/projections.py


def shortcut_chip(edge: Edge, info: ShortcutInfo | None) -> str:
    """The label on a shortcut arc: ``identity``, ``zero-pad``, ``1x1 conv /2``."""
    base = PROJECTION_TEXT.get(edge.projection, edge.projection)
    if edge.projection == "identity":
        return base
    stride = info.stride if info is not None and info.applied != "identity" else 1
    return base + (f" /{stride}" if stride and stride > 1 else "")
