"""Text shown on the canvas: a node's key-parameter line, a block call, a shortcut's chip.

Plain functions of model data (no Qt), so the inspector or tests can reuse them.
"""

from __future__ import annotations

from typing import Any

from graph import registry
from graph.model import Edge, Node, Project
from graph.shapes import ShortcutInfo

_POOL = {"MaxPool2d": "max pool", "AvgPool2d": "avg pool"}


def _stride(s: Any) -> str:
    if s in (None, 1):
        return ""
    return f", /{s}"


def _k(k: Any) -> str:
    if isinstance(k, (list, tuple)) and len(k) == 2:
        return f"{k[0]}x{k[1]}"
    return f"{k}x{k}"


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
        if i == 0:
            parts.append(str(values[k]))
        elif bdef is None or values[k] != bdef.params[k].default or k == "stride":
            parts.append(f"{k}={values[k]}")
    return f"{bname}({', '.join(parts)})"


def node_summary(project: Project, node: Node) -> str:
    """The key parameters on one line: ``3x3 conv, 64, /2``."""
    if node.block_name is not None:
        return block_call(project, node)
    lt = registry.get(node.type)
    p = {**(lt.defaults() if lt else {}), **node.params}
    t = node.type
    if t == "Conv2d":
        literal = all(isinstance(p.get(k), int) for k in ("out_channels", "stride"))
        text = (
            f"{_k(p.get('kernel_size'))}{' conv' if literal else ''}, {p.get('out_channels')}"
            f"{_stride(p.get('stride'))}"
        )
        if p.get("groups") not in (None, 1):
            text += f", groups {p['groups']}"
        if p.get("dilation") not in (None, 1):
            text += f", dil {p['dilation']}"
        return text
    if t in _POOL:
        return f"{_k(p.get('kernel_size'))} {_POOL[t]}{_stride(p.get('stride') or p.get('kernel_size'))}"
    if t == "AdaptiveAvgPool2d":
        o = p.get("output_size")
        return "global avg pool" if o in (1, [1, 1], (1, 1)) else f"adaptive avg pool \u2192 {o}"
    if t == "BatchNorm2d":
        return "batch norm" + (", \u03b3=0" if p.get("zero_init") else "")
    if t == "Linear":
        return f"fully connected, {p.get('out_features')}"
    if t == "Dropout":
        return f"dropout p={p.get('p')}"
    if t == "Add":
        return "weighted sum" if p.get("weights") not in (None, "none", False) else "sum"
    if t == "Concat":
        return "concatenate channels"
    if t == "Multiply":
        return "multiply"
    if t == "Gate":
        return "t\u00b7h + (1\u2212t)\u00b7x"
    if t == "Input":
        return "input"
    if t == "Output":
        return "logits"
    if t == "BlockInput":
        return "block input"
    if t == "BlockOutput":
        return "block output"
    if t == "ChannelSlice":
        return f"channels [{p.get('start')}:{p.get('stop')}]"
    if t == "GroupNorm":
        return f"group norm, {p.get('num_groups')} groups"
    keys = lt.key_params if lt else ()
    extra = ", ".join(f"{k} {p[k]}" for k in keys if k in p)
    return t.lower() + (f", {extra}" if extra else "")


PROJECTION_TEXT = {
    "identity": "identity",
    "zero_pad": "zero-pad",
    "conv_bn": "1x1 conv",
    "conv_bn_always": "1x1 conv",
}


def shortcut_chip(edge: Edge, info: ShortcutInfo | None) -> str:
    """The label on a shortcut arc: ``identity``, ``zero-pad``, ``1x1 conv /2``."""
    base = PROJECTION_TEXT.get(edge.projection, edge.projection)
    if edge.projection == "identity":
        return base
    stride = info.stride if info is not None and info.applied != "identity" else 1
    if edge.projection in ("conv_bn", "conv_bn_always"):
        return base + (f" /{stride}" if stride and stride > 1 else "")
    return base + (f" /{stride}" if stride and stride > 1 else "")
