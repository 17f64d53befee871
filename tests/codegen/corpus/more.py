"""More everyday styles: ModuleList loops, Lambda modules in Sequential, OrderedDict names, growing
feature lists, in-place activations, means over the spatial axes."""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModuleListNet(nn.Module):
    def __init__(self, channels=(8, 16, 32)):
        super().__init__()
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        c = 3
        for out in channels:
            self.convs.append(nn.Conv2d(c, out, 3, padding=1))
            self.bns.append(nn.BatchNorm2d(out))
            c = out
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        for conv, bn in zip(self.convs, self.bns):
            x = F.max_pool2d(F.relu(bn(conv(x))), 2)
        x = torch.mean(x, dim=(2, 3))
        return self.fc(x)


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def lambda_sequential():
    """The course style: a Lambda module that flattens, inside nn.Sequential."""
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )


def ordered_dict_sequential():
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, 8, 3, padding=1)),
                ("bn1", nn.BatchNorm2d(8)),
                ("relu1", nn.ReLU(inplace=True)),
                ("pool1", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(8, 16, 3, padding=1)),
                ("relu2", nn.ReLU(inplace=True)),
                ("gap", nn.AdaptiveAvgPool2d((1, 1))),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(16, 10)),
            ]
        )
    )


class DenseLayer(nn.Module):
    def __init__(self, c_in, growth):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(F.relu(self.norm(x)))


class GrowingList(nn.Module):
    """features = [x]; each layer reads torch.cat(features, 1) and appends its output."""

    def __init__(self, growth=4, n=3):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.layers = nn.ModuleList([DenseLayer(8 + i * growth, growth) for i in range(n)])
        self.head = nn.Linear(8 + n * growth, 10)

    def forward(self, x):
        features = [self.stem(x)]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        out = torch.cat(features, 1)
        out = F.adaptive_avg_pool2d(F.relu(out), (1, 1))
        return self.head(out.view(out.size(0), -1))


class InplaceResNet(nn.Module):
    """F.relu(..., inplace=True), torch.relu_ and x.relu() in one network."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = torch.relu_(self.bn2(self.conv2(x)))
        y = self.bn3(self.conv3(y))
        x = (x + y).relu()
        x = x.mean((2, 3))
        return self.fc(x)


class AttentionPoolNet(nn.Module):
    """A spatial gate: sigmoid of a 1x1 conv multiplies the features; mean with keepdim."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.SiLU())
        self.gate = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.features(x)
        x = x * torch.sigmoid(self.gate(x.mean(dim=(2, 3), keepdim=True)))
        x = x.flatten(1) if x.dim() == 2 else F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class TwoTowers(nn.Module):
    """Two branches of different kernels, concatenated; channels from the input's size."""

    def __init__(self):
        super().__init__()
        self.left = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.right = nn.Sequential(nn.Conv2d(3, 8, 5, padding=2), nn.ReLU())
        self.fuse = nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        out = torch.cat((self.left(x), self.right(x)), dim=1)
        out = self.fuse(out)
        n = out.shape[0]
        out = F.avg_pool2d(out, out.shape[2:])
        return self.fc(out.reshape(n, -1))


class HardSwishSE(nn.Module):
    """MobileNetV3's hard-swish written by hand: x * F.relu6(x + 3) / 6 (a constant added)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.conv(x)
        x = x * F.relu6(x + 3.0) / 6.0
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ParamBias(nn.Module):
    """A learned bias added in forward from a bare nn.Parameter."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bias = nn.Parameter(torch.zeros(1, 8, 1, 1))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.conv(x) + self.bias
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
