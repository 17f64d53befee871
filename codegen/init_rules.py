"""Weight initialisation: the registry's ``init`` rule names turned into code.

A layer type declares its rule (``LayerType.init``: :data:`RULES`) and
:func:`init_lines` dispatches on it, never on type names; a node's own
parameters choose the variant. A new type that declares ``conv`` joins the
convolutions' loop (its module class in the ``isinstance``), one that declares
``norm`` the norms'. The emitter writes the initialisation at the end
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
- ``torch``: left as torch makes it. A ChannelConv1d (ECA-Net's conv, no
  ``init`` parameter): the ECA-Net and timm ResNets' loops initialise only
  ``nn.Conv2d``; LayerNorm, LayerNorm2d and InstanceNorm2d: torch starts them
  at weight 1, bias 0 already (docs/decisions.md, issue 23).
- ``norm``: BatchNorm2d and GroupNorm weight 1, bias 0 (written out, as
  torchvision does); ``zero_init`` sets the weight to 0.
- ``linear``: ``torch_default``, ``zero_bias`` (torch's weight, bias 0:
  torchvision's DenseNet), ``zeros`` (weight and bias 0) or ``normal_0.01``
  (weight N(0, 0.01), bias 0).
- ``weight_values``: a learnable ``Add`` starts at its ``weight_values``, a ``LayerScale`` at its
  ``init_value`` (both set in the constructor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graph import registry

if TYPE_CHECKING:
    from codegen.plan import ClassPlan
    from graph.model import Node

# LayerType.init -> what :func:`init_lines` does for a node that declares it
RULES = {
    "none": "nothing: no weights",
    "torch": "nothing: torch's own initialisation stands (LayerNorm's weight 1 and bias 0, ECA's conv)",
    "conv": "Kaiming (the node's init and bias_init), in a loop over the conv module classes",
    "norm": "weight 1, bias 0 in a loop over the norm module classes; zero_init: weight 0",
    "linear": "the node's init: torch_default, zero_bias, zeros or normal_0.01",
    "weight_values": "nothing here: the constructor starts it at its values",
}
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


def _rule(node: Node) -> str:
    """The node's declared init rule (LayerType.init); a block instance's layers are its class's."""
    lt = registry.get(node.type) if node.block_name is None else None
    return lt.init if lt is not None else "none"


def _module_class(cls: ClassPlan, nid: str) -> str:
    """``nn.BatchNorm2d``: the class of the module a node builds (what an ``isinstance`` loop tests)."""
    return cls.module_exprs[nid].func


def init_lines(blocks: Sequence[ClassPlan], net: ClassPlan, class_names: Mapping[str, str]) -> list[str]:
    """The network constructor's weight initialisation lines (none where torch's defaults stand), from
    the classes' frozen plans, by each node's declared rule (LayerType.init); ``class_names`` gives a
    block definition's class."""
    classes = [*blocks, net]
    survey = _survey(classes)
    loop_rule, loop_bias = _loop_rule(survey)
    body = _loop_body(survey, loop_rule, loop_bias, classes)
    extra: dict[str | None, list[str]] = {}
    for cls, node, rule in survey.convs:
        if rule[:2] != loop_rule or (rule[2] and not loop_bias):
            extra.setdefault(cls.block.name if cls.block else None, []).extend(
                conv_node_lines(rule[0], rule[1], rule[2], ref(cls, node))
            )
    _add_norm_and_linear_lines(classes, extra)
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


@dataclass
class _Survey:
    """What the classes hold that the initialisation loop depends on."""

    # (class, node, (init, bias_init, has_bias)) per convolution
    convs: list[tuple[ClassPlan, Node, tuple]] = field(default_factory=list)
    conv_classes: set[str] = field(default_factory=set)
    norms: set[str] = field(default_factory=set)  # module classes under the norm rule
    norm_ok: bool = True  # every norm is affine
    shortcut_convs: int = 0  # conv_bn shortcut projections


def _survey(classes: list[ClassPlan]) -> _Survey:
    """The convolutions with their rules, the module classes under the conv and norm rules, and the
    number of shortcut projection convs."""
    survey = _Survey()
    for cls in classes:
        survey.shortcut_convs += sum(1 for k in cls.static.values() if k == "conv_bn")
        survey.shortcut_convs += sum(
            1
            for eid in cls.dynamic
            if any(eid in i.shortcuts and i.shortcuts[eid].applied == "conv_bn" for i in cls.infos)
        )
        for nid in cls.rep.order:
            node = cls.graph.nodes[nid]
            if nid not in cls.code_paths:
                continue
            p = cls.rep.nodes[nid].params
            rule = _rule(node)
            if rule == "conv":
                survey.convs.append((cls, node, conv_rule(p) + (bool(p.get("bias", True)),)))
                survey.conv_classes.add(_module_class(cls, nid))
            elif rule == "norm":
                survey.norms.add(_module_class(cls, nid))
                survey.norm_ok = survey.norm_ok and p.get("affine", True)
    return survey


def _loop_rule(survey: _Survey) -> tuple[tuple | None, bool]:
    """The loop's conv rule, (init, bias_init): the one most convolutions share (shortcut projections
    count), and whether a conv under it has a bias. Projections add ``nn.Conv2d`` to the loop's classes."""
    convs = survey.convs
    counts: dict[tuple, int] = {}
    for _, _, rule in convs:
        counts[rule[:2]] = counts.get(rule[:2], 0) + 1
    if survey.shortcut_convs:  # projections: torchvision's rule, or torch's default where every conv keeps it
        survey.conv_classes.add("nn.Conv2d")
        proj = CONV_DEFAULT
        if convs and all(rule[0] == "torch_default" for _, _, rule in convs):
            proj = ("torch_default", 0.0)
        counts[proj] = counts.get(proj, 0) + survey.shortcut_convs
    loop_rule = max(sorted(counts), key=lambda r: counts[r]) if counts else None
    loop_bias = any(rule[2] for _, _, rule in convs if rule[:2] == loop_rule)
    return loop_rule, loop_bias


def _loop_body(
    survey: _Survey, loop_rule: tuple | None, loop_bias: bool, classes: list[ClassPlan]
) -> list[str]:
    """The body of the ``for m in self.modules()`` loop: the conv rule's lines, then the norms'."""
    body: list[str] = []
    if loop_rule is not None and loop_rule[0] != "torch_default":
        body.append(f"            if isinstance(m, {_one_or_tuple(survey.conv_classes)}):")
        body += ["                " + s for s in conv_weight_lines(loop_rule[0], "m.weight")]
        if loop_bias:
            body += [
                "                if m.bias is not None:",
                "                    " + constant_line("m.bias", loop_rule[1]),
            ]
    if any(k == "conv_bn" for c in classes for k in c.static.values()) or survey.shortcut_convs:
        survey.norms.add("nn.BatchNorm2d")  # the projections' BatchNorms
    if survey.norms and survey.norm_ok:
        kw = "elif" if body else "if"
        body += [
            f"            {kw} isinstance(m, {_one_or_tuple(survey.norms)}):",
            "                nn.init.ones_(m.weight)",
            "                nn.init.zeros_(m.bias)",
        ]
    return body


def _add_norm_and_linear_lines(classes: list[ClassPlan], extra: dict[str | None, list[str]]) -> None:
    """Appends, per class (None: the network), the explicit lines of zero-initialised norms and of
    Linear layers with their own rule."""
    for cls in classes:
        for nid in cls.rep.order:
            node = cls.graph.nodes[nid]
            if nid not in cls.code_paths:
                continue
            p = cls.rep.nodes[nid].params
            key = cls.block.name if cls.block else None
            rule = _rule(node)
            if rule == "norm" and p.get("zero_init", False) and p.get("affine", True):
                extra.setdefault(key, []).append(f"nn.init.zeros_({ref(cls, node)}.weight)")
            elif rule == "linear":
                extra.setdefault(key, []).extend(linear_node_lines(p["init"], p["bias"], ref(cls, node)))


def _one_or_tuple(module_classes: set[str]) -> str:
    """``nn.Conv2d``, or ``(nn.BatchNorm2d, nn.GroupNorm)`` in the registry's order of the types."""
    order = {f"nn.{t.name}": i for i, t in enumerate(registry.all_types())}
    names = sorted(module_classes, key=lambda c: (order.get(c, len(order)), c))
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


def ref(owner: ClassPlan, node: Node) -> str:
    """How the initialisation reaches a node's module: ``self.fc``, or ``m.bn2`` inside a block loop."""
    prefix = "self" if owner.block is None else "m"
    return f"{prefix}.{owner.code_paths[node.id]}"
