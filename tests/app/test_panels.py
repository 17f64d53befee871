"""The side and bottom panels against a real Document, offscreen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from app.document import Document
from app.panels.code_panel import CodePanel
from app.panels.inspector import InspectorPanel
from app.panels.palette import MIME_TYPE, PalettePanel
from app.panels.problems import ProblemsPanel
from app.panels.summary_panel import SummaryPanel
from graph.templates import make
from tests.app.conftest import mismatch_project, small_project


def _node(doc, name, block=None):
    return doc.project.graph_of(block).node_by_name(name)


def test_palette_lists_every_type_and_search_filters(qtbot):
    doc = Document(make("resnet20"))
    pal = PalettePanel(doc)
    qtbot.addWidget(pal)
    from graph import registry

    assert set(pal.visible_types()) >= {t.name for t in registry.all_types()}
    assert "block:BasicBlock" in pal.visible_types()
    top = pal.tree.topLevelItem(0)  # the project's blocks are in sight, not below the fold
    assert top.text(0) == "Block library" and top.isExpanded() and top.child(0).text(0) == "BasicBlock"
    from app.panels.palette import natural_key

    assert sorted(["DenseBlock24", "DenseBlock6", "DenseBlock12"], key=natural_key) == [
        "DenseBlock6",
        "DenseBlock12",
        "DenseBlock24",
    ]
    pal.search.setText("batchnorm")
    assert pal.visible_types() == ["BatchNorm2d"]
    pal.search.setText("eca-net")
    assert pal.visible_types() == ["ChannelConv1d"]  # found by its paper's name
    pal.search.setText("resnest")
    assert set(pal.visible_types()) == {"GroupSum", "RadixSoftmax"}
    pal.search.setText("pool")
    assert set(pal.visible_types()) == {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"}
    pal.search.setText("basic")
    assert pal.visible_types() == ["block:BasicBlock"]
    pal.search.setText("")
    assert "Conv2d" in pal.visible_types()


def test_palette_drag_carries_the_type_name(qtbot):
    doc = Document(make("resnet20"))
    pal = PalettePanel(doc)
    qtbot.addWidget(pal)
    for type_name in ("Conv2d", "block:BasicBlock"):
        item = pal.item_for(type_name)
        mime = pal.tree.mimeData([item])
        assert mime.hasFormat(MIME_TYPE)
        assert bytes(mime.data(MIME_TYPE)).decode("utf-8") == type_name
    seen = []
    pal.add_requested.connect(seen.append)
    pal.tree.itemActivated.emit(pal.item_for("ReLU"), 0)
    assert seen == ["ReLU"]


def test_inspector_edit_is_one_named_undo_step(qtbot):
    doc = Document(small_project())
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    conv = _node(doc, "conv1")
    doc.set_selection(None, [conv.id], [])
    assert set(insp.fields) >= {"out_channels", "kernel_size", "stride", "padding", "bias", "init"}
    insp.fields["stride"].enter_text("1")
    assert doc.project.graph.nodes[conv.id].params["stride"] == 1
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Set stride of conv1"
    doc.undo_stack.undo()
    assert doc.project.graph.nodes[conv.id].params["stride"] == 2
    assert insp.fields["stride"].editor.text() == "2"  # the form follows the model
    doc.undo_stack.redo()
    assert insp.fields["stride"].editor.text() == "1"


@pytest.mark.parametrize("text", ["1x7", "1 x 7", "(1, 7)", "[1,7]", "1, 7", "1×7"])
def test_inspector_takes_a_height_by_width_kernel(qtbot, text):
    doc = Document(small_project())
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    conv = _node(doc, "conv1")
    doc.set_selection(None, [conv.id], [])
    insp.fields["kernel_size"].enter_text(text)
    assert insp.fields["kernel_size"].error is None
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == [1, 7]
    assert doc.undo_stack.undoText() == "Set kernel_size of conv1"
    insp.fields["padding"].enter_text("0x3")
    assert doc.project.graph.nodes[conv.id].params["padding"] == [0, 3]
    assert insp.fields["kernel_size"].editor.text() == "1x7"
    insp.fields["kernel_size"].enter_text("3x3")  # an equal pair is the number
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == 3
    insp.fields["kernel_size"].enter_text("1x40")
    assert "at most 31" in insp.fields["kernel_size"].error
    insp.fields["kernel_size"].enter_text("1x7x3")
    assert "height x width" in insp.fields["kernel_size"].error
    doc.undo_stack.undo()
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == [1, 7]
    assert insp.fields["kernel_size"].editor.text() == "1x7"


def test_inspector_rejects_invalid_values_with_a_reason(qtbot):
    doc = Document(small_project())
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    conv = _node(doc, "conv1")
    doc.set_selection(None, [conv.id], [])
    insp.fields["out_channels"].enter_text("0")
    assert "at least 1" in insp.fields["out_channels"].error
    insp.fields["padding"].enter_text("lots")
    assert "whole number" in insp.fields["padding"].error
    assert insp.fields["padding"].editor.property("invalid") == "true"
    assert doc.undo_stack.count() == 0
    insp.fields["padding"].enter_text("same")
    assert insp.fields["padding"].error is None
    assert doc.project.graph.nodes[conv.id].params["padding"] == "same"
    # rename: invalid, duplicate, then fine
    insp.name_edit.setText("add")
    insp.name_edit.textEdited.emit("add")
    assert not insp._name_error.isHidden()
    insp.name_edit.setText("stem_conv")
    insp.name_edit.editingFinished.emit()
    assert doc.project.graph.nodes[conv.id].name == "stem_conv"
    assert doc.undo_stack.undoText() == "Rename conv1 to stem_conv"
    assert insp._title.text() == "stem_conv"
    doc.undo_stack.undo()
    assert insp._title.text() == "conv1" and insp.name_edit.text() == "conv1"


def test_inspector_bool_choice_frozen_and_shortcut(qtbot):
    doc = Document(small_project())
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    conv = _node(doc, "conv1")
    doc.set_selection(None, [conv.id], [])
    insp.fields["bias"].editor.setChecked(True)
    assert doc.project.graph.nodes[conv.id].params["bias"] is True
    insp.frozen_box.setChecked(True)
    assert doc.project.graph.nodes[conv.id].frozen is True
    assert doc.undo_stack.undoText() == "Freeze conv1"
    doc.set_selection(None, [], ["e3"])
    assert insp.projection_combo is not None
    combo = insp.projection_combo
    combo.setCurrentIndex(combo.findData("zero_pad"))
    combo.activated.emit(combo.currentIndex())
    assert doc.project.graph.edges["e3"].projection == "zero_pad"
    assert doc.undo_stack.undoText().startswith("Set projection of shortcut")


def test_inspector_block_instance_and_definition(qtbot):
    doc = Document(make("resnet20"))
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    inst = _node(doc, "layer2_0")
    doc.set_selection(None, [inst.id], [])
    assert set(insp.fields) == set(doc.project.blocks["BasicBlock"].params)
    insp.fields["out_channels"].enter_text("48")
    assert doc.project.graph.nodes[inst.id].params["out_channels"] == 48
    # the block definition's tab: typed parameters, expressions allowed inside
    doc.set_selection("BasicBlock", [], [])
    assert set(insp.fields) == set(doc.project.blocks["BasicBlock"].params)
    conv = _node(doc, "conv1", "BasicBlock")
    doc.set_selection("BasicBlock", [conv.id], [])
    fld = insp.fields["out_channels"]
    fld.enter_text("out_channels * 2")
    assert doc.project.blocks["BasicBlock"].graph.nodes[conv.id].params["out_channels"] == "out_channels * 2"
    fld.enter_text("widht * 2")
    assert "unknown name 'widht'" in fld.error


def test_problems_lists_mismatch_and_fix_repairs_it(qtbot):
    doc = Document(mismatch_project())
    panel = ProblemsPanel(doc)
    qtbot.addWidget(panel)
    diags = panel.diagnostics()
    assert any(d.is_error for d in diags)
    assert panel.fix_buttons, "a mismatch offers fixes"
    focused = []
    doc.focus_requested.connect(lambda b, n: focused.append((b, n)))
    item = panel.tree.topLevelItem(0)
    panel.tree.itemDoubleClicked.emit(item, 0)
    assert focused and focused[0][1] in doc.project.graph.nodes
    label = panel.fix_buttons[0].text()
    qtbot.mouseClick(panel.fix_buttons[0], Qt.MouseButton.LeftButton)
    assert doc.analysis.valid, doc.analysis.diagnostics
    assert not any(d.is_error for d in panel.diagnostics())
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText() == label
    doc.undo_stack.undo()
    assert not doc.analysis.valid
    assert panel.fix_buttons and panel.fix_buttons[0].text() == label


def test_summary_totals_match_analysis(qtbot):
    doc = Document(make("resnet20"))
    panel = SummaryPanel(doc)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.total_params == doc.analysis.total_params == 269_722
    assert panel.table.rowCount() == len(doc.analysis.layers())
    assert "269,722" in panel.totals.text()
    first = panel.table.item(0, 0).text().strip()
    assert first == doc.analysis.layers()[0].path
    panel.batch.setValue(256)
    assert "at batch 256" in panel.totals.text()
    types = {panel.table.item(r, 1).text() for r in range(panel.table.rowCount())}
    assert "BasicBlock" in types and not any(t.startswith("block:") for t in types)


def test_code_panel_shows_message_while_invalid(qtbot):
    doc = Document(mismatch_project())
    panel = CodePanel(doc)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.source is None
    assert "error" in panel.message.text()
    assert not panel.copy_button.isEnabled()


def test_code_panel_shows_code_when_valid(qtbot):
    pytest.importorskip("codegen.emitter")
    doc = Document(make("resnet20"))
    panel = CodePanel(doc)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.source is not None, timeout=5000)
    assert "class BasicBlock" in panel.editor.toPlainText()
    panel.copy()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == panel.source


def test_inspector_block_definition_parameters(qtbot):
    doc = Document(make("resnet20"))
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    doc.set_selection("BasicBlock", [], [])
    insp.new_param_name.setText("out_channels")
    insp.new_param_name.returnPressed.emit()
    assert "already a parameter" in insp.new_param_error.text()
    insp.new_param_name.setText("groups")
    insp.new_param_name.returnPressed.emit()
    assert "groups" in doc.project.blocks["BasicBlock"].params
    assert doc.undo_stack.undoText() == "Add parameter groups to BasicBlock"
    insp.fields["groups"].enter_text("4")
    assert doc.project.blocks["BasicBlock"].params["groups"].default == 4
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert "groups" not in doc.project.blocks["BasicBlock"].params
    assert "groups" not in insp.fields  # the form follows the undo


def test_inspector_fits_a_narrow_dock(qtbot):
    """Every form, the shortcut's included (long projection labels), fits a 300-pixel dock:
    nothing is cut off on the right (the inspector never scrolls sideways)."""
    doc = Document(make("resnet20"))
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    insp.resize(300, 800)
    insp.show()
    body = doc.project.blocks["BasicBlock"].graph
    shortcut = next(e for e in body.edges.values() if e.is_shortcut)
    targets = [
        ("BasicBlock", [], [shortcut.id]),
        ("BasicBlock", [body.node_by_name("conv1").id], []),
        (None, [_node(doc, "layer2_0").id], []),
        ("BasicBlock", [], []),
        (None, [], []),
    ]
    for block, nodes, edges in targets:
        doc.set_selection(block, nodes, edges)
        qtbot.wait(1)
        content = insp.scroll.widget()
        need = max(content.width(), content.minimumSizeHint().width())
        assert need <= insp.scroll.viewport().width(), (block, nodes, edges, need)
        combos = [c for c in content.findChildren(QComboBox) if c.isVisible()]
        assert all(c.sizeHint().width() <= 200 for c in combos), [c.sizeHint().width() for c in combos]


def test_up_and_down_step_a_size_field_as_a_spin_box_did(qtbot):
    from PySide6.QtCore import Qt

    doc = Document(small_project())
    insp = InspectorPanel(doc)
    qtbot.addWidget(insp)
    conv = _node(doc, "conv1")
    doc.set_selection(None, [conv.id], [])
    field = insp.fields["kernel_size"]
    start = doc.project.graph.nodes[conv.id].params["kernel_size"]
    qtbot.keyClick(field.editor, Qt.Key.Key_Up)
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == start + 1
    assert doc.undo_stack.undoText() == "Set kernel_size of conv1"
    field.enter_text("1x7")
    qtbot.keyClick(insp.fields["kernel_size"].editor, Qt.Key.Key_Down)  # each side, within 1..31
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == [1, 6]
    insp.fields["kernel_size"].editor.setText("width")  # not a number: the key is the line edit's
    qtbot.keyClick(insp.fields["kernel_size"].editor, Qt.Key.Key_Up)
    assert doc.project.graph.nodes[conv.id].params["kernel_size"] == [1, 6]
