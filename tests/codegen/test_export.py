"""Exports: module source, the standalone training script (single process and torchrun DDP on gloo),
ONNX (checker + onnxruntime) and TorchScript (reload and compare), and the export command."""

import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codegen.build import build_module, load_source
from codegen.export import export_module, export_onnx, export_script, export_torchscript
from codegen.weights import load_weights
from graph.errors import UserError
from graph.model import Graph, Project
from graph.projectfile import save_project

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def tiny_project(shape=(1, 8, 8), classes=3, pool=1) -> Project:
    """conv-bn-relu, a residual block with an identity shortcut, pooling, a Linear head."""
    g = Graph()
    x = g.add("Input", "input", shape=list(shape))
    c1 = g.add("Conv2d", "conv1", out_channels=8, kernel_size=3, padding=1)
    b1 = g.add("BatchNorm2d", "bn1")
    r1 = g.add("ReLU", "relu1")
    c2 = g.add("Conv2d", "conv2", out_channels=8, kernel_size=3, padding=1)
    b2 = g.add("BatchNorm2d", "bn2")
    add = g.add("Add", "add")
    r2 = g.add("ReLU", "relu2", inplace=False)
    gap = g.add("AdaptiveAvgPool2d", "pool", output_size=pool)
    fl = g.add("Flatten", "flatten")
    fc = g.add("Linear", "fc", out_features=classes)
    out = g.add("Output", "output")
    g.chain(x, c1, b1, r1, c2, b2, add, r2, gap, fl, fc, out)
    g.connect(r1, add, dst_port=1, kind="shortcut")
    p = Project("Tiny", g)
    p.training.update(
        {
            "epochs": 3,
            "batch_size": 32,
            "seed": 0,
            "label_smoothing": 0.05,
            "optimizer": {
                "name": "sgd",
                "lr": 0.05,
                "momentum": 0.9,
                "weight_decay": 0.0001,
                "nesterov": True,
            },
            "schedule": {"name": "cosine", "warmup_epochs": 0},
        }
    )
    return p


def _x(shape, n=2):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------ module
def test_module_export_is_the_emitted_source(tmp_path):
    project = tiny_project()
    out = tmp_path / "model.py"
    emitted = export_module(project, out)
    assert out.read_text() == emitted.source
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]  # atomic: no temporary left behind
    cls = load_source(out.read_text(), emitted.class_name)
    torch.manual_seed(0)
    a = cls().eval()
    torch.manual_seed(0)
    b = build_module(project).eval()
    torch.testing.assert_close(a(_x((1, 8, 8))), b(_x((1, 8, 8))))


def test_export_command_in_process(tmp_path, capsys):
    import main

    save_project(tiny_project(), tmp_path / "p.json")
    assert main.main(["export", str(tmp_path / "p.json"), "-o", str(tmp_path / "m.py")]) == 0
    assert "class Tiny" in (tmp_path / "m.py").read_text()
    assert main.main(["export", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skipwire: ") and err.count("\n") == 1
    invalid = tiny_project()
    invalid.graph.remove_node(invalid.graph.node_by_name("flatten").id)
    save_project(invalid, tmp_path / "bad.json")
    assert main.main(["export", str(tmp_path / "bad.json"), "-o", str(tmp_path / "y.py")]) == 1
    assert not (tmp_path / "y.py").exists()


# ------------------------------------------------------------------ training script
# The script's training equals the app's: tests/codegen/test_train_script.py (both run as a user runs them).
def _script_main(path):
    return runpy.run_path(str(path), run_name="skipwire_train_script")["main"]


def test_script_trains_in_process_and_its_checkpoint_loads(tmp_path, capsys):
    project = tiny_project()
    script = tmp_path / "train.py"
    export_script(project, script)
    assert os.access(script, os.X_OK)
    main = _script_main(script)
    assert main(["--epochs", "1", "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    (run,) = (tmp_path / "out").iterdir()
    assert "finished 1 epoch" in capsys.readouterr().err
    assert json.loads((run / "project.json").read_text())["graph"] == project.to_dict()["graph"]
    assert load_weights(build_module(project), run / "last.safetensors", strict=True).ok


def test_script_passes_ruff_check_and_format(tmp_path):
    """The training script is code a user reads and may keep: ruff check and ruff format --check clean
    with this project's settings."""
    from graph.templates import make

    for name in ("resnet20", "densenet121"):
        export_script(make(name), tmp_path / f"train_{name}.py")
    text = (tmp_path / "train_densenet121.py").read_text(encoding="utf-8")
    assert "Skipwire template" not in text and "from training.bundle import run" in text
    ruff = Path(sys.executable).parent / "ruff"
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for cmd in (["check"], ["format", "--check", "--diff"]):
        r = subprocess.run(
            [str(ruff), *cmd, *config, str(tmp_path)], capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]


@pytest.mark.parametrize("name", ["C:\\xff\\N{", 'a"""b', "x\x00\ny", "\\"])
def test_script_with_a_hostile_project_name_still_compiles(tmp_path, name):
    """The project name goes into the script's docstring: backslashes, quotes and control characters
    are made harmless (as in the module's docstrings), so the script compiles and holds no user text
    outside its docstring and the JSON project; the project it holds keeps the name as it is."""
    from codegen.export import render_training_script

    project = tiny_project()
    project.name = name
    text = render_training_script(project)
    compile(text, "train.py", "exec")
    assert text.splitlines()[1].startswith('"""Train ') and "\\" not in text.splitlines()[1]
    namespace = runpy.run_path(str(_write(tmp_path / "train.py", text)), run_name="skipwire_train_script")
    assert namespace["PROJECT"]["name"] == name


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_weights_are_refused_for_code_exports(tmp_path):
    from codegen.export import export

    for fmt in ("module", "script"):
        with pytest.raises(UserError, match="--weights bakes weights into onnx and torchscript"):
            export(tiny_project(), tmp_path / "out.py", fmt, weights=str(tmp_path / "w.safetensors"))
    assert not (tmp_path / "out.py").exists()


def test_script_refuses_bad_input_as_the_app_does(tmp_path, capsys):
    script = tmp_path / "train.py"
    export_script(tiny_project(shape=(3, 8, 8), classes=10), script)
    main = _script_main(script)
    assert main(["--dataset", "imagenet:/nowhere", "--epochs", "1", "--out", str(tmp_path / "o")]) == 2
    assert "train.py: unknown dataset 'imagenet:/nowhere'" in capsys.readouterr().err
    assert main(["--dataset", f"mnist:{tmp_path / 'nowhere'}", "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_onnx_export_checks_and_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    result = export_onnx(tiny_project(), tmp_path / "m.onnx")
    assert result["checked"]
    pytest.importorskip("onnxruntime")
    assert result["max_abs_diff"] is not None and result["max_abs_diff"] < 1e-4
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": _x((1, 8, 8), n=5).numpy()})[0]
    assert got.shape == (5, 3)  # dynamic batch axis


def test_onnx_refuses_with_the_node_name(tmp_path, monkeypatch):
    with pytest.raises(UserError, match='AdaptiveAvgPool2d "pool".*output size 3 does not divide its 8x8'):
        export_onnx(tiny_project(pool=3), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
    # without the pre-check, the exporter's own failure is traced to the layer
    import codegen.export

    monkeypatch.setattr(codegen.export, "_onnx_precheck", lambda analysis: None)
    with pytest.raises(UserError, match='ONNX export of Tiny failed at layer "pool" \\(AdaptiveAvgPool2d\\)'):
        export_onnx(tiny_project(pool=3), tmp_path / "m.onnx")
    assert os.listdir(tmp_path) == []


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_torchscript_export_reloads_with_the_same_outputs(tmp_path):
    result = export_torchscript(tiny_project(), tmp_path / "m.pt")
    assert result["method"] in ("script", "trace") and result["max_abs_diff"] < 1e-5
    loaded = torch.jit.load(str(tmp_path / "m.pt"))
    assert loaded(_x((1, 8, 8))).shape == (2, 3)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_template_with_helpers_exports_to_onnx_and_torchscript(tmp_path):
    """resnet20: zero-pad shortcuts (a helper module with slicing and F.pad); trained-looking weights."""
    from codegen.weights import save_weights
    from graph.templates import make

    pytest.importorskip("onnx")
    project = make("resnet20")
    model = build_module(project)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    save_weights(model, tmp_path / "w.safetensors")
    onnx_result = export_onnx(project, tmp_path / "r20.onnx", weights=str(tmp_path / "w.safetensors"))
    assert onnx_result["checked"]
    ts = export_torchscript(project, tmp_path / "r20.pt", weights=str(tmp_path / "w.safetensors"))
    assert ts["max_abs_diff"] < 1e-5
    loaded = torch.jit.load(str(tmp_path / "r20.pt"))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model.eval()(x), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ the checks' tolerance, atomic writes
def test_compare_outputs_is_relative_to_the_outputs_scale():
    from codegen.export import compare_outputs

    want = torch.tensor([[1.6e7, -3.0e6], [2.0, 5.0e6]])
    (ok,) = compare_outputs(["logits"], [want + 28.0], [want])  # the densenet121 report: 28 at 1.6e7
    assert ok.ok and ok.diff == 28.0 and ok.allowed == pytest.approx(1e-4 + 1e-4 * 1.6e7)
    small = torch.tensor([[0.5, -0.25]])
    (bad,) = compare_outputs(["logits"], [small + 1e-3], [small])
    assert not bad.ok and bad.diff == pytest.approx(1e-3, rel=1e-3)
    worst = compare_outputs(["a", "b"], [small, small + 1e-3], [small, small])
    assert [c.name for c in worst] == ["b", "a"]  # worst first
    (shape,) = compare_outputs(["logits"], [torch.zeros(2, 3)], [torch.zeros(2, 4)])
    assert shape.problem == "has shape 2x3 where torch's has 2x4"
    nan = torch.tensor([float("nan"), 1.0])
    assert compare_outputs(["x"], [nan.clone()], [nan])[0].ok  # NaN where torch has NaN
    assert (
        "NaN or infinity at 1 value" in compare_outputs(["x"], [torch.tensor([0.0, 1.0])], [nan])[0].problem
    )


def _huge_weights(path):
    """Tiny's weights with the head scaled so that the outputs reach ~1e7."""
    from codegen.weights import save_weights

    torch.manual_seed(0)
    model = build_module(tiny_project())
    with torch.no_grad():
        model.fc.weight.mul_(3e7)
        model.fc.bias.fill_(1e7)
        out = model.eval()(_x((1, 8, 8)))
    assert float(out.abs().max()) > 5e6
    save_weights(model, path)


def test_outputs_near_1e7_pass_both_checks(tmp_path):
    pytest.importorskip("onnxruntime")
    weights = str(tmp_path / "w.safetensors")
    _huge_weights(weights)
    onnx_result = export_onnx(tiny_project(), tmp_path / "m.onnx", weights=weights)
    assert onnx_result["checked"] and onnx_result["output"] == "logits"
    assert onnx_result["allowed"] > 1e3 and onnx_result["max_abs_diff"] <= onnx_result["allowed"]
    ts = export_torchscript(tiny_project(), tmp_path / "m.pt", weights=weights)
    assert ts["allowed"] > 1e3 and ts["max_abs_diff"] <= ts["allowed"]


def test_a_patched_onnx_graph_fails_the_check_and_leaves_the_previous_file(tmp_path, monkeypatch):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import numpy_helper

    import codegen.export

    path = tmp_path / "m.onnx"
    path.write_bytes(b"previous")
    real = codegen.export._onnx_export

    def export_then_patch(model, args, f, opset, dynamic_batch=False):
        real(model, args, f, opset, dynamic_batch)
        proto = onnx.load(f)
        (bias,) = [t for t in proto.graph.initializer if t.name.endswith("fc.bias")]
        bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.5, bias.name))
        onnx.save(proto, f)

    monkeypatch.setattr(codegen.export, "_onnx_export", export_then_patch)
    with pytest.raises(UserError) as info:
        export_onnx(tiny_project(), path)
    message = info.value.message
    assert message.startswith(
        f"{path}: onnxruntime's output \"logits\" differs from torch's: max|diff| 5.00e-01"
    )
    assert "> allowed" in message and "\n" not in message and info.value.exit_code == 1
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["m.onnx"]


def test_a_reloaded_torchscript_that_differs_fails_and_leaves_no_file(tmp_path, monkeypatch):
    real = torch.jit.load

    def load_then_patch(f, map_location=None):
        loaded = real(f, map_location=map_location)
        with torch.no_grad():
            loaded.fc.bias.add_(0.25)
        return loaded

    monkeypatch.setattr(torch.jit, "load", load_then_patch)
    with pytest.raises(
        UserError, match=r'reloaded TorchScript module\'s "output" differs from the model\'s: max'
    ):
        export_torchscript(tiny_project(), tmp_path / "m.pt")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("fmt", "with_weights"),
    [
        ("module", False),
        ("script", False),
        ("onnx", False),
        ("onnx", True),
        ("torchscript", False),
        ("torchscript", True),
    ],
)
def test_every_export_failing_after_writing_started_keeps_the_previous_file(
    tmp_path, monkeypatch, fmt, with_weights
):
    """The rename is the last step: failing there (a full disk) must leave the old file and no temporary."""
    from codegen.export import export
    from codegen.weights import save_weights
    from graph import atomic

    if fmt == "onnx":
        pytest.importorskip("onnx")
    weights = None
    if with_weights:
        weights = str(tmp_path / "w.safetensors")
        save_weights(build_module(tiny_project()), weights)
    target = tmp_path / f"out.{fmt}"
    target.write_bytes(b"previous")
    listing = sorted(os.listdir(tmp_path))
    written = []
    real_replace = os.replace

    def full(src, dst):
        written.append(os.path.getsize(src))  # the new file was complete and checked
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(UserError, match=r"out\.\w+: cannot write the file \(No space left on device\)"):
        export(tiny_project(), target, fmt, weights)
    assert written and written[0] > 0
    assert target.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == listing
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    export(tiny_project(), target, fmt, weights)  # and without the failure it is written
    assert target.read_bytes() != b"previous" and sorted(os.listdir(tmp_path)) == listing


def test_export_command_prints_the_checks_numbers(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import main

    save_project(tiny_project(), tmp_path / "p.json")
    assert (
        main.main(["export", str(tmp_path / "p.json"), "-o", str(tmp_path / "m.onnx"), "--format", "onnx"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        f'wrote {tmp_path / "m.onnx"}: onnx (onnx.checker passed; onnxruntime matches torch on "logits": '
        "max|diff| "
    )
    assert re.search(r"max\|diff\| \d\.\de[-+]\d\d <= allowed 1\.\de-04\)\n$", out), out


def test_save_weights_failing_at_the_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    from codegen.weights import save_weights
    from graph import atomic

    path = tmp_path / "w.safetensors"
    path.write_bytes(b"previous")

    def full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(UserError, match=r"w\.safetensors: cannot write the file"):
        save_weights(build_module(tiny_project()), path)
    assert path.read_bytes() == b"previous" and os.listdir(tmp_path) == ["w.safetensors"]
