"""ImageNet weights from a local server: a random-weight resnet18 state_dict under a torchvision-style
name."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from fake_downloads import Server, cifar10_tar, write_manifest

import main as skipwire_main
from codegen import weights as cg
from graph import pretrained as gp
from graph.errors import UserError
from graph.projectfile import load_project
from graph.templates import make
from training import pretrained, sources
from training.modelsrc import model_source, module_from_source


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPWIRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SKIPWIRE_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("SKIPWIRE_READ_TIMEOUT", "1")
    monkeypatch.delenv("SKIPWIRE_TEST_MANIFEST", raising=False)
    with Server() as server:
        monkeypatch.setenv("SKIPWIRE_WEIGHTS_URL", server.url)
        monkeypatch.setenv("SKIPWIRE_DATASETS_URL", server.url)
        yield server


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """(file name, bytes, state): torchvision's layout (the template mirrors it), random values."""
    torch.manual_seed(0)
    model = module_from_source(*model_source(make("resnet18")))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("w") / "r18.pth"
    torch.save(state, path)
    body = path.read_bytes()
    return f"resnet18-{hashlib.sha256(body).hexdigest()[:8]}.pth", body, state


def small_resnet18():
    return make("resnet18", classes=10, input_shape="3,32,32")


def test_fetch_verify_and_load(env, resnet18_file):
    name, body, state = resnet18_file
    env.serve(name, body)
    with sources.override({"weights": {"resnet18": {"v1": name}}}):
        pre = pretrained.fetch(small_resnet18(), "imagenet")
        again = pretrained.fetch(small_resnet18(), "imagenet:v1")
    assert env.requests == [f"/{name}"]  # the second use reads the cache
    assert pre.arch.name == "resnet18" and pre.version == "v1" and again.path == pre.path
    model = module_from_source(*model_source(small_resnet18()))
    msg = pretrained.apply(model, pre, 10)
    assert msg.endswith("fc: new, 10 classes") and "loaded 100 of 102 tensors" in msg
    assert torch.equal(model.state_dict()["conv1.weight"], state["conv1.weight"])
    assert torch.equal(model.state_dict()["layer4.1.bn2.running_var"], state["layer4.1.bn2.running_var"])
    assert model.state_dict()["fc.weight"].shape == (10, 512)


def test_wrong_hash_is_refused(env, resnet18_file, tmp_path):
    _name, body, _state = resnet18_file
    env.serve("resnet18-00000000.pth", body)
    over = {"weights": {"resnet18": {"v1": "resnet18-00000000.pth"}}}
    with sources.override(over), pytest.raises(UserError) as info:
        pretrained.fetch(small_resnet18())
    assert "wrong checksum" in info.value.message and "00000000" in info.value.message
    left = [p.name for p in (tmp_path / "cache" / "weights").iterdir() if not p.name.endswith(".lock")]
    assert left == []


def test_project_that_does_not_match_is_refused_before_any_download(env, tmp_path, capsys):
    proj = tmp_path / "r20.skipwire"
    assert skipwire_main.main(["new", "resnet20", "-o", str(proj)]) == 0
    code = skipwire_main.main(
        ["train", str(proj), "--weights", "imagenet", "--epochs", "1", "--out", str(tmp_path)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "does not match any torchvision architecture" in err and "resnet18" in err
    assert env.requests == []
    with pytest.raises(UserError, match="no V2"):
        gp.match(small_resnet18(), "imagenet:v2")
    with pytest.raises(UserError, match="3 input channels"):
        gp.match(make("resnet18", input_shape="1,28,28"))


def test_train_from_imagenet_weights_end_to_end(env, resnet18_file, tmp_path, monkeypatch, capsys):
    name, body, _state = resnet18_file
    env.serve(name, body)
    tar = cifar10_tar(per_batch=16, test=20)
    env.serve("cifar-10-binary.tar.gz", tar)
    mpath = write_manifest(tmp_path / "m.json", {"cifar-10-binary.tar.gz": tar}, {"resnet18": {"v1": name}})
    monkeypatch.setenv("SKIPWIRE_TEST_MANIFEST", mpath)
    proj = tmp_path / "r18.skipwire"
    argv = [
        "new",
        "resnet18",
        "--input",
        "3,32,32",
        "--classes",
        "10",
        "--weights",
        "imagenet:v1",
        "-o",
        str(proj),
    ]
    assert skipwire_main.main(argv) == 0
    assert "ImageNet weights (resnet18 V1" in capsys.readouterr().out
    assert load_project(proj).training["weights"] == "imagenet:v1"  # the reference is kept in the project
    argv = ["train", str(proj), "--dataset", "cifar10", "--epochs", "1", "--batch-size", "40"]
    assert skipwire_main.main([*argv, "--device", "cpu", "--out", str(tmp_path / "runs")]) == 0
    err = capsys.readouterr().err
    assert "fc: new, 10 classes" in err
    run = next((tmp_path / "runs").iterdir())
    meta = json.loads((run / "run.json").read_text())
    assert meta["data"]["mean"] == list(gp.IMAGENET_MEAN) and meta["data"]["std"] == list(gp.IMAGENET_STD)
    assert sorted(env.requests) == sorted([f"/{name}", "/cifar-10-binary.tar.gz"])


def test_new_refuses_weights_for_other_templates(tmp_path, capsys):
    assert skipwire_main.main(["new", "plain18", "--weights", "imagenet", "-o", str(tmp_path / "p.sw")]) == 2
    assert "does not match" in capsys.readouterr().err and not (tmp_path / "p.sw").exists()
    assert skipwire_main.main(["new", "resnet18", "--weights", "coco", "-o", str(tmp_path / "p.sw")]) == 2


def test_versions_and_file_names():
    assert gp.match(make("resnet50"))[1] == "v2"  # the best torchvision publishes
    assert gp.match(make("resnet50"), "imagenet:v1")[1] == "v1"
    assert gp.ARCHS["resnet50"].files == {"v1": "resnet50-0676ba61.pth", "v2": "resnet50-11ad3fa6.pth"}
    assert pretrained.hash_prefix("resnet50-11ad3fa6.pth") == "11ad3fa6"
    assert pretrained.url("densenet121-a639ec97.pth", gp.BASE_URL).endswith("/densenet121-a639ec97.pth")
    with pytest.raises(UserError):
        pretrained.hash_prefix("resnet50.pth")


def test_densenet_old_keys_are_renamed():
    state = {
        "features.denseblock1.denselayer1.norm.1.weight": 1,
        "features.denseblock1.denselayer1.conv.2.weight": 2,
        "features.denseblock4.denselayer16.relu.1.bias": 3,
        "features.norm5.weight": 4,
        "classifier.weight": 5,
    }
    assert cg.remap_densenet(state) == {
        "features.denseblock1.denselayer1.norm1.weight": 1,
        "features.denseblock1.denselayer1.conv2.weight": 2,
        "features.denseblock4.denselayer16.relu1.bias": 3,
        "features.norm5.weight": 4,
        "classifier.weight": 5,
    }


def test_a_file_that_does_not_fit_the_backbone_is_refused(resnet18_file, tmp_path):
    _name, _body, state = resnet18_file
    bad = dict(state)
    bad["conv1.weight"] = torch.zeros(64, 3, 3, 3)  # another stem: not this architecture's file
    pre = pretrained.Pretrained(gp.ARCHS["resnet18"], "v1", tmp_path / "resnet18-x.pth", bad)
    model = module_from_source(*model_source(small_resnet18()))
    with pytest.raises(UserError, match="does not fit this model"):
        pretrained.apply(model, pre, 10)


def test_frozen_backbone_trains_only_the_head(env, resnet18_file, tmp_path, monkeypatch):
    from graph.templates.common import head_linear
    from training import engine, runs
    from training.config import TrainConfig

    name, body, state = resnet18_file
    env.serve(name, body)
    tar = cifar10_tar(per_batch=16, test=20)
    env.serve("cifar-10-binary.tar.gz", tar)
    monkeypatch.setenv(
        "SKIPWIRE_TEST_MANIFEST",
        write_manifest(tmp_path / "m.json", {"cifar-10-binary.tar.gz": tar}, {"resnet18": {"v1": name}}),
    )
    project = small_resnet18()
    head = head_linear(project)
    for node in project.graph.nodes.values():
        node.frozen = node.id != head.id and node.type not in ("Input", "Output")
    cfg = TrainConfig(dataset="cifar10", epochs=1, batch_size=40, weights="imagenet:v1", device="cpu")
    result = engine.train(project, cfg, tmp_path / "run")
    assert result.status == "completed"
    trained, _ = runs.load_checkpoint(tmp_path / "run", "last")
    assert torch.equal(trained["conv1.weight"], state["conv1.weight"])
    assert torch.equal(trained["layer3.1.conv2.weight"], state["layer3.1.conv2.weight"])
    assert torch.equal(trained["layer1.0.bn1.running_mean"], state["layer1.0.bn1.running_mean"])
    engine.seed_all(0)  # as the run started: the head's initial values
    fresh = module_from_source(*model_source(small_resnet18())).state_dict()["fc.bias"]
    assert trained["fc.weight"].shape == (10, 512) and not torch.equal(trained["fc.bias"], fresh)


def test_densenet_checkpoint_with_old_key_names_loads_completely(env, tmp_path):
    """torchvision's densenet121 file keeps the pre-0.4 names (norm.1, conv.2): after the remap every
    tensor but the classifier loads into the template's model."""
    torch.manual_seed(1)
    project = make("densenet121", classes=10, input_shape="3,32,32")
    model = module_from_source(*model_source(make("densenet121")))
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    old = {
        k.replace(".norm1.", ".norm.1.")
        .replace(".conv1.", ".conv.1.")
        .replace(".norm2.", ".norm.2.")
        .replace(".conv2.", ".conv.2."): v
        for k, v in state.items()
    }
    # 58 dense layers: the file really has the old names
    assert sum(k.endswith(".norm.1.weight") for k in old) == 58
    path = tmp_path / "d.pth"
    torch.save(old, path)
    body = path.read_bytes()
    name = f"densenet121-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    env.serve(name, body)
    with sources.override({"weights": {"densenet121": {"v1": name}}}):
        pre = pretrained.fetch(project)
    target = module_from_source(*model_source(project))
    msg = pretrained.apply(target, pre, 10)
    assert f"loaded {len(state) - 2} of {len(state)} tensors" in msg and msg.endswith(
        "classifier: new, 10 classes"
    )
    key = "features.denseblock4.denselayer16.conv2.weight"
    assert torch.equal(target.state_dict()[key], state[key])
