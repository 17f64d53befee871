"""Repairs: the fixes offered with a diagnostic that needs more than the check itself knows.

Which projection a shortcut needs, which padding keeps a branch's size, and how a shape rule's error on a
merge names the wrong edge. Every fix is a typed action from graph/fixes.py.
"""

from __future__ import annotations

from graph import registry
from graph.diagnostics import Fix
from graph.fixes import InsertProjectionFix, MakeShortcutFix, SetEdgeFix, SetParamFix
from graph.model import Edge, Graph, Node
from graph.params import format_value, pair
from graph.registry import ShapeError
from graph.shapes.results import GraphInfo, NodeInfo, Shape, fmt


def subsample_stride(src: Shape, target: Shape) -> int | None:
    """The stride s that takes an image of ``src``'s height and width to ``target``'s, as a 1x1
    convolution or a zero-pad shortcut subsamples (size (h - 1) // s + 1), or None when none does."""
    h, w, h2, w2 = src[1], src[2], target[1], target[2]
    for s in range(1, max(h, 1) + 1):
        if (h - 1) // s + 1 == h2 and (w - 1) // s + 1 == w2:
            return s
    return None


def projection_fixes(
    edge: Edge, block: str | None, src: Shape, target: Shape, exclude: str = ""
) -> list[Fix]:
    """The projections that would turn a shortcut's ``src`` into ``target``: 1x1 conv + BN, zero-pad."""
    fixes = []
    if len(src) == 3 and len(target) == 3:
        stride = subsample_stride(src, target)
        if stride is not None and exclude != "conv_bn":
            tail = f" /{stride}" if stride > 1 else ""
            fixes.append(
                Fix(
                    f"Set the shortcut's projection to 1x1 conv + BN{tail}",
                    SetEdgeFix(block=block, edge=edge.id, field="projection", value="conv_bn"),
                )
            )
        if stride is not None and target[0] >= src[0] and exclude != "zero_pad":
            fixes.append(
                Fix(
                    "Set the shortcut's projection to zero-pad",
                    SetEdgeFix(block=block, edge=edge.id, field="projection", value="zero_pad"),
                )
            )
    return fixes


def shape_error_diagnostic(
    exc: ShapeError,
    graph: Graph,
    node: Node,
    by_port: dict[int, Edge],
    ni: NodeInfo,
    block: str | None,
    label: str,
    info: GraphInfo,
) -> tuple[str, str | None, list[Fix]]:
    """A shape rule's error as (message, edge, fixes): the rule's own fixes bound to this node, and for a
    merge whose inputs disagree, which edge is wrong and the projections or paddings that would mend it."""
    fixes = [Fix(f.label, f.action.at(block, node.id)) for f in exc.fixes]
    message = f"{label}: {exc.message}."
    edge_id = None
    if exc.code == "shape_mismatch" and exc.port is not None and len(ni.in_shapes) > 1:
        port = exc.port
        bad = by_port[port]
        ref_port = 0 if port != 0 else 1
        ref = by_port[ref_port]

        def describe(p: int, e: Edge) -> str:
            kind = "shortcut" if e.is_shortcut else "edge"
            return f'input {p + 1} ({kind} from "{graph.nodes[e.src].name}") is {fmt(ni.in_shapes[p])}'

        message = f"{label}: {describe(port, bad)} but {describe(ref_port, ref)}"
        note = registry.get(node.type).mismatch_note
        if note:
            message += f"; {note}"
        shortcut = bad if bad.is_shortcut else (ref if ref.is_shortcut else None)
        if shortcut is not None:
            other = ref if shortcut is bad else bad
            src = info.nodes[shortcut.src].out_shape
            target = ni.in_shapes[other.dst_port]
            sfix = projection_fixes(shortcut, block, src, target)
            fixes.extend(sfix)
            if sfix:
                message += " — set the shortcut's projection to " + " or ".join(
                    "1x1 conv + BN" if f.action.value == "conv_bn" else "zero-pad" for f in sfix
                )
            edge_id = shortcut.id
        else:
            src, target = ni.in_shapes[port], ni.in_shapes[ref_port]
            if len(src) == 3 and len(target) == 3:
                stride = subsample_stride(src, target)
                if stride is not None:
                    fixes.append(
                        Fix(
                            f'Make the edge from "{graph.nodes[bad.src].name}" a shortcut with 1x1 conv + BN',
                            MakeShortcutFix(block=block, edge=bad.id, projection="conv_bn"),
                        )
                    )
                    fixes.append(
                        Fix(
                            f'Insert a 1x1 conv + BN projection after "{graph.nodes[bad.src].name}"',
                            InsertProjectionFix(
                                block=block, edge=bad.id, out_channels=target[0], stride=stride
                            ),
                        )
                    )
                    message += " — insert a 1x1 projection"
            edge_id = bad.id
        pad = padding_fixes(graph, info, block, bad, ni.in_shapes[ref_port]) + padding_fixes(
            graph, info, block, ref, ni.in_shapes[port]
        )
        if pad:
            fixes[:0] = pad
            message += f" — {pad[0].label[0].lower()}{pad[0].label[1:]}"
        message += "."
    elif exc.code == "concat_mismatch" and exc.port is not None:
        bad, ref = by_port[exc.port], by_port[0]
        a, b = ni.in_shapes[exc.port], ni.in_shapes[0]
        why = (
            "one is a flat vector and the other an image"
            if len(a) != len(b)
            else "all but the channel size must match"
        )
        message = (
            f'{label}: input {exc.port + 1} (edge from "{graph.nodes[bad.src].name}") is {fmt(a)} but '
            f'input 1 (edge from "{graph.nodes[ref.src].name}") is {fmt(b)}; {why}'
        )
        pad = padding_fixes(graph, info, block, bad, b) + padding_fixes(graph, info, block, ref, a)
        if pad:
            fixes[:0] = pad
            message += f" — {pad[0].label[0].lower()}{pad[0].label[1:]}"
        message += "."
        edge_id = bad.id
    return message, edge_id, fixes


def padding_fixes(
    graph: Graph, info: GraphInfo, block: str | None, edge: Edge, want: Shape | None
) -> list[Fix]:
    """Walk up the branch that ends in ``edge`` to the first node that changes the spatial size; if it is a
    stride-1 window layer (a type declared ``pads_to_keep_size``: convolution, pooling) with an odd window
    whose input already has the size the merge wants,
    offer the padding that keeps the size (the usual slip: padding 0 on a 3x3 in a residual branch)."""
    if want is None or len(want) != 3:
        return []
    node_id, steps = edge.src, 0
    while steps < 32:
        ni, node = info.nodes.get(node_id), graph.nodes.get(node_id)
        if ni is None or node is None or ni.out_shape is None or len(ni.out_shape) != 3:
            return []
        if not ni.in_shapes or ni.in_shapes[0] is None or len(ni.in_shapes[0]) != 3:
            return []
        in_hw, out_hw = ni.in_shapes[0][1:], ni.out_shape[1:]
        if in_hw != out_hw:
            p = ni.params
            k = p.get("kernel_size")
            lt = registry.get(node.type)
            if (
                lt is not None
                and lt.pads_to_keep_size
                and in_hw == want[1:]
                and _odd_sizes(k)
                and p.get("stride") in (1, (1, 1))
            ):
                (kh, kw), (dh, dw) = pair(k), pair(p.get("dilation", 1))
                pads = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
                pad = pads[0] if pads[0] == pads[1] else pads
                limit = lt.spec("padding").max
                if limit is not None and max(pads) > limit:
                    return []
                return [
                    Fix(
                        f'Set padding of "{node.name}" to {format_value(pad)} (keeps the size)',
                        SetParamFix(block=block, node=node.id, param="padding", value=pad),
                    )
                ]
            return []
        ins = [e for e in info.in_edges.get(node_id, []) if e.dst_port == 0 and e.src in graph.nodes]
        if not ins:
            return []
        node_id, steps = ins[0].src, steps + 1
    return []


def _odd_sizes(k: object) -> bool:
    """A kernel (a number or height x width) whose padding can keep the size: odd both ways."""
    if isinstance(k, tuple) and len(k) == 2:
        return all(isinstance(v, int) and v % 2 == 1 for v in k)
    return isinstance(k, int) and not isinstance(k, bool) and k % 2 == 1
