"""`train --weights` takes the checkpoint that an exported training script writes."""

from __future__ import annotations

import torch

from codegen.build import build_module
from graph.templates import make
from training import runs


def test_script_checkpoint_is_read_as_weights(tmp_path):
    project = make("resnet20", input_shape="1,8,8", classes=3)
    model = build_module(project)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    # the exported script's format: {"model": state_dict, "epochs": ..., "settings": ...}
    torch.save({"model": state, "epochs": 1, "settings": {"lr": 0.1}}, tmp_path / "checkpoint.pt")
    got = runs.load_weights_file(tmp_path / "checkpoint.pt")
    assert got.keys() == state.keys()
    assert all(torch.equal(got[k], state[k]) for k in state)


def test_train_without_a_project_is_a_clear_error(capsys):
    import main

    assert main.main(["train"]) == 2
    assert "needs a project file" in capsys.readouterr().err
