"""A block instance's inspector shows the instance's values and says which are the definition's."""

from __future__ import annotations

from app.document import Document
from app.panels.inspector import InspectorPanel
from graph.templates import make


def inspector_for(qtbot, template):
    doc = Document(make(template))
    panel = InspectorPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(340, 900)
    panel.show()
    return doc, panel


def _texts(panel):
    from PySide6.QtWidgets import QLabel

    return [lab.text() for lab in panel.scroll.widget().findChildren(QLabel)]


def test_an_instance_on_the_network_shows_its_own_values_and_the_defaults_apart(qtbot):
    doc, panel = inspector_for(qtbot, "resnet20")
    node = doc.project.graph.node_by_name("layer2_0")
    doc.set_selection(None, [node.id], [])
    assert panel.fields["out_channels"].value == 32 and panel.fields["stride"].value == 2
    assert panel.fields["out_channels"].editor.value() == 32
    texts = _texts(panel)
    assert any("The definition's defaults: out_channels 64, stride 1" in t for t in texts)
    assert any(t == "BASICBLOCK PARAMETERS" for t in texts)


def test_the_block_tab_of_an_instance_shows_its_values_beside_the_defaults(qtbot):
    doc, panel = inspector_for(qtbot, "densenet_bc100_k12")
    node = doc.project.graph.node_by_name("denseblock2")
    doc.open_instance(None, node.id)  # double-click: the block's tab, as denseblock2 sees it
    doc.set_selection("DenseBlock16", [], [])
    assert panel.target == ("block", "DenseBlock16", None)
    assert panel._info_labels["value:growth_rate"].text() == "12"  # what the card says
    assert panel.fields["growth_rate"].value == 32  # the definition's default, labelled so
    texts = _texts(panel)
    assert any("VALUES" in t and "denseblock2" in t for t in texts)
    assert any(t == "DEFAULTS" for t in texts)


def test_inner_expressions_evaluate_with_the_shown_instance(qtbot):
    doc, panel = inspector_for(qtbot, "resnet20")
    layer2_0 = doc.project.graph.node_by_name("layer2_0")
    doc.open_instance(None, layer2_0.id)
    body = doc.project.blocks["BasicBlock"].graph
    conv1 = body.node_by_name("conv1")
    doc.set_selection("BasicBlock", [conv1.id], [])
    assert panel._env("BasicBlock")["out_channels"] == 32 and panel._env("BasicBlock")["stride"] == 2
    assert panel._env("BasicBlock")["in_channels"] == 16
    layer1_0 = doc.project.graph.node_by_name("layer1_0")
    doc.open_instance(None, layer1_0.id)
    assert panel._env("BasicBlock")["out_channels"] == 16 and panel._env("BasicBlock")["stride"] == 1
