"""A run folder's files (project, config, model.py, run.json, checkpoints) go through graph.atomic: a write
that fails after it started leaves the previous file and no temporary file."""

import os

import pytest
import torch

from graph import atomic
from graph.errors import UserError
from training import runs


def _full(*_args):
    raise OSError(28, "No space left on device")


def test_a_checkpoint_failing_at_the_rename_keeps_the_previous_one(tmp_path, monkeypatch):
    run = runs.create_run(tmp_path / "run", {"name": "p"}, {"epochs": 1}, "# model\n", {})
    runs.save_checkpoint(run, "last", {"w": torch.ones(3)}, {"epoch": 1})
    before = {p: (run / p).read_bytes() for p in os.listdir(run)}
    monkeypatch.setattr(atomic.os, "replace", _full)
    with pytest.raises(UserError, match=r"last\.safetensors: cannot write the file \(No space left"):
        runs.save_checkpoint(run, "last", {"w": torch.zeros(3)}, {"epoch": 2})
    with pytest.raises(UserError, match=r"run\.json: cannot write the file"):
        runs.update_run_meta(run, status="done")
    assert {p: (run / p).read_bytes() for p in os.listdir(run)} == before
    monkeypatch.undo()
    weights, state = runs.load_checkpoint(run, "last")
    assert torch.equal(weights["w"], torch.ones(3)) and state["epoch"] == 1


def test_an_interrupted_write_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupt(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", interrupt)
    (tmp_path / "run").mkdir()
    with pytest.raises(KeyboardInterrupt):
        runs.write_json(tmp_path / "run" / "config.json", {"epochs": 1})
    assert os.listdir(tmp_path / "run") == []
