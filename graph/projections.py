"""The shortcut projections (DESIGN.md "Core concepts"), declared once: the file format's name, the
label the analysis and the inspector use, and the short text on a shortcut arc in the canvas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Projection:
    name: str  # the project file's ``projection`` value
    label: str  # in messages and the inspector: "1x1 conv + BN (always)"
    chip: str  # on the canvas arc (the stride is added there): "1x1 conv"


PROJECTIONS: Mapping[str, Projection] = MappingProxyType(
    {
        p.name: p
        for p in (
            Projection("identity", "identity", "identity"),
            Projection("zero_pad", "zero-pad", "zero-pad"),
            # the option A lambda as CIFAR ResNet code writes it: half the new channels before, half after
            Projection("zero_pad_both", "zero-pad (both sides)", "zero-pad"),
            Projection("conv_bn", "1x1 conv + BN", "1x1 conv"),
            Projection("conv_bn_always", "1x1 conv + BN (always)", "1x1 conv"),
        )
    }
)
