"""Issue 12's import features on small hand-made models (no torchvision or timm needed): the
activations of MobileNet, split/chunk, channel shuffle, norm+act modules, stochastic depth, and the
grouped message for what is still refused."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codegen.build import build_module
from codegen.emitter import emit
from codegen.fx_import import import_module
from graph.errors import UserError
from graph.shapes import analyze


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check(model, shape, types=()):
    """Import, strict weight load into the rebuilt module, same outputs; returns the project."""
    model.eval()
    project = import_module(model, shape).project
    assert analyze(project).valid
    rebuilt = build_module(project).eval()
    assert set(rebuilt.state_dict()) == set(model.state_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), rtol=1e-5, atol=1e-5)
    found = {
        n.type for g in [project.graph, *(b.graph for b in project.blocks.values())] for n in g.nodes.values()
    }
    assert set(types) <= found, set(types) - found
    return project, rebuilt


class _Acts(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act1 = nn.ReLU6(inplace=True)
        self.act2 = nn.Hardswish()
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        x = self.act2(self.act1(self.conv(x)))
        x = F.hardswish(F.relu6(x)) * self.gate(x.mean((2, 3), keepdim=True))
        return F.hardsigmoid(x)


def test_mobilenet_activations_module_and_functional():
    project, _ = _check(_Acts(), (3, 8, 8), ("ReLU6", "Hardswish", "Hardsigmoid"))
    assert project.graph.node_by_name("act1").params["inplace"] is True


class _Shuffle(nn.Module):
    """ShuffleNetV2's unit: chunk, a branch on one half, cat, channel shuffle (as torchvision writes it)."""

    def __init__(self):
        super().__init__()
        self.branch = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
        self.split = nn.Conv2d(8, 6, 1)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        x = torch.cat((a, self.branch(b)), dim=1)
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        x = x.view(n, -1, h, w)
        p, q, r = torch.split(self.split(x), [1, 2, 3], dim=1)
        return torch.cat([r, p, q], 1)


def test_chunk_split_and_channel_shuffle():
    project, rebuilt = _check(_Shuffle(), (8, 5, 5), ("ChannelShuffle", "ChannelSlice"))
    slices = sorted(
        (n.params["start"], n.params["stop"])
        for n in project.graph.nodes.values()
        if n.type == "ChannelSlice"
    )
    assert slices == [(0, 1), (0, 4), (1, 3), (3, None), (4, None)]
    (shuffle,) = project.graph.nodes_of_type("ChannelShuffle")
    assert shuffle.params["groups"] == 2
    # the exported module uses nn.ChannelShuffle and imports to the same graph
    again = import_module(rebuilt, (8, 5, 5)).project
    assert sorted(n.type for n in again.graph.nodes.values()) == sorted(
        n.type for n in project.graph.nodes.values()
    )


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's norm+act module, reduced: F.batch_norm on its own buffers, then drop and act."""

    def __init__(self, c):
        super().__init__(c)
        self.drop = nn.Identity()
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, self.eps)
        return self.act(self.drop(x))


class DropPath(nn.Module):
    """timm's DropPath, reduced (the importer reads drop_prob)."""

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        return x


class _NormActNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("conv0", nn.Conv2d(3, 8, 3, padding=1))
        self.features.add_module("norm0", BatchNormAct2d(8))
        self.bn = BatchNormAct2d(8)
        self.drop_path = DropPath(0.2)

    def forward(self, x):
        x = self.features(x)
        return x + self.drop_path(self.bn(x))


def test_norm_act_module_splits_into_norm_and_act_and_drop_path_is_a_layer():
    model = _NormActNet()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    project, rebuilt = _check(model, (3, 6, 6), ("BatchNorm2d", "SiLU", "DropPath"))
    (stage,) = project.graph.stages
    names = [project.graph.nodes[i].name for i in stage.nodes]
    assert (stage.name, stage.keys, names) == ("features", "name", ["conv0", "norm0", "norm0_act"])
    assert project.graph.node_by_name("drop_path").params["p"] == pytest.approx(0.2)
    # DropPath: the identity in eval mode, drops whole samples in training
    drop = rebuilt.drop_path
    x = torch.ones(4000, 1, 1, 1)
    assert torch.equal(drop.eval()(x), x)
    y = drop.train()(x)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.8) < 0.05 and torch.allclose(y[y != 0], torch.tensor(1 / 0.8))


class _Odd(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv1d(3, 3, 1) for _ in range(3)])

    def forward(self, x):
        for conv in self.convs:
            x = conv(x.flatten(2)).view(x.shape)
        return torch.sin(x)


def test_refused_model_message_groups_by_module_class():
    with pytest.raises(UserError) as info:
        import_module(_Odd(), (3, 4, 4))
    err = info.value
    lines = err.message.split("\n")
    assert err.exit_code == 2 and len(lines) <= 4, lines
    # a Conv1d imports only as ECA-Net's one-channel conv over the channels (ChannelConv1d)
    head = '  nn.Conv1d (3 places, e.g. "convs.0"): has no Skipwire layer type for Conv1d(3, 3) (only for '
    assert any(line.startswith(head) for line in lines), lines
    assert any(line.startswith("  _Odd (1 place, e.g. the top level): calls") for line in lines)


class _Eca(nn.Module):
    """timm's EcaModule (timm/layers/eca.py), without timm."""

    def __init__(self, k=3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=(k - 1) // 2, bias=False)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)  # view for 1d conv
        y = self.conv(y)
        y = self.gate(y).view(x.shape[0], -1, 1, 1)
        return x * y.expand_as(x)


class _EcaNet(nn.Module):
    def __init__(self, eca=_Eca):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.se = eca(5)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.se2 = eca(3)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.se2(self.conv2(self.se(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def _types(project, block):
    return sorted(n.type for n in project.blocks[block].graph.nodes.values())


def test_eca_module_imports_as_pool_channel_conv_gate_and_round_trips():
    project, rebuilt = _check(_EcaNet(), (3, 8, 8), ("ChannelConv1d",))
    (block,) = [
        n for n, b in project.blocks.items() if any(x.type == "ChannelConv1d" for x in b.graph.nodes.values())
    ]
    assert _types(project, block) == [
        "AdaptiveAvgPool2d",
        "BlockInput",
        "BlockOutput",
        "ChannelConv1d",
        "Multiply",
        "Sigmoid",
    ]  # the views, the flatten of the mean and expand_as are gone
    assert tuple(rebuilt.state_dict()["se.conv.weight"].shape) == (1, 1, 5)
    kernels = sorted(
        n.params["kernel_size"] for n in project.graph.nodes.values() if n.type.startswith("block:")
    )
    assert kernels == [3, 5]
    # the exported module (ChannelConv1d, a subclass of nn.Conv1d) imports back to the same layers
    again = import_module(rebuilt.eval(), (3, 8, 8)).project
    assert _types(again, block) == _types(project, block)


class _CircularEca(_Eca):
    def __init__(self, k=3):
        super().__init__(k)
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=(k - 1) // 2, padding_mode="circular")


class _AddEca(_Eca):
    def forward(self, x):
        y = self.gate(self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))).view(x.shape[0], -1, 1, 1)
        return x + y.expand_as(x)


class _NoConvEca(_Eca):
    def forward(self, x):
        y = self.gate(x.mean((2, 3)).view(x.shape[0], 1, -1)).view(x.shape[0], -1, 1, 1)
        return x * y


@pytest.mark.parametrize(
    "eca,says",
    [
        (_CircularEca, "nn.Conv1d (2 places, e.g. \"se.conv\"): padding_mode 'circular'"),
        (_AddEca, "calls .expand_as() (only into a multiplication"),
        (_NoConvEca, "only globally pooled channels viewed as one sequence for a one-channel Conv1d"),
    ],
)
def test_what_is_not_eca_s_pattern_is_refused_in_one_clear_message(eca, says):
    with pytest.raises(UserError) as info:
        import_module(_EcaNet(eca).eval(), (3, 8, 8))
    assert info.value.exit_code == 2 and says in info.value.message, info.value.message
    assert "Traceback" not in info.value.message


class RadixSoftmax(nn.Module):
    """timm's RadixSoftmax (timm/layers/split_attn.py), without timm (the importer knows it by name)."""

    def __init__(self, radix, cardinality):
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality

    def forward(self, x):
        batch = x.size(0)
        if self.radix > 1:
            x = x.view(batch, self.cardinality, self.radix, -1).transpose(1, 2)
            x = F.softmax(x, dim=1)
            x = x.reshape(batch, -1)
        else:
            x = torch.sigmoid(x)
        return x


class _SplitAttn(nn.Module):
    """timm's SplitAttn (ResNeSt), its forward as timm writes it, without timm."""

    def __init__(self, cin=8, cout=8, radix=2, groups=2, attn=8):
        super().__init__()
        self.radix = radix
        self.conv = nn.Conv2d(cin, cout * radix, 3, padding=1, groups=groups * radix, bias=False)
        self.bn0 = nn.BatchNorm2d(cout * radix)
        self.act0 = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(cout, attn, 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(attn)
        self.act1 = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(attn, cout * radix, 1, groups=groups)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def forward(self, x):
        x = self.act0(self.bn0(self.conv(x)))
        B, RC, H, W = x.shape
        x = x.reshape((B, self.radix, RC // self.radix, H, W))
        x_gap = x.sum(dim=1)
        x_gap = x_gap.mean((2, 3), keepdim=True)
        x_attn = self.fc2(self.act1(self.bn1(self.fc1(x_gap))))
        x_attn = self.rsoftmax(x_attn).view(B, -1, 1, 1)
        out = (x * x_attn.reshape((B, self.radix, RC // self.radix, 1, 1))).sum(dim=1)
        return out.contiguous()


class _SplitNet(nn.Module):
    def __init__(self, attn=_SplitAttn):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = attn()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.conv2(self.conv1(x)).mean((2, 3)))


def test_split_attention_imports_as_group_sums_and_a_radix_softmax_and_round_trips():
    net = _SplitNet()
    with torch.no_grad():  # attention weights away from a uniform softmax
        net.conv2.fc2.bias.normal_(0, 2)
    project, rebuilt = _check(net, (3, 6, 6), ("GroupSum", "RadixSoftmax", "Multiply"))
    (block,) = [
        n for n, b in project.blocks.items() if any(x.type == "RadixSoftmax" for x in b.graph.nodes.values())
    ]
    nodes = project.blocks[block].graph.nodes.values()
    assert sorted((n.type, n.params.get("groups")) for n in nodes if n.type == "GroupSum") == [
        ("GroupSum", 2),
        ("GroupSum", 2),
    ]
    (rs,) = [n for n in nodes if n.type == "RadixSoftmax"]
    assert (rs.name, rs.params) == ("rsoftmax", {"radix": 2, "cardinality": 2})
    again = import_module(rebuilt.eval(), (3, 6, 6)).project  # Skipwire's own RadixSoftmax and GroupSum
    assert _types(again, block) == _types(project, block)


class _SumElsewhere(_SplitAttn):
    def forward(self, x):
        x = self.act0(self.bn0(self.conv(x)))
        B, RC, H, W = x.shape
        x = x.reshape((B, self.radix, RC // self.radix, H, W)).sum(dim=1, keepdim=True)
        return x.view(B, -1, H, W)


class _RadixOne(_SplitAttn):
    def __init__(self):
        super().__init__()
        self.rsoftmax = RadixSoftmax(1, 2)


@pytest.mark.parametrize(
    "attn,says",
    [
        (_SumElsewhere, "a sum of a grouped view other than .sum(dim=1) over its groups"),
        (_RadixOne, "RadixSoftmax(radix=1, cardinality=2) (only radix 2 or more)"),
    ],
)
def test_what_is_not_split_attention_is_refused_in_one_clear_message(attn, says):
    with pytest.raises(UserError) as info:
        import_module(_SplitNet(attn).eval(), (3, 6, 6))
    assert info.value.exit_code == 2 and says in info.value.message, info.value.message


class _SelectiveKernel(nn.Module):
    """timm's SelectiveKernel and SelectiveKernelAttn (SKNet), their forwards as timm writes them, without
    timm; the two paths are plain attributes here (timm's nn.ModuleList is a nested container)."""

    def __init__(self, c=8, attn=4):
        super().__init__()
        self.path0 = nn.Sequential(
            nn.Conv2d(c // 2, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()
        )
        self.path1 = nn.Sequential(
            nn.Conv2d(c // 2, c, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(c), nn.ReLU()
        )
        self.fc_reduce = nn.Conv2d(c, attn, 1, bias=False)
        self.act = nn.ReLU(inplace=True)
        self.fc_select = nn.Conv2d(attn, c * 2, 1, bias=False)

    def forward(self, x):
        x_split = torch.split(x, self.fc_reduce.in_channels // 2, 1)
        x = torch.stack([self.path0(x_split[0]), self.path1(x_split[1])], dim=1)
        torch._assert(x.shape[1] == 2, "")
        a = x.sum(1).mean((2, 3), keepdim=True)
        a = self.fc_select(self.act(self.fc_reduce(a)))
        B, C, H, W = a.shape
        a = torch.softmax(a.view(B, 2, C // 2, H, W), dim=1)
        return torch.sum(x * a, dim=1)


def test_selective_kernel_stack_softmax_and_sum_import_and_round_trip():
    net = _SplitNet(_SelectiveKernel)
    with torch.no_grad():
        net.conv2.fc_select.weight.normal_(0, 2)
    project, rebuilt = _check(net, (3, 6, 6), ("Concat", "GroupSum", "RadixSoftmax", "Multiply"))
    (block,) = [
        n for n, b in project.blocks.items() if any(x.type == "RadixSoftmax" for x in b.graph.nodes.values())
    ]
    nodes = project.blocks[block].graph.nodes.values()
    assert [n.params for n in nodes if n.type == "RadixSoftmax"] == [{"radix": 2, "cardinality": 1}]
    again = import_module(rebuilt.eval(), (3, 6, 6)).project
    assert _types(again, block) == _types(project, block)


class _SoftmaxElsewhere(_SelectiveKernel):
    def forward(self, x):
        x = torch.stack([self.path0(x[:, :4]), self.path1(x[:, 4:])], dim=1)
        return torch.softmax(x, dim=2).sum(1)


class _ReluOfStack(_SelectiveKernel):
    def forward(self, x):
        x = torch.stack([self.path0(x[:, :4]), self.path1(x[:, 4:])], dim=1)
        return torch.relu(x).sum(1)


@pytest.mark.parametrize(
    "attn,says",
    [
        (_SoftmaxElsewhere, "calls torch.softmax (a softmax of a grouped view other than across its groups"),
        (
            _ReluOfStack,
            "calls torch.relu (an operation on a view of the channels as groups (only .sum(dim=1)",
        ),
    ],
)
def test_other_operations_on_a_grouped_view_are_refused(attn, says):
    with pytest.raises(UserError) as info:
        import_module(_SplitNet(attn).eval(), (3, 6, 6))
    assert info.value.exit_code == 2 and says in info.value.message, info.value.message


class _Ghost(nn.Module):
    """timm's GhostModule: a primary conv, a cheap depthwise conv, cat, and the first channels kept with
    four-axis indexing ``x[:, :k, :, :]``."""

    def __init__(self, cin=8, cout=12):
        super().__init__()
        self.out_chs = cout
        self.primary = nn.Conv2d(cin, 8, 1, bias=False)
        self.cheap = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)

    def forward(self, x):
        x1 = self.primary(x)
        out = torch.cat([x1, self.cheap(x1)], dim=1)
        return out[:, : self.out_chs, :, :]


def test_four_axis_indexing_of_the_channels_is_a_channel_slice():
    project, _ = _check(_Ghost(), (8, 6, 6), types=("ChannelSlice",))
    assert analyze(project).output_shape == (12, 6, 6)
    with pytest.raises(UserError, match="indexing"):  # rows are not channels
        import_module(nn.Sequential(_RowSlice()), (8, 6, 6))


class _RowSlice(nn.Module):
    def forward(self, x):
        return x[:, :, :3, :]


class _Mixed(nn.ModuleDict):
    """timm's MixedConv2d: numbered convs, each on its share of the channels, concatenated."""

    def __init__(self, c=8):
        super().__init__(
            {str(i): nn.Conv2d(c // 2, c // 2, k, padding=k // 2, bias=False) for i, k in enumerate((3, 5))}
        )
        self.half = c // 2

    def forward(self, x):
        parts = torch.split(x, self.half, 1)
        return torch.cat([conv(parts[i]) for i, conv in enumerate(self.values())], 1)


class _MixBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_dw = _Mixed()
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x):
        return self.bn(self.conv_dw(x)) + x


def test_a_module_with_numbered_children_and_its_own_forward_keeps_its_keys_in_a_module_list():
    model = nn.Sequential()
    model.add_module("stem", nn.Conv2d(3, 8, 1))
    model.add_module("block", _MixBlock())
    project, _ = _check(model, (3, 8, 8))
    (bdef,) = project.blocks.values()
    assert {"conv_dw.0", "conv_dw.1"} <= {n.name for n in bdef.graph.nodes.values()}
    source = emit(project).source
    assert "self.conv_dw = nn.ModuleList(" in source and "self.conv_dw[1](" in source
