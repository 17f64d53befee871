"""Weight initialisation: the registry's ``init`` rule names turned into code.

A layer type names its rule (``conv``, ``norm``, ``linear``); a node's own
parameters choose the variant. The emitter writes one ``_init_weights``
method on the network class, in torchvision's ResNet style: a loop over
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
  convs follow ``kaiming_fan_out``, as in torchvision.
- ``norm``: BatchNorm2d and GroupNorm weight 1, bias 0 (written out, as
  torchvision does); ``zero_init`` on a BatchNorm2d sets its weight to 0.
- ``linear``: ``torch_default``, ``zeros`` (weight and bias 0) or
  ``normal_0.01`` (weight N(0, 0.01), bias 0).
- a learnable ``Add`` starts at its ``weight_values`` (set in its constructor).
"""

from __future__ import annotations

from typing import Any

CONV_DEFAULT = ("kaiming_fan_out", 0.0)


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
    if init == "zeros":
        lines = [f"nn.init.zeros_({module}.weight)"]
    elif init == "normal_0.01":
        lines = [f"nn.init.normal_({module}.weight, 0, 0.01)"]
    else:
        return []
    if has_bias:
        lines.append(f"nn.init.zeros_({module}.bias)")
    return lines
