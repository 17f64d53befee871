"""inspect: every node's output and gradient on real samples, read from the generated module."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from codegen.build import build_module
from graph.errors import UserError
from graph.projectfile import save_project
from graph.shapes import analyze
from graph.templates import all_templates, make
from training import runs
from training.inspect import Cancelled, inspect, plan, run_inspection
from training.inspect_chart import CSV_FIELDS, profile_csv, write_maps, write_profile
from training.inspect_inputs import WeightsChoice, check_project, load_samples, prepare_model
from training.inspect_stats import tensor_stats


@pytest.fixture(scope="module")
def resnet20():
    return make("resnet20", None, "3,16,16", None)


@pytest.fixture(scope="module")
def result(resnet20):
    return run_inspection(resnet20, samples=6)


def _rec(res, name):
    return res.record(name)


def test_every_node_of_resnet20_has_a_record_keyed_by_its_attribute_path(resnet20, result):
    model = build_module(resnet20)
    modules = dict(model.named_modules())
    names = [r.name for r in result.records]
    assert not result.unobserved
    assert len(names) == len(set(names))
    # every leaf module of the generated code is a node's record (ZeroPadShortcut as a shortcut)
    leaves = {n for n, m in modules.items() if n and not list(m.children())}
    assert leaves <= set(names)
    assert {"layer1.0", "layer2.0", "layer2.0.add", "layer2.0.downsample", "flatten"} <= set(names)
    assert _rec(result, "layer2.0.downsample").type == "Shortcut:zero_pad"
    assert _rec(result, "layer2.0.conv1").depth == 1 and _rec(result, "layer2.0").depth == 0
    assert _rec(result, "layer2.0").shape == (32, 8, 8)


def test_values_are_what_the_generated_code_computes(resnet20):
    a = check_project(resnet20)
    prepared = prepare_model(resnet20, WeightsChoice("init", None, 3), a)
    batch = load_samples(resnet20, a, samples=5)
    res = inspect(resnet20, a, prepared, batch, mode="eval")
    twin = prepare_model(resnet20, WeightsChoice("init", None, 3), a).model.eval()  # same seed, same weights
    x = batch.x.clone().requires_grad_(True)
    logits = twin(x)
    out = logits.detach()
    fc = _rec(res, "fc")
    assert fc.mean == pytest.approx(float(out.mean()), rel=1e-5, abs=1e-6)
    assert fc.max == pytest.approx(float(out.max()), rel=1e-5)
    with torch.no_grad():
        stem = twin.relu(twin.bn1(twin.conv1(batch.x)))
    assert _rec(res, "relu").std == pytest.approx(float(stem.std(unbiased=False)), rel=1e-4)
    assert _rec(res, "relu").zero_fraction == pytest.approx(float((stem == 0).float().mean()), abs=1e-6)
    # d loss / d logits of cross-entropy (mean over the batch) is (softmax - onehot) / B
    expect = (out.softmax(1) - F.one_hot(batch.y, 10).float()) / len(batch.y)
    assert fc.grad_norm == pytest.approx(float(expect.norm()), rel=1e-4)
    assert res.loss.startswith("cross-entropy against the samples' labels")


def test_merge_shows_each_input_norm_and_reads_values_before_in_place_ops(result):
    add = _rec(result, "layer1.1.add")
    inputs = dict(add.inputs)
    assert set(inputs) == {"bn2", "shortcut"}
    assert inputs["bn2"] == pytest.approx(_rec(result, "layer1.1.bn2").norm)
    assert inputs["shortcut"] == pytest.approx(_rec(result, "layer1.0").norm)  # the block's input
    # bn2 is read before `out += identity` and the add before ReLU(inplace=True): not the same values
    assert _rec(result, "layer1.1.bn2").min < 0 and _rec(result, "layer1.1.add").min < 0
    assert _rec(result, "layer1.1.relu2").min >= 0
    # a zero-pad shortcut in a downsampling block: its projection's output is the shortcut input
    first = dict(_rec(result, "layer2.0.add").inputs)
    assert first["shortcut"] == pytest.approx(_rec(result, "layer2.0.downsample").norm)
    # the add passes its gradient through unchanged to the residual branch
    assert _rec(result, "layer1.1.add").grad_norm == pytest.approx(_rec(result, "layer1.1.bn2").grad_norm)


def test_dead_units_and_saturated_gates():
    st = tensor_stats(torch.tensor([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 2.0], [3.0, 0.0]]]), "ReLU")
    assert st["zero_fraction"] == pytest.approx(5 / 8)
    assert st["dead_fraction"] == pytest.approx(2 / 4)  # units zero for every sample
    sig = tensor_stats(torch.tensor([[0.001, 0.5, 0.999, 0.2]]), "Sigmoid")
    assert sig["saturated_fraction"] == pytest.approx(0.5)
    assert tensor_stats(torch.ones(2, 3), "ReLU")["saturated_fraction"] is None
    highway = run_inspection(make("highway20", None, "3,8,8", None), samples=2, backward=False)
    gates = [r for r in highway.records if r.type == "Sigmoid"]
    assert gates and all(0.0 <= r.saturated_fraction <= 1.0 for r in gates)
    assert (
        "saturated_fraction" in gates[0].as_dict()
        and "saturated_fraction" not in highway.records[0].as_dict()
    )


def test_plain_net_gradient_drifts_with_depth_where_the_resnet_keeps_it():
    # at initialisation with BatchNorm on batch statistics, plain56's gradient grows from the head back
    # to the stem by orders of magnitude (seen: ~1,700x); the shortcuts of resnet56 keep it within ~5x
    def ratio(name):
        res = run_inspection(make(name, None, "3,16,16", None), samples=8)
        return _rec(res, "conv1").grad_norm / _rec(res, "fc").grad_norm

    assert ratio("plain56") > 50 * ratio("resnet56")


def test_every_template_is_planned_with_a_module_for_each_node():
    for t in all_templates():
        if t.name in ("dpn26",):  # its path split is written inline as slices: listed as not shown
            continue
        project = make(t.name, None, "3,32,32" if t.family == "imagenet" else None, None)
        a = analyze(project)
        with torch.device("meta"):  # module names only: no memory, no initialisation work
            modules = dict(build_module(project, a).named_modules())
        missing = [e.name for e in plan(a, modules) if e.key is None or e.key[0] not in modules]
        assert not missing, (t.name, missing[:5])


def test_an_imported_model_is_inspected():
    from torch import nn

    from codegen.fx_import import import_module

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.bn = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 4)

        def forward(self, x):
            x = torch.relu(self.bn(self.conv(x)))
            x = x + self.conv2(x)
            return self.fc(torch.flatten(self.pool(x), 1))

    project = import_module(Net(), (3, 8, 8)).project
    res = run_inspection(project, samples=3)
    assert not res.unobserved
    types = {r.type for r in res.records}
    assert {"Conv2d", "Add", "Linear"} <= types
    assert all(r.grad_norm is not None and math.isfinite(r.grad_norm) for r in res.records)


def test_cancel_stops_the_forward_pass(resnet20):
    with pytest.raises(Cancelled):
        run_inspection(resnet20, samples=2, should_cancel=lambda: True)
    seen = []
    run_inspection(resnet20, samples=2, backward=False, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] and len(seen) == seen[-1][1]


# ------------------------------------------------------------------------------ weights, samples
def _fake_run(tmp_path, project, seed=5):
    torch.manual_seed(seed)
    model = build_module(project)
    run = runs.create_run(
        tmp_path / "run",
        project.to_dict(),
        {"dataset": "synthetic"},
        "",
        {"data": {"mean": [0.5] * 3, "std": [0.25] * 3}},
    )
    runs.save_checkpoint(run, "last", model.state_dict(), {"epoch": 1})
    return run, model


def test_weights_from_a_run_of_this_project_and_a_refused_run_of_another(tmp_path, resnet20):
    run, model = _fake_run(tmp_path, resnet20)
    res = run_inspection(resnet20, WeightsChoice("run", str(run)), samples=2)
    assert res.mode == "eval" and "last checkpoint" in res.weights
    a = check_project(resnet20)
    prepared = prepare_model(resnet20, WeightsChoice("run", str(run)), a)
    assert torch.equal(prepared.model.conv1.weight, model.conv1.weight)
    assert prepared.norm == ([0.5] * 3, [0.25] * 3)
    other = make("plain20", None, "3,16,16", None)
    with pytest.raises(
        UserError, match=r"trained another network \(ResNet-20\), not this project \(Plain-20\)"
    ):
        run_inspection(other, WeightsChoice("run", str(run)), samples=2)
    # a weights file is plain tensors: resnet20's fit plain20 (zero-pad shortcuts have none); a wrong one not
    assert run_inspection(other, WeightsChoice("file", str(run / "last.safetensors")), samples=2).count == 2
    bad = dict(model.state_dict())
    bad["fc.weight"] = torch.zeros(3, 64)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(UserError, match=r"bad.pt do not fit this project \(ResNet-20\): .*fc.weight"):
        run_inspection(resnet20, WeightsChoice("file", str(tmp_path / "bad.pt")), samples=2)
    res = run_inspection(resnet20, WeightsChoice("file", str(run / "last.safetensors")), samples=2)
    assert res.weights.startswith("weights ")


def _ppm(path, w, h, c=3):
    magic = b"P6" if c == 3 else b"P5"
    path.write_bytes(magic + f"\n{w} {h}\n255\n".encode() + bytes(range(256)) * (w * h * c // 256 + 1))
    path.write_bytes(path.read_bytes()[: len(magic) + len(f"\n{w} {h}\n255\n") + w * h * c])
    return str(path)


def test_image_files_are_checked_against_the_input(tmp_path, resnet20):
    good = _ppm(tmp_path / "good.ppm", 16, 16)
    res = run_inspection(resnet20, images=[good, good], samples=2)
    assert res.count == 2 and "good.ppm" in res.samples and res.loss.endswith("predicted class")
    big = _ppm(tmp_path / "big.ppm", 40, 30)
    with pytest.raises(UserError, match=r"big.ppm is 40x30 pixels but the project's input is 16x16"):
        run_inspection(resnet20, images=[big])
    assert run_inspection(resnet20, images=[big], resize=True, backward=False).count == 1
    gray = _ppm(tmp_path / "gray.pgm", 16, 16, c=1)
    with pytest.raises(UserError, match=r"gray.pgm has 1 channel but the project's input takes 3"):
        run_inspection(resnet20, images=[gray])
    with pytest.raises(UserError, match="does not exist"):
        run_inspection(resnet20, images=[str(tmp_path / "none.png")])


def test_a_node_without_output_is_named_clearly(result):
    with pytest.raises(UserError, match="'output' is the network's Output node and has no output of its own"):
        result.record("output")
    with pytest.raises(UserError, match="no node named 'nope'"):
        result.record("nope")


# ------------------------------------------------------------------------------ CLI and pictures
def test_cli_json_png_csv(tmp_path, resnet20, capsys):
    from main import main

    f = tmp_path / "r.json"
    save_project(resnet20, f)
    png, csv_path = tmp_path / "p.png", tmp_path / "p.csv"
    rc = main(["inspect", str(f), "--samples", "3", "--json", "--png", str(png), "--csv", str(csv_path)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    node = doc["nodes"][0]
    assert {"name", "type", "shape", "mean", "std", "min", "max", "zero_fraction", "grad_norm"} <= set(node)
    assert doc["count"] == 3 and len(doc["nodes"]) == 80
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert csv_path.read_text().splitlines()[0] == ",".join(CSV_FIELDS)
    assert (
        main(
            [
                "inspect",
                str(f),
                "--samples",
                "2",
                "--node",
                "layer1.0.conv2",
                "--png",
                str(tmp_path / "m.svg"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "layer1.0.conv2" in out and "Conv2d" in out
    assert (tmp_path / "m.svg").read_text().lstrip().startswith("<?xml")
    assert main(["inspect", str(f), "--samples", "2", "--node", "output"]) == 2
    assert "has no output of its own" in capsys.readouterr().err
    assert main(["inspect", str(f), "--run", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    other = tmp_path / "p.json"
    save_project(make("plain20", None, "3,16,16", None), other)
    both = tmp_path / "both.csv"
    assert main(["inspect", str(f), "--compare", str(other), "--samples", "2", "--csv", str(both)]) == 0
    networks = {line.split(",")[0] for line in both.read_text().splitlines()[1:]}
    assert networks == {"ResNet-20", "Plain-20"}
    assert main(["inspect", str(f), "--compare", str(other), "--node", "fc"]) == 2
    assert "--compare draws depth profiles" in capsys.readouterr().err


def test_pictures_of_a_vector_and_a_refused_suffix(tmp_path, result):
    # the profile and a node's maps are drawn in test_cli_json_png_csv; a vector has no maps
    write_maps(_rec(result, "fc"), tmp_path / "vec.png")
    assert (tmp_path / "vec.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(UserError, match="must end in .png or .svg"):
        write_profile([result], tmp_path / "x.jpg")
    rows = profile_csv([result, result]).splitlines()
    assert len(rows) == 1 + 2 * len(result.records)


def test_pictures_and_csv_failing_at_the_rename_keep_the_previous_file(tmp_path, result, monkeypatch):
    import os

    from training.inspect_chart import write_csv

    png, csv_path = tmp_path / "p.png", tmp_path / "p.csv"
    png.write_bytes(b"old picture")
    csv_path.write_text("old numbers")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(UserError, match="No space left on device"):
        write_profile([result], png)
    with pytest.raises(UserError, match="No space left on device"):
        write_csv([result], csv_path)
    assert png.read_bytes() == b"old picture" and csv_path.read_text() == "old numbers"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "p.png"]


def test_samples_from_a_folder_dataset_and_no_download(tmp_path, monkeypatch):
    project = make("resnet20", 2, "3,16,16", None)
    for label in ("cat", "dog"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(6):
            _ppm(tmp_path / "data" / label / f"{i}.ppm", 16, 16)
    res = run_inspection(project, dataset=f"folder:{tmp_path / 'data'}", samples=3)
    assert res.count == 3 and res.samples.startswith("folder:") and res.loss.endswith("samples' labels")
    monkeypatch.setenv("SKIPWIRE_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError, match=r"dataset cifar10 is not in the download cache; fetch it first"):
        run_inspection(make("resnet20", None, "3,32,32", None), dataset="cifar10", samples=2)


def test_training_and_inspection_share_one_project_check():
    """training/modelsrc.py's check refuses an invalid project or one without exactly one Input, in the
    words of what was asked (issue 23: inspect_inputs.py had a copy)."""
    from graph.templates import make
    from training.modelsrc import project_io

    broken = make("resnet20")
    broken.graph.remove_node(broken.graph.node_by_name("fc").id)
    with pytest.raises(UserError, match="not valid, so it cannot be trained"):
        project_io(broken)
    with pytest.raises(UserError, match="not valid, so it cannot be inspected"):
        check_project(broken)
    two = make("resnet20")
    two.graph.add("Input", "input2", shape=[3, 32, 32])
    for call, word in ((project_io, "trained"), (check_project, "inspected")):
        with pytest.raises(UserError, match=f"exactly one Input node to be {word}|cannot be {word}"):
            call(two)
