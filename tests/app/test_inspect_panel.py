"""The Inspect tab: a worker-thread inspection, the selected node's maps and numbers, the depth profile;
and the Summary panel's training-memory verdict."""

from __future__ import annotations

import time

import pytest

from graph.templates import make

WAIT_MS = 120_000


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _panel(w):
    w.bottom_tabs.setCurrentWidget(w.inspect_tab)
    panel = w.inspect_tab.panel()
    panel.samples.setValue(4)
    return panel


def _inspect(qtbot, panel):
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS):
        t0 = time.perf_counter()
        panel.start()
        assert time.perf_counter() - t0 < 1.0  # the UI thread only starts the worker
        assert not panel.progress.isHidden() and not panel.go.isEnabled()
    assert panel.progress.isHidden() and panel.go.isEnabled()


def _select(w, block, name):
    g = w.document.project.graph_of(block)
    node = next(n for n in g.nodes.values() if n.name == name)
    w.document.set_selection(block, [node.id])
    return node


def test_inspect_resnet20_top_level_block_inside_a_stage_and_shortcut(make_window, qtbot, tmp_path):
    w = make_window(make("resnet20", None, "3,16,16", None))
    panel = _panel(w)
    _inspect(qtbot, panel)
    assert panel.error == "" and panel.result is not None
    assert "initialisation, seed 0" in panel.status.text()
    assert len(panel._profile_rows) > 50

    _select(w, None, "conv1")
    assert "conv1" in panel.node_title.text() and "16x16x16" in panel.node_title.text()
    assert panel.grid.maps.shape == (16, 16, 16) and len(panel.grid.images()) == 16
    assert "dead units" in panel.stats.text() and "gradient norm" in panel.stats.text()
    assert not panel.channel.isEnabled()  # 16 channels: all shown

    # a node inside the BasicBlock definition, as the instance layer2.0 (in the stage layer2) sees it
    w.document.set_shown_instance("BasicBlock", "layer2_0")
    _select(w, "BasicBlock", "conv1")
    assert panel.current is not None, (panel.node_title.text(), w.document.instances("BasicBlock")[:3])
    assert panel.current.name == "layer2.0.conv1" and panel.current.shape == (32, 8, 8)
    assert panel.channel.isEnabled() and panel.channel.maximum() == 16
    panel.channel.setValue(10)
    assert panel.grid.first == 10 and "channels 10–25 of 32" in panel.channel_label.text()
    add = _select(w, "BasicBlock", "add")
    assert panel.current.name == "layer2.0.add" and add.type == "Add"
    assert "inputs (mean L2 norm per sample)" in panel.stats.text() and "shortcut" in panel.stats.text()
    # the block instance itself, and its zero-pad shortcut edge
    g = w.document.project.graph_of("BasicBlock")
    shortcut = next(e for e in g.edges.values() if e.kind == "shortcut")
    w.document.set_selection("BasicBlock", [], [shortcut.id])
    assert panel.current.name == "layer2.0.downsample" and panel.current.type == "Shortcut:zero_pad"
    w.document.set_shown_instance("BasicBlock", "layer1_1")
    w.document.set_selection("BasicBlock", [], [shortcut.id])
    assert panel.current is None and "identity shortcut" in panel.node_title.text()

    _select(w, None, "output")
    assert panel.current is None and "has no output of its own" in panel.node_title.text()

    png, csv_path = tmp_path / "profile.png", tmp_path / "profile.csv"
    panel.export_picture(str(png))
    panel.export_csv_file(str(csv_path))
    assert png.read_bytes()[:4] == b"\x89PNG" and csv_path.read_text().startswith("network,index,name")
    _select(w, None, "relu")
    panel.grab().save(str(tmp_path / "inspect_panel.png"))
    assert (tmp_path / "inspect_panel.png").stat().st_size > 10_000


def test_an_edit_marks_the_result_stale(make_window, qtbot):
    from graph import edits as E

    w = make_window(make("plain20", None, "3,8,8", None))
    panel = _panel(w)
    _inspect(qtbot, panel)
    fc = next(n for n in w.document.project.graph.nodes.values() if n.name == "fc")
    w.document.push(E.SetParam(None, fc.id, "bias", False))
    qtbot.waitUntil(lambda: panel.stale, timeout=5000)
    assert panel.stale and "press Inspect" in panel.status.text()


def test_an_imported_model_in_the_panel(make_window, qtbot):
    from torch import nn

    from codegen.fx_import import import_module

    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    w = make_window(import_module(net, (3, 8, 8)).project)
    panel = _panel(w)
    _inspect(qtbot, panel)
    assert panel.result is not None and not panel.result.unobserved
    conv = next(n for n in w.document.project.graph.nodes.values() if n.type == "Conv2d")
    w.document.set_selection(None, [conv.id])
    assert panel.current is not None and panel.current.shape == (4, 8, 8)


def test_a_run_of_another_project_and_a_bad_image_are_refused_in_one_line(make_window, qtbot, tmp_path):
    from codegen.build import build_module
    from training import runs

    other = make("resnet20", None, "3,8,8", None)
    run = runs.create_run(tmp_path / "run", other.to_dict(), {"dataset": "synthetic"}, "", {})
    runs.save_checkpoint(run, "last", build_module(other).state_dict(), {"epoch": 1})
    w = make_window(make("plain20", None, "3,8,8", None))
    panel = _panel(w)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS):
        panel.set_weights("run", str(run))
    assert "trained another network (ResNet-20), not this project (Plain-20)" in panel.error
    assert panel.error in panel.status.text() and "\n" not in panel.error

    img = tmp_path / "wide.ppm"
    img.write_bytes(b"P6\n12 8\n255\n" + bytes(12 * 8 * 3))
    panel.set_images([str(img)])
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS):
        panel.set_weights("init")
    assert "wide.ppm is 12x8 pixels but the project's input is 8x8" in panel.error


def test_cancel(make_window, qtbot):
    w = make_window(make("resnet20", None, "3,8,8", None))
    panel = _panel(w)
    with qtbot.waitSignal(panel.finished, timeout=WAIT_MS):
        panel.start()
        panel.cancel()
    # the flag is checked at every hook: the forward pass stops at the first node it reaches
    assert panel.result is None and panel.status.text() == "Cancelled." and panel.go.isEnabled()


def test_summary_panel_training_memory_verdict(make_window, qtbot):
    w = make_window(make("resnet56"))
    s = w.summary_panel
    w.bottom_tabs.setCurrentWidget(s)
    s.precision.setCurrentText("fp32")
    s.device.setCurrentIndex(s.device.findText("H200 (139 GiB)"))
    s.batch.setValue(128)
    assert "fits: 0.52 of 139.0 GiB" in s.totals.text()
    s.device.setCurrentIndex(s.device.findText("T4 (14 GiB)"))
    s.batch.setValue(8192)
    text = s.totals.text()
    assert "does not fit" in text and "try batch 2048" in text
    assert "kept for backward" in s.totals.toolTip()
