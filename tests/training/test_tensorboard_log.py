"""TensorBoard event files beside metrics.jsonl (training/tensorboard_log.py): a sweep's run is read
back with TensorBoard's own reader and its values compared with metrics.jsonl; without tensorboard a
run still writes metrics.jsonl and says once how to get event files. Without tensorboard the read-back
test skips, except in CI (CI=true), where it fails."""

from __future__ import annotations

import os

import pytest
from test_sweep import staged_tiny

from training import tensorboard_log
from training.metrics import MetricsWriter, read_metrics, record
from training.sweep import parse_vary, run_sweep


def _event_accumulator():
    try:
        from tensorboard.backend.event_processing import event_accumulator
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("tensorboard is not installed; CI installs it with the test extra")
        pytest.skip("tensorboard is not installed (pip install 'skipwire[tensorboard]')")
    return event_accumulator


def hparams_of(run):
    """The session start of a run's HParams (its hparams by name), read with TensorBoard's reader."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    ea = _event_accumulator().EventAccumulator(str(run), size_guidance={"tensors": 0})
    ea.Reload()
    datas = [
        plugin_data_pb2.HParamsPluginData.FromString(c) for c in ea.PluginTagToContent("hparams").values()
    ]
    return next(d.session_start_info for d in datas if d.HasField("session_start_info"))


def test_a_sweep_runs_event_files_hold_its_metrics(tmp_path) -> None:
    ea_mod = _event_accumulator()
    out = tmp_path / "sw"
    result = run_sweep(staged_tiny(), parse_vary(["depth=2", "lr=0.05"]), out, epochs=2, batch_size=2500)
    assert result.status == "completed"
    run = out / "01-depth-2-lr-0.05-r1"
    assert list(run.glob("events.out.tfevents.*"))
    ea = ea_mod.EventAccumulator(str(run), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    ea.Reload()
    recs = read_metrics(run / "metrics.jsonl")
    steps = [r for r in recs if r["kind"] == "step"]
    epochs = [r for r in recs if r["kind"] == "epoch"]
    grads = [r for r in recs if r["kind"] == "grad"]
    assert len(epochs) == 2 and steps and grads

    def scalars(tag: str) -> list[tuple[int, float]]:
        return [(e.step, e.value) for e in ea.Scalars(tag)]

    assert scalars("loss/train_step") == [(r["step"], pytest.approx(r["loss"], rel=1e-6)) for r in steps]
    assert scalars("lr") == [(r["step"], pytest.approx(r["lr"], rel=1e-6)) for r in steps]
    assert scalars("accuracy/val") == [(r["step"], pytest.approx(r["val_acc"], rel=1e-6)) for r in epochs]
    assert scalars("loss/val") == [(r["step"], pytest.approx(r["val_loss"], rel=1e-6)) for r in epochs]
    assert scalars("images_per_s/epoch") == [
        (r["step"], pytest.approx(r["images_per_s"], rel=1e-6)) for r in epochs
    ]
    hists = ea.Histograms("gradients/norm")
    assert [h.step for h in hists] == [r["step"] for r in grads]
    assert hists[0].histogram_value.num == len(grads[0]["norms"])
    assert hists[0].histogram_value.max == pytest.approx(max(grads[0]["norms"]), rel=1e-6)
    # the graph's summary as text, and the swept values as hparams
    text = ea.Tensors("graph/summary/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "Params" in text and "conv" in text.lower()
    start = hparams_of(run)
    assert start.hparams["depth"].string_value == "2"
    assert start.hparams["lr"].number_value == pytest.approx(0.05)


def test_without_tensorboard_runs_still_write_metrics_and_say_so_once(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(__import__("sys").modules, "torch.utils.tensorboard", None)
    monkeypatch.setattr(tensorboard_log, "_told", False)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        w = MetricsWriter(tmp_path / name / "metrics.jsonl")
        w.write(record("status", state="running", message="x"))
        w.close()
        assert [r["state"] for r in read_metrics(tmp_path / name / "metrics.jsonl")] == ["running"]
        assert not list((tmp_path / name).glob("events.out.tfevents.*"))
    err = capsys.readouterr().err
    assert err.count("pip install 'skipwire[tensorboard]'") == 1
