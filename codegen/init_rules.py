"""Weight initialisation: the registry's ``init`` rule names turned into code.

A layer type names its rule (``conv``, ``norm``, ``linear``); a node's own
parameters choose the variant. The emitter writes the initialisation at the end
of the network's constructor, in torchvision's ResNet style: a loop over
``self.modules()`` for the rule most convolutions share, then explicit lines
for the nodes that differ (a zero-initialised BatchNorm at the end of a
residual branch, a highway gate's bias of -2, a Linear head drawn from
N(0, 0.01)).

Rules (all match what torch or torchvision do):

- ``conv``: ``init`` = ``kaiming_fan_out`` -> ``kaiming_normal_(mode="fan_out",
  nonlinearity="relu")`` (torchvision's ResNet), ``kaiming_fan_in`` -> the same
  with ``mode="fan_in"`` (torchvision's DenseNet), ``torch_default`` -> left as
  torch made it. A bias, if any, is set to ``bias_init`` (under
  ``torch_default`` only when ``bias_init`` is not 0). Shortcut projection
  convs follow ``kaiming_fan_out``, as in torchvision, unless every conv is
  ``torch_default`` (an imported network): then they keep torch's default too.
  A ChannelConv1d (ECA-Net's conv, no ``init`` parameter) keeps torch's default: the
  ECA-Net and timm ResNets' loops initialise only ``nn.Conv2d``.
- ``norm``: BatchNorm2d and GroupNorm weight 1, bias 0 (written out, as
  torchvision does); ``zero_init`` on a BatchNorm2d sets its weight to 0.
- ``linear``: ``torch_default``, ``zero_bias`` (torch's weight, bias 0:
  torchvision's DenseNet), ``zeros`` (weight and bias 0) or ``normal_0.01``
  (weight N(0, 0.01), bias 0).
- ``weight_values``: a learnable ``Add`` starts at its ``weight_values``, a ``LayerScale`` at its
  ``init_value`` (both set in the constructor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codegen.plan import ClassPlan
    from graph.model import Node

CONV_DEFAULT = ("kaiming_fan_out", 0.0)
CONV_RULES = ("torch_default", "kaiming_fan_out", "kaiming_fan_in")


def set_conv_init(project: Any, rule: str = "torch_default") -> int:
    """Give every Conv2d of ``project`` (its network and its blocks) the weight rule ``rule``; returns
    how many. An imported network is structure only: it starts from torch's defaults unless the user
    picks a rule (``import --init``); templates keep their paper's rule."""
    from graph.errors import UserError

    if rule not in CONV_RULES:
        raise UserError(f"unknown init rule {rule!r}; use one of {', '.join(CONV_RULES)}")
    graphs = [project.graph, *(b.graph for b in project.blocks.values())]
    count = 0
    for g in graphs:
        for node in g.nodes.values():
            if node.type == "Conv2d":
                node.params["init"] = rule
                count += 1
    return count


def conv_rule(params: dict[str, Any]) -> tuple[str, float]:
    return params.get("init", "kaiming_fan_out"), float(params.get("bias_init", 0.0))


def conv_weight_lines(init: str, target: str) -> list[str]:
    if init == "kaiming_fan_out":
        return [f'nn.init.kaiming_normal_({target}, mode="fan_out", nonlinearity="relu")']
    if init == "kaiming_fan_in":
        return [f'nn.init.kaiming_normal_({target}, mode="fan_in", nonlinearity="relu")']
    return []


def constant_line(target: str, value: float) -> str:
    if value == 0:
        return f"nn.init.zeros_({target})"
    if value == 1:
        return f"nn.init.ones_({target})"
    return f"nn.init.constant_({target}, {float(value)!r})"


def conv_node_lines(init: str, bias_init: float, has_bias: bool, module: str) -> list[str]:
    """Explicit lines for one conv whose rule differs from the loop's."""
    if init == "torch_default":
        lines = [f"{module}.reset_parameters()"]
        if has_bias and bias_init != 0:
            lines.append(constant_line(f"{module}.bias", bias_init))
        return lines
    lines = conv_weight_lines(init, f"{module}.weight")
    if has_bias:
        lines.append(constant_line(f"{module}.bias", bias_init))
    return lines


def linear_node_lines(init: str, has_bias: bool, module: str) -> list[str]:
    if init == "zero_bias":
        return [f"nn.init.zeros_({module}.bias)"] if has_bias else []
    if init == "zeros":
        lines = [f"nn.init.zeros_({module}.weight)"]
    elif init == "normal_0.01":
        lines = [f"nn.init.normal_({module}.weight, 0, 0.01)"]
    else:
        return []
    if has_bias:
        lines.append(f"nn.init.zeros_({module}.bias)")
    return lines


def init_lines(blocks: Sequence[ClassPlan], net: ClassPlan, class_names: Mapping[str, str]) -> list[str]:
    """The network constructor's weight initialisation lines (none where torch's defaults stand), from
    the classes' frozen plans; ``class_names`` gives a block definition's class."""
    classes = [*blocks, net]
    convs: list[tuple[ClassPlan, Node, tuple]] = []
    norms: set[str] = set()
    norm_ok = True
    extra: dict[str | None, list[str]] = {}
    shortcut_convs = 0
    for cls in classes:
        shortcut_convs += sum(1 for k in cls.static.values() if k == "conv_bn")
        shortcut_convs += sum(
            1
            for eid in cls.dynamic
            if any(eid in i.shortcuts and i.shortcuts[eid].applied == "conv_bn" for i in cls.infos)
        )
        for nid in cls.rep.order:
            node = cls.graph.nodes[nid]
            if nid not in cls.code_paths:
                continue
            p = cls.rep.nodes[nid].params
            if node.type == "Conv2d":
                convs.append((cls, node, conv_rule(p) + (bool(p["bias"]),)))
            elif node.type in ("BatchNorm2d", "GroupNorm"):
                norms.add(node.type)
                norm_ok = norm_ok and p["affine"]
    # the loop's conv rule: the one most convolutions share (shortcut projections count)
    counts: dict[tuple, int] = {}
    for _, _, rule in convs:
        counts[rule[:2]] = counts.get(rule[:2], 0) + 1
    if shortcut_convs:  # projections: torchvision's rule, or torch's default where every conv keeps it
        proj = CONV_DEFAULT
        if convs and all(rule[0] == "torch_default" for _, _, rule in convs):
            proj = ("torch_default", 0.0)
        counts[proj] = counts.get(proj, 0) + shortcut_convs
    loop_rule = max(sorted(counts), key=lambda r: counts[r]) if counts else None
    loop_bias = any(rule[2] for _, _, rule in convs if rule[:2] == loop_rule)
    body: list[str] = []
    if loop_rule is not None and loop_rule[0] != "torch_default":
        body.append("            if isinstance(m, nn.Conv2d):")
        body += ["                " + s for s in conv_weight_lines(loop_rule[0], "m.weight")]
        if loop_bias:
            body += [
                "                if m.bias is not None:",
                "                    " + constant_line("m.bias", loop_rule[1]),
            ]
    if any(k == "conv_bn" for c in classes for k in c.static.values()) or shortcut_convs:
        norms.add("BatchNorm2d")  # the projections' BatchNorms
    if norms and norm_ok:
        kw = "elif" if body else "if"
        types = [f"nn.{t}" for t in ("BatchNorm2d", "GroupNorm") if t in norms]
        which = types[0] if len(types) == 1 else f"({', '.join(types)})"
        body += [
            f"            {kw} isinstance(m, {which}):",
            "                nn.init.ones_(m.weight)",
            "                nn.init.zeros_(m.bias)",
        ]
    for cls, node, rule in convs:
        if rule[:2] != loop_rule or (rule[2] and not loop_bias):
            extra.setdefault(cls.block.name if cls.block else None, []).extend(
                conv_node_lines(rule[0], rule[1], rule[2], ref(cls, node))
            )
    for cls in classes:
        for nid in cls.rep.order:
            node = cls.graph.nodes[nid]
            if nid not in cls.code_paths:
                continue
            p = cls.rep.nodes[nid].params
            key = cls.block.name if cls.block else None
            if node.type == "BatchNorm2d" and p["zero_init"] and p["affine"]:
                extra.setdefault(key, []).append(f"nn.init.zeros_({ref(cls, node)}.weight)")
            elif node.type == "Linear":
                extra.setdefault(key, []).extend(linear_node_lines(p["init"], p["bias"], ref(cls, node)))
    lines: list[str] = []
    if body:
        lines += ["        for m in self.modules():"] + body
    for cls in blocks:
        todo = extra.get(cls.block.name)
        if todo:
            cname = class_names[cls.block.name]
            lines += ["        for m in self.modules():", f"            if isinstance(m, {cname}):"]
            lines += ["                " + s for s in todo]
    lines += ["        " + s for s in extra.get(None, [])]
    return lines


def ref(owner: ClassPlan, node: Node) -> str:
    """How the initialisation reaches a node's module: ``self.fc``, or ``m.bn2`` inside a block loop."""
    prefix = "self" if owner.block is None else "m"
    return f"{prefix}.{owner.code_paths[node.id]}"
