"""Small helper modules for layers that torch does not have.

Each is emitted into the generated file only when the network uses it, so a
generated file needs nothing but torch. The texts are already formatted as
``ruff format`` would format them.
"""

from __future__ import annotations

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

LAYER_NORM_2D = '''\
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels at each position of an image tensor (ConvNeXt)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''

WEIGHTED_ADD = '''\
class WeightedAdd(nn.Module):
    """Sum of the inputs, each scaled by a learnable weight."""

    def __init__(self, weights: list[float]) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(weights))

    def forward(self, inputs: list[Tensor]) -> Tensor:
        out = self.weight[0] * inputs[0]
        for i in range(1, len(inputs)):
            out = out + self.weight[i] * inputs[i]
        return out
'''

DROP_PATH = '''\
class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, each sample's branch is dropped with
    probability p and the kept ones scaled by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            keep = 1.0 - self.p
            shape = [x.shape[0]] + [1] * (x.dim() - 1)  # one draw per sample
            mask = torch.bernoulli(torch.full(shape, keep, dtype=x.dtype, device=x.device))
            return torch.div(x * mask, keep)
        return x
'''

PERMUTE = '''\
class Permute(nn.Module):
    """Reorder the axes of a tensor, as torchvision's Permute (channels last and back in ConvNeXt)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)
'''

CHANNEL_CONV_1D = '''\
class ChannelConv1d(nn.Conv1d):
    """ECA-Net's attention conv (Wang et al. 2020): one filter sliding over the channels of a pooled
    (B, C, 1, 1) tensor, zero-padded so that C stays C."""

    def __init__(self, kernel_size: int = 3, bias: bool = False) -> None:
        super().__init__(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        x = x.view(x.shape[0], 1, -1)  # the channels as one sequence
        x = F.conv1d(x, self.weight, self.bias, padding=self.padding)
        return x.view(x.shape[0], -1, 1, 1)
'''

RADIX_SOFTMAX = '''\
class RadixSoftmax(nn.Module):
    """A softmax across the radix groups of each channel (ResNeSt's split attention, SKNet's selection
    among its kernels); the channels come in as cardinality x radix x C' and leave radix first."""

    def __init__(self, radix: int, cardinality: int = 1) -> None:
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.view(shape[0], self.cardinality, self.radix, -1, shape[2], shape[3])
        x = x.transpose(1, 2)
        x = F.softmax(x, dim=1)
        return x.reshape(shape)
'''

# name -> source, in the order they appear in a generated file
HELPERS = {
    "ZeroPadShortcut": ZERO_PAD,
    "LayerNorm2d": LAYER_NORM_2D,
    "WeightedAdd": WEIGHTED_ADD,
    "DropPath": DROP_PATH,
    "Permute": PERMUTE,
    "ChannelConv1d": CHANNEL_CONV_1D,
    "RadixSoftmax": RADIX_SOFTMAX,
}
