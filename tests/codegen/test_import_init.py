"""An imported network is structure only: its convolutions start from PyTorch's own initialisation
unless the user picks a rule (import --init); `import -o` writes atomically."""

import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from codegen.build import build_module
from codegen.emitter import emit
from codegen.fx_import import import_module
from graph import atomic
from graph.errors import UserError

FIXTURES = Path(__file__).resolve().parent / "fixtures"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def resnet18():
    sys.path.insert(0, str(FIXTURES))
    try:
        import tv_resnet

        yield tv_resnet.resnet18(num_classes=10)
    finally:
        sys.path.remove(str(FIXTURES))


def _convs(project):
    graphs = [project.graph, *(b.graph for b in project.blocks.values())]
    return [n for g in graphs for n in g.nodes.values() if n.type == "Conv2d"]


def test_imported_convs_start_from_torch_defaults(resnet18):
    project = import_module(resnet18, (3, 32, 32)).project
    assert {n.params["init"] for n in _convs(project)} == {"torch_default"}
    assert "kaiming" not in emit(project).source  # the downsample projections too
    torch.manual_seed(0)
    model = build_module(project)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 20  # 17 in the blocks and stem, 3 downsample projections
    for m in convs:  # torch's default: kaiming_uniform_(a=sqrt(5)), |w| <= 1/sqrt(fan_in)
        fan_in = m.weight[0].numel()
        assert float(m.weight.detach().abs().max()) <= 1 / fan_in**0.5 + 1e-7


def test_a_lone_projection_follows_torch_defaults_too():
    """One conv and one downsample projection: the projection's torchvision rule must not win the
    vote for the shared init loop (and re-initialise both)."""
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.downsample = nn.Sequential(nn.Conv2d(3, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)) + self.downsample(x))
            return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(y, 1), 1))

    project = import_module(Net(), (3, 8, 8)).project
    assert [e.projection for e in project.graph.edges.values() if e.kind == "shortcut"] == ["conv_bn"]
    source = emit(project).source
    assert "kaiming" not in source and "reset_parameters" not in source


def test_import_init_rule_is_the_users_choice(resnet18):
    project = import_module(resnet18, (3, 32, 32), init="kaiming_fan_out").project
    assert {n.params["init"] for n in _convs(project)} == {"kaiming_fan_out"}
    assert 'kaiming_normal_(m.weight, mode="fan_out"' in emit(project).source
    with pytest.raises(UserError, match="unknown init rule 'xavier'"):
        import_module(resnet18, (3, 32, 32), init="xavier")


def test_templates_keep_their_papers_rule():
    from graph.templates import make

    def rules(project):  # a param left out is the registry's default, kaiming_fan_out
        return {n.params.get("init", "kaiming_fan_out") for n in _convs(project)}

    assert rules(make("resnet20")) == {"kaiming_fan_out"}
    assert rules(make("densenet121")) == {"kaiming_fan_in"}


def test_import_command_failing_after_writing_started_keeps_the_previous_file(tmp_path, monkeypatch, capsys):
    import main

    (tmp_path / "mynets.py").write_text(
        textwrap.dedent("""
        from torch import nn
        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 3))
            def forward(self, x):
                return self.body(x)
    """)
    )
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tiny.skipwire"
    args = ["import", "mynets.py:Tiny", "--input", "1,8,8", "-o", str(out)]
    assert main.main(args) == 0
    assert '"init": "torch_default"' in out.read_text()
    before, listing = out.read_bytes(), sorted(os.listdir(tmp_path))
    capsys.readouterr()

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    assert main.main([*args, "--init", "kaiming_fan_in"]) == 2
    assert "tiny.skipwire: cannot write the file (No space left on device)" in capsys.readouterr().err
    assert out.read_bytes() == before and sorted(os.listdir(tmp_path)) == listing
