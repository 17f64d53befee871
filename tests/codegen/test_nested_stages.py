"""Nested stages in the emitter and the import: an nn.Sequential inside an nn.Sequential, a Sequential
subclass that keeps Sequential's forward (torchvision's Conv2dNormActivation), and name keys that are
not identifiers (torchvision's RegNet ``block1-0``). The state_dict keys must be the model's."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from codegen.build import build_module
from codegen.emitter import emit
from codegen.fx_import import import_module
from graph.model import Stage
from tests.graph.builders import net

pytestmark = pytest.mark.usefixtures("one_thread")


def _project():
    p, nodes = net(
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}),
        "BatchNorm2d",
        "ReLU",
        ("Conv2d", {"out_channels": 8, "kernel_size": 1, "padding": 0}),
        "AdaptiveAvgPool2d",
        "Flatten",
        ("Linear", {"out_features": 10}),
        input=(3, 16, 16),
    )
    return p, [n.id for n in nodes]


def test_a_nested_index_stage_is_written_in_place_with_the_model_s_keys():
    p, ids = _project()
    p.graph.stages = [Stage("features", "index", ids[1:5]), Stage("features_0", "index", ids[1:4])]
    source = emit(p).source
    assert "self.features = nn.Sequential(\n            nn.Sequential(\n" in source
    model = build_module(p).eval()
    reference = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(
                nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()),
                nn.Conv2d(8, 8, 1, bias=False),
            ),
            l4=nn.AdaptiveAvgPool2d(1),
            l5=nn.Flatten(),
            l6=nn.Linear(8, 10),
        )
    ).eval()
    assert list(model.state_dict()) == list(reference.state_dict())
    assert "features.0.1.running_var" in model.state_dict()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_name_keys_that_are_not_identifiers_are_kept_and_frozen_members_reached():
    p, ids = _project()
    p.graph.nodes[ids[1]].name = "block1-0"
    p.graph.nodes[ids[1]].frozen = True
    p.graph.stages = [Stage("trunk", "name", ids[1:5]), Stage("block1", "name", ids[1:3])]
    source = emit(p).source
    assert '"block1-0",\n' in source
    assert "self.trunk.block1[0].requires_grad_(False)" in source  # block1-0 is no attribute: by index
    model = build_module(p)
    keys = list(model.state_dict())
    assert keys[:2] == ["trunk.block1.block1-0.weight", "trunk.block1.l1.weight"]
    assert not model.get_submodule("trunk.block1.block1-0").weight.requires_grad
    assert model.get_submodule("trunk.block1.l1").weight.requires_grad


class ConvNormAct(nn.Sequential):  # keeps Sequential's forward: a stage
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())


class Residual(nn.Sequential):  # its own forward: never a stage, a block
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return super().forward(x) + x


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = ConvNormAct(3, 8, 2)
        self.features = nn.Sequential(
            ConvNormAct(8, 8), nn.Sequential(ConvNormAct(8, 16, 2), nn.Conv2d(16, 16, 1)), nn.ReLU()
        )
        self.trunk = nn.Sequential(
            OrderedDict([("block1", nn.Sequential(OrderedDict([("b-0", nn.ReLU())])))])
        )
        self.head = Residual(16)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.head(self.trunk(self.features(self.stem(x))))).flatten(1)


def _id(project, name):
    return next(n.id for n in project.graph.nodes.values() if n.name == name)


def test_import_keeps_nested_sequentials_and_subclasses_with_their_keys():
    torch.manual_seed(0)
    model = Tiny().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    result = import_module(model, (3, 32, 32))
    assert result.warnings == []
    stages = {s.name: s for s in result.project.graph.stages}
    assert {"stem", "features", "features_0", "features_1", "features_1_0", "trunk", "block1"} <= set(stages)
    assert "head" not in stages  # Residual has its own forward
    assert result.project.graph.nodes[_id(result.project, "head")].type == "block:Residual"
    rebuilt = build_module(result.project).eval()
    assert list(rebuilt.state_dict()) == list(model.state_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), model(x), atol=1e-6)
    again = import_module(rebuilt, (3, 32, 32))
    assert [s.to_dict() for s in again.project.graph.stages] == [
        s.to_dict() for s in result.project.graph.stages
    ]


class Gated(nn.Sequential):  # its own forward and numbered children: inlined, named by module path
    def forward(self, x):
        return super().forward(x) + x


class Holder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.gated = Gated(nn.Conv2d(4, 4, 1), nn.ReLU())

    def forward(self, x):
        return self.gated(self.stem(x))


def test_numbered_children_of_a_module_with_its_own_forward_keep_their_keys():
    model = Holder().eval()
    result = import_module(model, (3, 8, 8))
    assert result.warnings == []
    assert {"gated.0", "gated.1"} <= {n.name for n in result.project.graph.nodes.values()}
    rebuilt = build_module(result.project).eval()
    assert list(rebuilt.state_dict()) == list(model.state_dict())


def test_a_network_that_is_itself_a_sequential_is_renamed_and_its_keys_mapped():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 1)).eval()
    result = import_module(model, (3, 8, 8))
    assert len(result.warnings) == 1
    assert "4 state_dict key(s) of the model differ in the project" in result.warnings[0]
    # issue 22: the renaming is kept as a key map (proved by the self-check), so the weights still load
    assert result.project.key_map["0.weight"] == "m_0.weight"
    assert result.project.key_map["2.bias"] == "m_2.bias"


def test_module_path_names_gather_modules_only_a_layer_scale_stays_an_attribute():
    p, nodes = net(
        ("Conv2d", {"out_channels": 8, "kernel_size": 1, "padding": 0}),
        ("Conv2d", {"out_channels": 8, "kernel_size": 1, "padding": 0}),
        "LayerScale",
        input=(3, 4, 4),
    )
    p.graph.nodes[nodes[1].id].name = "convs.0"
    p.graph.nodes[nodes[2].id].name = "convs.1"
    p.graph.nodes[nodes[3].id].name = "scales.0"
    source = emit(p).source
    assert "self.convs = nn.ModuleList(" in source and "self.convs[1](" in source
    assert "self.scales_0 = nn.Parameter(" in source  # a parameter in a ModuleList would not build
    model = build_module(p)
    assert {"convs.0.weight", "convs.1.weight", "scales_0"} <= set(model.state_dict())
