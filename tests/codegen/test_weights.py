"""Transfer learning: reading weights safely, partial loads with a report, new heads, frozen nodes."""

import os
import pickle

import pytest
import torch
from torch import nn

from codegen.build import build_module
from codegen.weights import LoadReport, load_weights, read_state_dict, save_weights, transfer_state
from graph.errors import UserError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _small():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )


def _equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_safetensors_round_trip(tmp_path):
    a, b = _small(), _small()
    with torch.no_grad():
        for p in a.parameters():
            p.add_(1.0)
    save_weights(a, tmp_path / "w.safetensors")
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]
    report = load_weights(b, tmp_path / "w.safetensors")
    assert report.ok and len(report.matched) == len(a.state_dict())
    assert _equal(a, b)


@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "ddp", "compiled"])
def test_torch_checkpoints_are_unwrapped(tmp_path, wrap):
    a, b = _small(), _small()
    with torch.no_grad():
        a[0].weight.mul_(3)
    sd = a.state_dict()
    obj = {
        "plain": sd,
        "state_dict": {"state_dict": sd, "epoch": 3},
        "model": {"model": sd, "optimizer": {}},
        "ddp": {f"module.{k}": v for k, v in sd.items()},
        "compiled": {"state_dict": {f"_orig_mod.{k}": v for k, v in sd.items()}},
    }[wrap]
    torch.save(obj, tmp_path / "w.pt")
    report = load_weights(b, tmp_path / "w.pt")
    assert report.ok, report.text()
    assert _equal(a, b)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("fmt", ["raw_pickle", "torch_zip"])
def test_never_unpickles_arbitrary_objects(tmp_path, fmt):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "evil.pth"
    if fmt == "raw_pickle":
        path.write_bytes(pickle.dumps({"state_dict": _Evil(marker)}))
    else:
        torch.save({"state_dict": _Evil(marker)}, path)
    with pytest.raises(UserError, match="weights_only=True"):
        load_weights(_small(), path)
    assert not os.path.exists(marker)


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_state_dict(tmp_path / "nope.pt")
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(UserError, match=r"\.safetensors, \.pt or \.pth"):
        read_state_dict(tmp_path / "w.npz")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(UserError, match="not a readable safetensors"):
        read_state_dict(tmp_path / "bad.safetensors")
    torch.save({"epoch": 3, "note": "no tensors"}, tmp_path / "empty.pt")
    with pytest.raises(UserError, match="holds no tensors"):
        read_state_dict(tmp_path / "empty.pt")


def _head(project):
    out = project.graph.nodes_of_type("Output")[0]
    (edge,) = project.graph.in_edges(out.id)
    head = project.graph.nodes[edge.src]
    assert head.type == "Linear"
    return head


@pytest.mark.parametrize("how", ["make_classes", "set_out_features"])
def test_new_head_reports_only_the_head_and_loads_the_rest(tmp_path, how):
    from graph.templates import make

    old = build_module(make("resnet20"))
    save_weights(old, tmp_path / "old.safetensors")
    if how == "make_classes":
        project = make("resnet20", classes=5)
    else:
        project = make("resnet20")
        project.graph.set_param(_head(project).id, "out_features", 5)
    new = build_module(project)
    report = load_weights(new, tmp_path / "old.safetensors")
    head = _head(project).name
    assert {k for k, _, _ in report.mismatched} == {f"{head}.weight", f"{head}.bias"}
    assert ("fc.weight", (10, 64), (5, 64)) in report.mismatched or head != "fc"
    assert not report.missing and not report.unexpected
    sd_old, sd_new = old.state_dict(), new.state_dict()
    for k in report.matched:
        assert torch.equal(sd_old[k], sd_new[k])
    assert len(report.matched) == len(sd_new) - 2
    text = report.text()
    assert "another shape" in text and f"{head}.weight (file 10x64, model 5x64)" in text
    # strict: refuse, and leave the model untouched
    before = {k: v.clone() for k, v in build_module(project).state_dict().items()}
    fresh = build_module(project)
    fresh.load_state_dict(before)
    with pytest.raises(UserError) as info:
        load_weights(fresh, tmp_path / "old.safetensors", strict=True)
    assert info.value.exit_code == 1
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())


def test_frozen_nodes_do_not_train_end_to_end(tmp_path):
    from graph.templates import make

    project = make("resnet20")
    frozen_names = {"conv1", "bn1"} | {
        n.name for n in project.graph.nodes.values() if n.name.startswith("layer1")
    }
    for node in project.graph.nodes.values():
        if node.name in frozen_names:
            project.graph.set_node_field(node.id, "frozen", True)
    model = build_module(project)
    save_weights(model, tmp_path / "w.safetensors")
    assert load_weights(model, tmp_path / "w.safetensors").ok  # loading keeps requires_grad
    frozen = {k for k, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(k.split(".")[0] in ("conv1", "bn1", "layer1") for k in frozen)
    assert {k for k, _ in model.named_parameters() if k.startswith(("conv1.", "layer1."))} <= frozen
    assert any(p.requires_grad for k, p in model.named_parameters() if k.startswith("layer2."))
    before = {k: p.detach().clone() for k, p in model.state_dict().items()}
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    assert not model.bn1.training and not model.layer1[0].bn1.training and model.layer2[0].bn1.training
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    # frozen BatchNorms keep their running statistics too; the others update theirs
    stats = [k for k in before if k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert all(torch.equal(before[k], after[k]) for k in stats if k.startswith(("bn1.", "layer1.")))
    assert not torch.equal(before["layer2.0.bn1.running_mean"], after["layer2.0.bn1.running_mean"])
    model.eval()
    assert not model.layer2[0].bn1.training


def test_transfer_state_pairs_by_name_then_order():
    a = _small()
    b = nn.Sequential()
    b.add_module("stem", nn.Conv2d(3, 4, 3))
    b.add_module("norm", nn.BatchNorm2d(4))
    b.add_module("act", nn.ReLU())
    b.add_module("flat", nn.Flatten())
    b.add_module("head", nn.Linear(4 * 6 * 6, 3))
    report = transfer_state(a.state_dict(), b)
    assert not report.missing and not report.unexpected
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))


def test_report_text_and_dict():
    r = LoadReport("w.pt", ["a"], ["b"], ["c"], [("d", (2,), (3,))])
    assert not r.ok
    text = str(r)
    assert text.startswith("Loaded 1 of 3 tensors from w.pt.")
    assert "1 not in the file: b" in text and "1 in the file but not in the model: c" in text
    assert r.to_dict()["mismatched"] == [{"key": "d", "file": [2], "model": [3]}]
