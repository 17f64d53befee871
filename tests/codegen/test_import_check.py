"""Issue 22: every import checks itself (codegen/import_check.py) before anything is written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from codegen.fx_import import import_module
from codegen.import_check import RTOL, map_state, self_check
from graph.errors import UserError

ROOT = Path(__file__).resolve().parents[2]


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.act = nn.LeakyReLU(0.1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.act(self.bn1(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _small() -> nn.Module:
    torch.manual_seed(0)
    net = Small()
    with torch.no_grad():
        net.bn1.running_mean.uniform_(-0.5, 0.5)
        net.bn1.running_var.uniform_(0.5, 1.5)
    return net


def test_a_faithful_import_passes_and_reports_its_verdict():
    net = _small().train()
    result = import_module(net, (3, 16, 16))
    check = result.check
    assert check is not None and check.max_diff <= check.tolerance
    assert check.tolerance == pytest.approx(RTOL * check.scale)
    assert "self-check passed" in check.text()
    assert net.training and net.bn1.training  # the model's own mode is restored


def test_a_wrong_layer_is_named_where_activations_part():
    net = _small()
    result = import_module(net, (3, 16, 16), check=False)
    node = next(n for n in result.project.graph.nodes.values() if n.type == "LeakyReLU")
    node.params["negative_slope"] = 0.3  # a wrong import that still loads strictly
    with pytest.raises(UserError) as err:
        self_check(result.project, net, (3, 16, 16))
    assert err.value.exit_code == 1
    assert 'activations first part at "act" (LeakyReLU)' in str(err.value)
    assert "Nothing was written" in str(err.value)


def test_keys_that_do_not_load_strictly_are_named():
    net = _small()
    result = import_module(net, (3, 16, 16), check=False)
    node = next(n for n in result.project.graph.nodes.values() if n.name == "conv2")
    node.name = "conv_two"
    with pytest.raises(UserError) as err:
        self_check(result.project, net, (3, 16, 16))
    text = str(err.value)
    assert err.value.exit_code == 1
    assert "does not load strictly" in text and "conv_two.weight" in text and "conv2.weight" in text
    # through a key map the renamed keys load, and the outputs are the model's
    key_map = {"conv2.weight": "conv_two.weight", "conv2.bias": "conv_two.bias"}
    assert self_check(result.project, net, (3, 16, 16), key_map).max_diff == 0.0


def test_map_state_renames_and_drops():
    state = {"a.weight": 1, "b.weight": 2, "c.weight": 3}
    assert map_state(state, {"a.weight": "x.weight", "c.weight": None}) == {"x.weight": 1, "b.weight": 2}


def test_cli_writes_nothing_when_the_check_fails(tmp_path):
    """A model whose import is wrong (here: made wrong on purpose by changing the project before it is
    checked) exits 1 and leaves no file."""
    (tmp_path / "wrongnet.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            import codegen.fx_structure as fs

            _build = fs.build_project

            def _wrong(conv, name):  # a deliberately wrong importer: LeakyReLU's slope changed
                project = _build(conv, name)
                for n in project.graph.nodes.values():
                    if n.type == "LeakyReLU":
                        n.params["negative_slope"] = 0.5
                return project

            fs.build_project = _wrong

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 4, 3)
                    self.act = nn.LeakyReLU(0.1)

                def forward(self, x):
                    return self.act(self.conv(x))
            """
        )
    )
    out = tmp_path / "net.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "import",
            "wrongnet.py:Net",
            "-o",
            str(out),
            "--input",
            "3,8,8",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "self-check failed" in proc.stderr and '"act"' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    (tmp_path / "goodnet.py").write_text(
        "from torch import nn\n\n"
        "def Net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.1))\n"
    )
    ok = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "import",
            "goodnet.py:Net",
            "-o",
            str(out),
            "--input",
            "3,8,8",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert ok.returncode == 0, ok.stderr
    assert "self-check passed" in ok.stdout and out.exists()


class Unused(nn.Module):
    """A block that defines conv1/bn1 but skips them (MobileNetV2's expand_ratio == 1), inside a
    top-level nn.Sequential whose keys ("0.conv2.weight") the project cannot keep as node names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv2(x))


def test_keys_the_project_cannot_keep_are_mapped_and_every_reader_applies_the_map(tmp_path):
    from safetensors.torch import save_file

    from codegen.export import _live
    from graph.projectfile import load_project, save_project
    from training.inspect_inputs import WeightsChoice, prepare_model

    torch.manual_seed(0)
    net = nn.Sequential(Unused(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    result = import_module(net, (4, 6, 6))
    key_map = result.project.key_map
    assert key_map["0.conv1.weight"] is None and key_map["0.bn1.running_mean"] is None  # unused: listed
    assert key_map["2.weight"] != "2.weight"  # a top-level Sequential's index is no node name
    assert any("never uses" in w and "0.conv1" in w for w in result.warnings)
    path = tmp_path / "p.json"
    save_project(result.project, path)
    project = load_project(path)
    assert project.key_map == key_map
    weights = tmp_path / "original.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        want = net(x)
        exported, _, _ = _live(project, str(weights))  # export with weights
        assert torch.equal(exported(x), want)
        prepared = prepare_model(project, WeightsChoice("file", str(weights)))  # inspect --weights
        assert torch.equal(prepared.model.eval()(x), want)
