"""Document (model events -> Qt signals, undo stack, re-analysis) and the composite edits."""

from __future__ import annotations

import pytest

from app import commands as C
from app.document import Document
from graph.templates import make


@pytest.fixture
def doc(qtbot):
    d = Document(make("resnet20"))
    yield d


def _block_ends(doc, block="BasicBlock"):
    g = doc.project.blocks[block].graph
    return g, g.nodes_of_type("BlockInput")[0], g.nodes_of_type("Add")[0]


def test_push_undo_redo_reanalyses_once_per_edit(doc):
    changed = []
    doc.changed.connect(lambda: changed.append(1))
    events = []
    doc.model_event.connect(lambda block, name, args: events.append((block, name)))
    n = len(doc.project.graph.nodes)
    doc.push(C.new_node_edit(doc.project, None, "Conv2d", (400, 0)))
    assert len(doc.project.graph.nodes) == n + 1
    assert events == [(None, "node_added")]
    assert len(changed) == 1
    assert doc.undo_stack.undoText().startswith("Add Conv2d")
    assert doc.is_modified()
    doc.undo_stack.undo()
    assert len(doc.project.graph.nodes) == n
    assert not doc.is_modified()
    assert len(changed) == 2
    doc.undo_stack.redo()
    assert len(doc.project.graph.nodes) == n + 1


def test_failing_edit_never_reaches_the_stack(doc):
    with pytest.raises(C.EditRefused):
        C.new_node_edit(doc.project, None, "NoSuchLayer")
    assert doc.undo_stack.count() == 0


def test_shortcut_mismatch_fix_undo_redo(doc):
    g, bin_, add = _block_ends(doc)
    sc = next(e for e in g.edges.values() if e.is_shortcut)
    doc.push(C.delete_edit(doc.project, "BasicBlock", [], [sc.id]))
    edit, eid = C.connect_edit(doc.project, "BasicBlock", bin_.id, 0, add.id, 1)
    doc.push(edit)
    assert g.edges[eid].kind == "shortcut"  # skips over the convs into a merge
    assert g.edges[eid].projection == "identity"
    diag = next(d for d in doc.analysis.diagnostics if d.edge == eid or d.node == add.id)
    assert "16x32x32" in diag.message and diag.fixes
    fix = diag.fixes[0]
    doc.apply_fix(fix.action)
    assert doc.undo_stack.undoText() == fix.label
    assert doc.analysis.valid
    doc.undo_stack.undo()
    assert not doc.analysis.valid
    doc.undo_stack.redo()
    assert doc.analysis.valid


def test_connect_refusals(doc):
    g, _, add = _block_ends(doc)
    out = g.nodes_of_type("BlockOutput")[0]
    with pytest.raises(C.EditRefused, match="cycle"):
        C.connect_edit(doc.project, "BasicBlock", add.id, 0, g.nodes_of_type("Conv2d")[0].id, 0)
    with pytest.raises(C.EditRefused, match="no output"):
        C.connect_edit(doc.project, "BasicBlock", out.id, 0, add.id, 0)
    with pytest.raises(C.EditRefused, match="itself"):
        C.connect_edit(doc.project, "BasicBlock", add.id, 0, add.id, 0)


def test_group_into_block_and_refusal(doc):
    p = doc.project
    g = p.graph
    ids = [g.node_by_name(n).id for n in ("layer1_0", "layer1_1")]
    before = doc.analysis.total_params
    edit, name, inst = C.group_edit(p, None, ids)
    doc.push(edit)
    assert name in p.blocks and inst in g.nodes and not (set(ids) & set(g.nodes))
    assert doc.analysis.valid and doc.analysis.total_params == before
    doc.undo_stack.undo()
    assert name not in p.blocks and set(ids) <= set(g.nodes)
    with pytest.raises(C.EditRefused, match="2 inputs"):
        C.group_edit(p, None, [g.node_by_name("conv1").id, g.node_by_name("layer3_0").id])


def test_copy_paste_keeps_internal_edges(doc):
    p = doc.project
    g = p.graph
    ids = [g.node_by_name(n).id for n in ("bn1", "relu")]
    data = C.clipboard_data(p, None, ids)
    assert len(data["edges"]) == 1
    edit, new = C.paste_edit(p, None, data)
    doc.push(edit)
    assert len(new) == 2
    assert any(e.src == new[0] and e.dst == new[1] for e in g.edges.values())
    assert {g.nodes[n].name for n in new}.isdisjoint({"bn1", "relu"})


def test_moves_merge_and_undo(doc):
    nid = doc.project.graph.node_by_name("conv1").id
    seen = []
    doc.positions_changed.connect(lambda b, ids: seen.append(ids))
    doc.set_positions(None, {nid: (0, 0)})
    doc.move_nodes(None, {nid: (5, 5)})
    doc.move_nodes(None, {nid: (9, 9)})
    assert doc.undo_stack.count() == 1 and doc.undo_stack.undoText() == "Move node"
    assert doc.project.ui["positions"][nid] == [9.0, 9.0]
    doc.undo_stack.undo()
    assert doc.project.ui["positions"][nid] == [0.0, 0.0]
    assert seen and seen[-1] == [nid]


def test_replace_project_clears_history(doc):
    doc.push(C.new_node_edit(doc.project, None, "ReLU"))
    replaced = []
    doc.project_replaced.connect(lambda: replaced.append(1))
    doc.replace_project(make("resnet20"), "/tmp/x.json")
    assert replaced and doc.undo_stack.count() == 0 and not doc.is_modified()
    assert doc.path == "/tmp/x.json"


def test_selection_and_focus_signals(doc, qtbot):
    with qtbot.waitSignal(doc.selection_changed):
        doc.set_selection(None, ["n1"], [])
    assert doc.selection == (None, ["n1"], [])
    with qtbot.waitSignal(doc.focus_requested) as blocker:
        doc.request_focus("BasicBlock", "n3")
    assert blocker.args == ["BasicBlock", "n3"]
