"""Patterns in the traced op list (``codegen.fx_import``) that become graph features.

- residual additions: the input of an ``Add`` (or a highway ``Gate``'s carry) that is an
  ancestor of the other input becomes a shortcut edge; a 1x1 conv + BatchNorm pair in a
  two-entry ``nn.Sequential`` (torchvision's ``downsample``) becomes a ``conv_bn`` shortcut
  named after it; ``x[:, :, ::s, ::s]`` padded with zero channels a ``zero_pad`` one;
- ECA-Net's mean -> view -> Conv1d -> gate -> view becomes pool -> ``ChannelConv1d`` -> gate;
- ``t * h + (1 - t) * x`` becomes a ``Gate``; ``c1 * a + c2 * b`` an ``Add`` with fixed weights;
- ``relu6(x + 3) / 6`` a ``Hardsigmoid``, ``x * relu6(x + 3) / 6`` a ``Hardswish``;
- an in-place ReLU whose input is used elsewhere is made out-of-place (the emitted order
  may differ from the traced one).

Imports torch only inside functions.
"""

from __future__ import annotations

from typing import Any

from graph.shapes import subsample_stride


def consumers(ops: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {k: [] for k in ops}
    for op in ops.values():
        for i in op.inputs:
            out[i].append(op.key)
    return out


def ancestors(ops: dict[str, Any], key: str) -> set[str]:
    seen: set[str] = set()
    stack = [key]
    while stack:
        for i in ops[stack.pop()].inputs:
            if i not in seen:
                seen.add(i)
                stack.append(i)
    return seen


def fix_inplace(ops: dict[str, Any]) -> None:
    cons = consumers(ops)
    for op in ops.values():
        if op.params.get("inplace") and (len(cons[op.inputs[0]]) > 1 or ops[op.inputs[0]].type == "Input"):
            op.params["inplace"] = False


def find_shortcuts(conv: Any) -> None:
    """Residual Adds: mark the skip input as a shortcut edge; fold torchvision's downsample pair into it."""
    from torch import nn

    _fold_channel_convs(conv)
    _fold_hard_activations(conv.ops)
    _fold_gates(conv.ops)
    _fold_scales(conv.ops)
    ops = conv.ops
    cons = consumers(ops)
    for op in list(ops.values()):
        if op.type == "Add" and len(op.inputs) == 2:
            candidates = ((1, 0), (0, 1))
        elif op.type == "Gate":
            candidates = ((2, 0),)
        else:
            continue
        cons = _mark_shortcut(conv, op, candidates, cons, nn)
    fold_channel_pads(conv)
    for op in ops.values():
        message = _leftover_error(conv, op)
        if message is not None:
            conv.errors.append(message)


def _mark_shortcut(
    conv: Any, op: Any, candidates: tuple[tuple[int, int], ...], cons: dict[str, list[str]], nn: Any
) -> dict[str, list[str]]:
    """The first (port, other port) of ``op`` whose input reaches the other one's past becomes a shortcut:
    a projection pair or a zero-pad chain folded into the edge, else an identity; the consumers after."""
    ops = conv.ops
    for port, other_port in candidates:
        other = op.inputs[other_port]
        src = op.inputs[port]
        proj = _projection_pair(conv, ops, cons, src, nn)
        if proj is not None:
            x, name, conv_key, bn_key = proj
            if x == other or x in ancestors(ops, other):
                applied = "conv_bn_always" if ops[x].shape == op.shape else "conv_bn"
                op.inputs[port] = x
                op.shortcut[port] = (applied, name)
                del ops[conv_key], ops[bn_key]
                return consumers(ops)
        zp = _zero_pad_chain(ops, cons, src)
        if zp is not None:
            x, removed, kind = zp
            if x == other or x in ancestors(ops, other):
                op.inputs[port] = x
                op.shortcut[port] = (kind, _scope_attr(conv, ops[removed[0]]) or "shortcut")
                for k in removed:
                    del ops[k]
                return consumers(ops)
        if src in ancestors(ops, other):
            op.shortcut[port] = ("identity", "shortcut")
            return cons
    return cons


def _leftover_error(conv: Any, op: Any) -> str | None:
    """The refusal for a helper op that no pattern folded away (None for a real layer)."""
    if op.type in ("_Subsample", "_ChannelPad"):
        what = "slicing" if op.type == "_Subsample" else "padding"
        return (
            f'{what} ({op.key}) at "{_scope_attr(conv, op, full=True)}": only a zero-pad '
            "shortcut (x[:, :, ::s, ::s] padded with zero channels) into an addition is supported"
        )
    if op.type == "_Scale":
        return (
            f'multiplication by a constant ({op.key}) at "{_scope_attr(conv, op, full=True)}": '
            "only as a term of a weighted sum (c1 * a + c2 * b) is supported"
        )
    if op.type in ("_ToRow", "_FromRow"):
        return (
            f'a reshape ({op.key}) at "{_scope_attr(conv, op, full=True)}": only globally pooled '
            "channels viewed as one sequence for a one-channel Conv1d, and back (ECA-Net), are supported"
        )
    if op.type == "ChannelConv1d" and tuple(op.shape[1:]) != (1, 1):
        return (
            f'a Conv1d ({op.key}) at "{_scope_attr(conv, op, full=True)}": only over the channels of a '
            "global average pool, as in ECA-Net, is supported"
        )
    if op.type == "_AddThree":
        return (
            f'adding a constant ({op.key}) at "{_scope_attr(conv, op, full=True)}": only inside a '
            "hand-written hard-sigmoid or hard-swish (F.relu6(x + 3) / 6, x * F.relu6(x + 3) / 6)"
        )
    if op.type == "_OneMinus":
        return (
            f'subtraction ({op.key}) at "{_scope_attr(conv, op, full=True)}": only 1 - t '
            "inside a highway gate t * h + (1 - t) * x is supported"
        )
    return None


def _fold_hard_activations(ops: dict[str, Any]) -> None:
    """MobileNetV3's activations written by hand: ``relu6(x + 3) / 6`` is a Hardsigmoid of x and
    ``x * relu6(x + 3) / 6`` a Hardswish of x (the ``/ 6`` is a ``_Scale`` of 1/6); the scale's op
    becomes the layer, the steps before it go."""
    cons = consumers(ops)

    def relu6_of_x_plus_3(key: str) -> str | None:
        """The x of relu6(x + 3) at ``key`` (each step used once), else None."""
        r = ops.get(key)
        if r is None or r.type != "ReLU6" or len(cons[key]) != 1:
            return None
        a = ops.get(r.inputs[0])
        if a is None or a.type != "_AddThree" or len(cons[a.key]) != 1:
            return None
        return a.inputs[0]

    for key in [
        k for k, op in ops.items() if op.type == "_Scale" and abs(op.params["value"] - 1 / 6) < 1e-12
    ]:
        scale = ops[key]
        src = ops.get(scale.inputs[0])
        if src is None or len(cons[src.key]) != 1:
            continue
        x = relu6_of_x_plus_3(src.key)
        if x is not None:  # relu6(x + 3) / 6
            gone = [src.key, src.inputs[0]]
            scale.type, scale.params, scale.inputs = "Hardsigmoid", {"inplace": False}, [x]
        elif src.type == "Multiply" and len(src.inputs) == 2:  # x * relu6(x + 3) / 6
            a, b = src.inputs
            pair = next(
                ((y, r) for y, r in ((a, b), (b, a)) if relu6_of_x_plus_3(r) == y),
                None,
            )
            if pair is None:
                continue
            y, r = pair
            gone = [src.key, r, ops[r].inputs[0]]
            scale.type, scale.params, scale.inputs = "Hardswish", {"inplace": False}, [y]
        else:
            continue
        for k in gone:
            del ops[k]
        cons = consumers(ops)


def _fold_channel_convs(conv: Any) -> None:
    """ECA-Net's attention (timm's EcaModule): x.mean((2, 3)) -> view(B, 1, C) -> Conv1d(1, 1) ->
    [activations] -> view(B, C, 1, 1) -> AdaptiveAvgPool2d(1) -> ChannelConv1d -> [activations], all on
    the pooled Cx1x1 tensor (the mean without keepdim imports as pool + Flatten, the views as
    _ToRow / _FromRow)."""
    from graph import registry

    ops = conv.ops
    cons = consumers(ops)
    for row in [op for op in ops.values() if op.type == "_ToRow"]:
        flat = ops[row.inputs[0]]
        if flat.type != "Flatten" or len(cons[flat.key]) != 1:
            continue
        pool = ops[flat.inputs[0]]
        if pool.type != "AdaptiveAvgPool2d" or pool.params.get("output_size") != 1:
            continue
        chain: list[Any] = []
        key = row.key
        while len(cons[key]) == 1:
            op = ops[cons[key][0]]
            lt = registry.get(op.type)
            if op.type == "ChannelConv1d" or (chain and lt is not None and lt.category == "activation"):
                chain.append(op)
                key = op.key
            else:
                break
        back = ops[cons[key][0]] if len(cons[key]) == 1 else None
        if not chain or back is None or back.type != "_FromRow":
            continue
        chain[0].inputs = [pool.key]
        for op in chain:
            op.shape = pool.shape
        for op in ops.values():
            op.inputs = [chain[-1].key if i == back.key else i for i in op.inputs]
        if conv.output == back.key:
            conv.output = chain[-1].key
        del ops[row.key], ops[flat.key], ops[back.key]
        cons = consumers(ops)


def _fold_gates(ops: dict[str, Any]) -> None:
    """t * h + (1 - t) * x (any operand order) -> Gate(h, t, x)."""
    cons = consumers(ops)
    for op in list(ops.values()):
        if (
            op.key not in ops
            or op.type != "Add"
            or len(op.inputs) != 2
            or op.params.get("weights", "none") != "none"
        ):
            continue
        a, b = (ops[i] for i in op.inputs)
        if a.type != "Multiply" or b.type != "Multiply":
            continue
        for m1, m2 in ((a, b), (b, a)):
            om = next((ops[i] for i in m2.inputs if ops[i].type == "_OneMinus"), None)
            if om is None:
                continue
            t = om.inputs[0]
            if t not in m1.inputs:
                continue
            h = m1.inputs[1] if m1.inputs[0] == t else m1.inputs[0]
            x = m2.inputs[1] if m2.inputs[0] == om.key else m2.inputs[0]
            if len(cons[m1.key]) != 1 or len(cons[m2.key]) != 1 or len(cons[om.key]) != 1:
                continue
            op.type, op.params, op.inputs = "Gate", {}, [h, t, x]
            del ops[m1.key], ops[m2.key], ops[om.key]
            cons = consumers(ops)
            break


def _fold_scales(ops: dict[str, Any]) -> None:
    """c1 * a + c2 * b -> Add with fixed weights."""
    cons = consumers(ops)
    for op in list(ops.values()):
        if op.type != "Add" or op.params.get("weights", "none") != "none":
            continue
        terms = [ops[i] for i in op.inputs]
        if not any(t.type == "_Scale" and len(cons[t.key]) == 1 for t in terms):
            continue
        values, inputs = [], []
        for t in terms:
            if t.type == "_Scale" and len(cons[t.key]) == 1:
                values.append(t.params["value"])
                inputs.append(t.inputs[0])
                del ops[t.key]
            else:
                values.append(1.0)
                inputs.append(t.key)
        op.params = {"num_inputs": len(inputs), "weights": "fixed", "weight_values": values}
        op.inputs = inputs
        cons = consumers(ops)


def _scope_attr(conv: Any, op: Any, full: bool = False) -> str | None:
    if not op.scope:
        return "the top level" if full else None
    qual = conv.scopes[op.scope[-1]].qualname
    return qual if full else qual.rpartition(".")[2]


def fold_channel_pads(conv: Any) -> None:
    """``F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, a, b))`` with channels added before (``a`` > 0) that did not
    become a ``zero_pad_both`` shortcut (not into an addition, or not split in halves): one ChannelPad
    layer instead. Runs after the shortcuts are found."""
    ops = conv.ops
    cons = consumers(ops)
    for key in [k for k, op in ops.items() if op.type == "_ChannelPad" and op.params.get("before")]:
        op = ops[key]
        stride, src = 1, op.inputs[0]
        sub = ops.get(src)
        if sub is not None and sub.type == "_Subsample" and len(cons[src]) == 1:
            stride, src = sub.params["stride"], sub.inputs[0]
            del ops[sub.key]
        op.type, op.inputs = "ChannelPad", [src]
        op.params = {"stride": stride, "before": op.params["before"], "after": op.params["extra"]}


def _zero_pad_chain(ops, cons, src: str) -> tuple[str, list[str], str] | None:
    """pad(x[:, :, ::s, ::s]) (either half alone too) -> (x, the ops to remove, the projection):
    ``zero_pad`` where the new channels are appended, ``zero_pad_both`` where half of them (rounded
    down) come first, as the option A lambda pads ``planes // 4`` on each side."""
    removed: list[str] = []
    key, projection = src, "zero_pad"
    for kind in ("_ChannelPad", "_Subsample"):
        op = ops.get(key)
        if op is not None and op.type == kind and len(cons[key]) == 1:
            if kind == "_ChannelPad" and op.params.get("before"):
                if not _symmetric(op.params):
                    return None
                projection = "zero_pad_both"
            removed.append(key)
            key = op.inputs[0]
    return (key, removed, projection) if removed else None


def _symmetric(pad: dict) -> bool:
    """Zero channels on both sides, the first half of them (rounded down) before: ZeroPadBothSidesShortcut."""
    return pad["before"] == (pad["before"] + pad["extra"]) // 2


def _projection_pair(conv: Any, ops, cons, src: str, nn) -> tuple[str, str, str, str] | None:
    bn = ops.get(src)
    if bn is None or bn.type != "BatchNorm2d" or bn.attr is None or len(cons[src]) != 1:
        return None
    cv = ops[bn.inputs[0]]
    if cv.type != "Conv2d" or cv.attr is None or len(cons[cv.key]) != 1:
        return None
    p = cv.params
    if (p["kernel_size"], p["padding"], p["dilation"], p["groups"], p["bias"]) != (1, 0, 1, 1, False):
        return None
    if (
        abs(bn.params["eps"] - 1e-5) > 1e-12
        or abs(bn.params["momentum"] - 0.1) > 1e-12
        or not bn.params["affine"]
    ):
        return None
    parent = cv.attr.rpartition(".")[0]
    if not parent or bn.attr != parent + ".1" or cv.attr != parent + ".0":
        return None
    seq = conv.model.get_submodule(parent)
    if not plain_sequential(type(seq)) or len(seq) != 2:
        return None
    x = ops[cv.inputs[0]]
    out_h = bn.shape[1] if len(bn.shape) == 3 else None
    if len(x.shape) != 3 or out_h is None:
        return None
    # the stride the analyzer will pick must be the module's
    if subsample_stride(x.shape, bn.shape) != p["stride"]:
        return None
    return x.key, parent.rpartition(".")[2], cv.key, bn.key


def plain_sequential(cls: type) -> bool:
    """``nn.Sequential`` or a subclass that keeps its forward (torchvision's Conv2dNormActivation)."""
    from torch import nn

    return issubclass(cls, nn.Sequential) and cls.forward is nn.Sequential.forward


__all__ = [
    "ancestors",
    "consumers",
    "find_shortcuts",
    "fix_inplace",
    "fold_channel_pads",
    "plain_sequential",
]
