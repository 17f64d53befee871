"""Deep layer aggregation (Yu et al. 2018) in the style CIFAR repositories use: trees of residual units
nested in trees, a unit's shortcut projection made only where its shape changes, so nested instances
of one unit class differ in projection."""

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResidualUnit(nn.Module):
    def __init__(self, in_ch, out_ch, stride=1):
        super(ResidualUnit, self).__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_ch),
            )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += self.shortcut(x)
        return F.relu(y)


class Aggregation(nn.Module):
    """The node that joins a tree's outputs: concatenate, 1x1 conv, BN, ReLU."""

    def __init__(self, in_ch, out_ch):
        super(Aggregation, self).__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, feats):
        return F.relu(self.bn(self.conv(torch.cat(feats, 1))))


class Tree(nn.Module):
    """Depth 1: two units and the aggregation. Deeper: the previous units, one subtree per level
    below, two units, and an aggregation of all of them."""

    def __init__(self, in_ch, out_ch, depth=1, stride=1):
        super(Tree, self).__init__()
        self.depth = depth
        self.aggregate = Aggregation((depth + 2 if depth > 1 else 2) * out_ch, out_ch)
        if depth > 1:
            self.entry = ResidualUnit(in_ch, out_ch, stride)
            for d in range(depth - 1, 0, -1):
                setattr(self, 'sub%d' % d, Tree(in_ch, out_ch, depth=d, stride=stride))
            in_ch, stride = out_ch, 1
        self.left = ResidualUnit(in_ch, out_ch, stride)
        self.right = ResidualUnit(out_ch, out_ch, 1)

    def forward(self, x):
        feats = []
        if self.depth > 1:
            feats.append(self.entry(x))
            for d in range(self.depth - 1, 0, -1):
                x = getattr(self, 'sub%d' % d)(x)
                feats.append(x)
        x = self.left(x)
        feats.append(x)
        x = self.right(x)
        feats.append(x)
        return self.aggregate(feats)


class TreeNet(nn.Module):
    def __init__(self, widths=(8, 8, 16, 32, 64, 128), num_classes=10):
        super(TreeNet, self).__init__()
        w = widths
        self.stem = nn.Sequential(
            nn.Conv2d(3, w[0], 3, padding=1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True),
            nn.Conv2d(w[0], w[1], 3, padding=1, bias=False), nn.BatchNorm2d(w[1]), nn.ReLU(inplace=True),
        )
        self.stage1 = Tree(w[1], w[2], depth=1, stride=1)
        self.stage2 = Tree(w[2], w[3], depth=2, stride=2)
        self.stage3 = Tree(w[3], w[4], depth=2, stride=2)
        self.stage4 = Tree(w[4], w[5], depth=1, stride=2)
        self.fc = nn.Linear(w[5], num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))


# ---- the binary form: a tree of depth d is two trees of depth d - 1 and an aggregation
class BinaryTree(nn.Module):
    def __init__(self, in_ch, out_ch, depth=1, stride=1):
        super(BinaryTree, self).__init__()
        if depth == 1:
            self.first = ResidualUnit(in_ch, out_ch, stride)
            self.second = ResidualUnit(out_ch, out_ch)
        else:
            self.first = BinaryTree(in_ch, out_ch, depth - 1, stride)
            self.second = BinaryTree(out_ch, out_ch, depth - 1)
        self.join = Aggregation(2 * out_ch, out_ch)

    def forward(self, x):
        a = self.first(x)
        b = self.second(a)
        return self.join([a, b])


class BinaryTreeNet(nn.Module):
    def __init__(self, depths=(1, 2, 2, 1), width=8, num_classes=10):
        super(BinaryTreeNet, self).__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers = []
        in_ch = width
        for i, depth in enumerate(depths):
            out_ch = width * 2 ** (i + 1)
            layers.append(BinaryTree(in_ch, out_ch, depth, 1 if i == 0 else 2))
            in_ch = out_ch
        self.trees = nn.Sequential(*layers)
        self.linear = nn.Linear(in_ch, num_classes)

    def forward(self, x):
        out = F.relu(self.bn(self.conv(x)))
        out = self.trees(out)
        out = F.avg_pool2d(out, out.size(3))
        out = out.view(out.size(0), -1)
        return self.linear(out)


def binary_tree_net_deeper():
    return BinaryTreeNet(depths=(1, 2, 3, 1), width=4)
