"""Small helper classes for what torch does not have, written into a generated file only when the
network uses them, so a generated file needs nothing but torch.

Each layer type that builds one declares it with its type (codegen/layer_codegen.py
``TypeCodegen.helper``); the only helpers that are no layer type's are the option A shortcut
projections' ``ZeroPadShortcut`` and ``ZeroPadBothSidesShortcut``. :data:`HELPERS` gathers them, in
the order a generated file lists them (``HelperClass.rank``). The texts are formatted as ``ruff format``
would format them.
"""

from __future__ import annotations

from codegen.layer_codegen import HELPER_TYPES, HelperClass

ZERO_PAD = '''\
class ZeroPadShortcut(nn.Module):
    """Option A shortcut (He et al. 2016): subsample by the stride, zero-pad new channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        x = x[:, :, ::s, ::s]  # every s-th row and column
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # new channels at the end, all zero
'''

ZERO_PAD_BOTH = '''\
class ZeroPadBothSidesShortcut(nn.Module):
    """Option A shortcut as CIFAR ResNet code often writes it (a lambda padding planes // 4 channels
    on each side): subsample by the stride, zero channels before and after."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        extra = out_channels - in_channels
        self.before, self.after = extra // 2, extra - extra // 2

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        x = x[:, :, ::s, ::s]  # every s-th row and column
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))  # zero channels on both sides
'''

ZERO_PAD_SHORTCUT = HelperClass("ZeroPadShortcut", ZERO_PAD, 0)
ZERO_PAD_BOTH_SHORTCUT = HelperClass("ZeroPadBothSidesShortcut", ZERO_PAD_BOTH, 7)

# name -> source, in the order they appear in a generated file
HELPERS = {
    h.name: h.source
    for h in sorted(
        [ZERO_PAD_SHORTCUT, ZERO_PAD_BOTH_SHORTCUT, *(e.helper for e in HELPER_TYPES.values())],
        key=lambda h: h.rank,
    )
}
