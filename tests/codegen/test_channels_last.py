"""ConvNeXt's pieces (issue 12): a layer scale held as a parameter of its block, LayerNorm and Linear
on a channels-last tensor between two Permutes. Imported, written as code that reads like torchvision's
CNBlock and timm's ConvNeXtBlock, rebuilt with the same state_dict keys and outputs, and imported again
to the same project; other uses of a parameter in forward are refused in one clear message."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from codegen.build import build_module
from codegen.emitter import emit
from codegen.fx_import import import_module
from graph.errors import UserError
from graph.shapes import analyze
from tests.codegen.zoo import canonical

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class Permute(nn.Module):
    """As torchvision.ops.misc.Permute."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    """torchvision's ConvNeXt block (without stochastic depth)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x):
        result = self.layer_scale * self.block(x)
        result += x
        return result


class TimmBlock(nn.Module):
    """timm's ConvNeXtBlock with conv_mlp=False: x.permute, and gamma (C,) reshaped in forward."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(1e-6 * torch.ones(dim))

    def forward(self, x):
        shortcut = x
        x = self.conv_dw(x)
        x = x.permute(0, 2, 3, 1)
        x = self.fc2(self.act(self.fc1(self.norm(x))))
        x = x.permute(0, 3, 1, 2)
        x = x.mul(self.gamma.reshape(1, -1, 1, 1))
        return x + shortcut


class TinyConvNeXt(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, kernel_size=2, stride=2)
        self.stage1 = nn.Sequential(CNBlock(8), CNBlock(8))
        self.down = nn.Conv2d(8, 16, kernel_size=2, stride=2)
        self.stage2 = nn.Sequential(CNBlock(16), TimmBlock(16), TimmBlock(16))
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stage2(self.down(self.stage1(self.stem(x))))
        return self.fc(x.mean((2, 3)))


def _model() -> TinyConvNeXt:
    torch.manual_seed(0)
    model = TinyConvNeXt().eval()
    with torch.no_grad():  # scales away from their start, so that a lost or misplaced one shows
        for name, p in model.named_parameters():
            if name.endswith(("layer_scale", "gamma")):
                p.copy_(torch.rand_like(p) + 0.5)
    return model


def test_layer_scale_and_channels_last_round_trip_with_the_model_s_keys_and_outputs():
    model = _model()
    result = import_module(model, (3, 16, 16))
    assert result.warnings == []
    analysis = analyze(result.project)
    assert analysis.valid
    assert analysis.total_params == sum(p.numel() for p in model.parameters())
    rebuilt = build_module(result.project).eval()
    assert set(rebuilt.state_dict()) == set(model.state_dict())
    assert {"stage1.0.block.2.weight", "stage1.1.layer_scale", "stage2.1.gamma"} <= set(model.state_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), model(x), atol=1e-6, rtol=0)
    again = import_module(rebuilt, (3, 16, 16))
    assert canonical(again.project) == canonical(result.project)
    scripted = torch.jit.script(rebuilt)  # the Permute helper and the parameter attributes script
    with torch.no_grad():
        assert torch.allclose(scripted(x), model(x), atol=1e-6, rtol=0)


def test_the_imported_project_survives_its_file():
    from graph.projectfile import dumps_project, loads_project

    project = import_module(_model(), (3, 16, 16)).project
    again = loads_project(dumps_project(project))
    assert canonical(again) == canonical(project)
    assert analyze(again).total_params == analyze(project).total_params


def test_the_code_reads_like_torchvision_s_cnblock_and_timm_s_block():
    source = emit(import_module(_model(), (3, 16, 16)).project).source
    # one class for both widths: every size follows in_channels, also on the channels-last axis
    assert source.count("class CNBlock(") == 1 and "CNBlock(8)" in source and "CNBlock(16)" in source
    for line in (
        "nn.Conv2d(in_channels, in_channels, kernel_size=7, padding=3, groups=in_channels),",
        "Permute([0, 2, 3, 1]),",
        "nn.LayerNorm(in_channels, eps=1e-06),",
        "nn.Linear(in_channels, in_channels * 4),",
        "nn.Linear(in_channels * 4, in_channels),",
        "self.layer_scale = nn.Parameter(torch.full((in_channels, 1, 1), 1e-06))",
        "out = self.layer_scale * out",
        "self.gamma = nn.Parameter(torch.full((16,), 1e-06))",  # one width: its sizes are numbers
        "out = out * self.gamma.reshape(1, -1, 1, 1)",
        "out += x",  # the product is not kept for backward: the residual adds in place
        "self.permute = Permute([0, 2, 3, 1])",
        "return torch.permute(x, self.dims)",
    ):
        assert line in source, line


class BiasInForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=1)
        self.bias = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        return self.conv(x) + self.bias.reshape(1, -1, 1, 1)


class ScaleOfAnother(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = CNBlock(3)

    def forward(self, x):
        return self.inner.layer_scale * x


class TopLevelScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=1)
        self.scale = nn.Parameter(torch.rand(4, 1, 1))

    def forward(self, x):
        return self.scale * self.conv(x)


def test_a_layer_scale_of_the_network_itself_is_an_attribute_of_the_network():
    model = TopLevelScale().eval()
    result = import_module(model, (3, 8, 8))
    rebuilt = build_module(result.project).eval()
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    node = next(n for n in result.project.graph.nodes.values() if n.type == "LayerScale")
    assert node.name == "scale" and node.params["init_value"] == 1e-6  # not all equal: the usual start


def test_other_uses_of_a_parameter_in_forward_are_one_clear_refusal():
    with pytest.raises(UserError) as err:
        import_module(BiasInForward(), (3, 8, 8))
    text = str(err.value)
    assert err.value.exit_code == 2
    assert "BiasInForward (1 place, e.g. the top level): uses its own parameters or buffers directly" in text
    assert "a reshape of  to" not in text and "Traceback" not in text
    with pytest.raises(UserError, match="of another module than the one that uses it"):
        import_module(ScaleOfAnother(), (3, 8, 8))

    class Twice(TopLevelScale):
        def forward(self, x):
            return self.scale * (self.scale * self.conv(x))

    with pytest.raises(UserError, match='"scale" used as a scale twice'):
        import_module(Twice(), (3, 8, 8))

    class BufferScale(TopLevelScale):
        def __init__(self) -> None:
            super().__init__()
            del self.scale
            self.register_buffer("scale", torch.ones(4, 1, 1))

    with pytest.raises(UserError, match='a buffer "scale" used as a scale'):
        import_module(BufferScale(), (3, 8, 8))


def test_a_permute_that_is_not_of_an_image_s_axes_is_refused():
    class Odd(nn.Module):
        def forward(self, x):
            return x.permute(1, 0, 2, 3)

    with pytest.raises(UserError, match="a permutation 1,0,2,3"):
        import_module(Odd(), (3, 8, 8))


class _Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _ChannelsLastMlpBlock(nn.Module):
    """timm's ConvNeXtBlock without conv_mlp: an Mlp module between two permutes."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim)

    def forward(self, x):
        out = self.conv_dw(x).permute(0, 2, 3, 1)
        out = self.mlp(self.norm(out)).permute(0, 3, 1, 2)
        return out + x


def test_a_module_on_a_channels_last_tensor_is_inlined_with_its_keys():
    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("stem", nn.Conv2d(3, 8, 1))
    model.add_module("b0", _ChannelsLastMlpBlock(8))
    model.add_module("b1", _ChannelsLastMlpBlock(8))
    model.eval()
    result = import_module(model, (3, 8, 8))
    assert result.warnings == []
    assert "_Mlp" not in result.project.blocks and "Mlp" not in result.project.blocks  # its in_channels
    (bdef,) = result.project.blocks.values()  # would be the width, not the channels
    assert {"mlp.fc1", "mlp.fc2"} <= {n.name for n in bdef.graph.nodes.values()}
    rebuilt = build_module(result.project).eval()
    assert list(rebuilt.state_dict()) == list(model.state_dict())
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), rtol=1e-5, atol=1e-5)
    assert canonical(import_module(rebuilt, (3, 8, 8)).project) == canonical(result.project)
