"""Odd graphs a user produces in the editor get a diagnostic naming the nodes and numbers, never an
exception."""

from __future__ import annotations

import pytest

from graph.fixes import apply_fix
from graph.model import BlockDef, BlockParam, Edge, Graph, Project
from graph.shapes import analyze
from tests.graph.builders import net


def two_branch(merge: str, a: tuple[int, int], b: tuple[int, int], vector_first: bool = False) -> Project:
    """input -> conv a (out, stride) and conv b (out, stride) -> merge -> output."""
    g = Graph()
    i = g.add("Input", "input", shape=[3, 8, 8])
    c1 = g.add("Conv2d", "c1", out_channels=a[0], stride=a[1])
    c2 = g.add("Conv2d", "c2", out_channels=b[0], stride=b[1])
    m = g.add(merge, "m")
    g.connect(i, c1)
    g.connect(i, c2)
    if vector_first:
        f = g.add("Flatten", "flat")
        g.chain(c1, f)
        c1 = f
    g.connect(c1, m, 0)
    g.connect(c2, m, 1)
    g.chain(m, g.add("Output", "output"))
    return Project("t", g)


def only_error(project: Project):
    errors = analyze(project).errors
    assert len(errors) == 1, [d.message for d in errors]
    return errors[0]


def test_concat_mismatch_names_both_sources():
    d = only_error(two_branch("Concat", (8, 1), (4, 2)))
    assert d.code == "concat_mismatch" and d.edge is not None
    assert 'input 2 (edge from "c2") is 4x4x4 but input 1 (edge from "c1") is 8x8x8' in d.message


def test_concat_of_vector_and_image():
    d = only_error(two_branch("Concat", (8, 1), (4, 1), vector_first=True))
    assert d.code == "concat_mismatch"
    assert '"flat") is 512' in d.message and "flat vector and the other an image" in d.message


def test_multiply_mismatch_names_the_edge_and_offers_a_projection():
    p = two_branch("Multiply", (8, 1), (4, 1))
    d = only_error(p)
    assert d.code == "shape_mismatch" and d.edge is not None
    assert '(edge from "c2") is 4x8x8' in d.message and "cannot broadcast" in d.message
    fix = next(f for f in d.fixes if f.action.op == "insert_projection")
    apply_fix(p, fix.action)
    assert analyze(p).valid


def test_multiply_broadcasting_gate_is_valid():
    g = Graph()
    i = g.add("Input", "input", shape=[8, 4, 4])
    pool = g.add("AdaptiveAvgPool2d", "pool")
    sig = g.add("Sigmoid", "sig")
    m = g.add("Multiply", "m")
    g.chain(i, pool, sig)
    g.connect(i, m, 0)
    g.connect(sig, m, 1)
    g.chain(m, g.add("Output", "output"))
    a = analyze(Project("t", g))
    assert a.valid and a.output_shape == (8, 4, 4)


def test_extra_edge_names_its_source_and_offers_more_inputs():
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    add = g.add("Add", "add")
    for k in range(3):
        r = g.add("ReLU", f"r{k}")
        g.connect(i, r)
        g.connect(r, add, k)
    g.chain(add, g.add("Output", "output"))
    p = Project("t", g)
    d = only_error(p)
    assert d.message == 'Add "add" has 2 input(s) but the edge from "r2" arrives at input 3.'
    assert d.fixes[0].label == "Set num_inputs to 3"
    apply_fix(p, d.fixes[0].action)
    assert analyze(p).valid


def test_dangling_edge_in_memory_is_reported_not_raised():
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    r = g.add("ReLU", "r")
    g.chain(i, r, g.add("Output", "output"))
    g.edges["ex"] = Edge("ex", "ghost", r.id, 0, 0)  # not possible through the API; a corrupted model
    p = Project("t", g)
    d = only_error(p)
    assert d.code == "dangling_edge" and "'ghost'" in d.message
    apply_fix(p, d.fixes[0].action)
    assert analyze(p).valid


def test_negative_port_is_described():
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    r = g.add("ReLU", "r")
    g.chain(i, r, g.add("Output", "output"))
    g.edges["ex"] = Edge("ex", i.id, r.id, 0, -1)
    d = only_error(Project("t", g))
    assert "an invalid port -1" in d.message


def test_shortcut_with_identity_into_a_non_merge_is_a_warning():
    g = Graph()
    i = g.add("Input", "input", shape=[4, 8, 8])
    r = g.add("ReLU", "r")
    g.connect(i, r, kind="shortcut", projection="identity", name="sc")
    g.chain(r, g.add("Output", "output"))
    a = analyze(Project("t", g))
    assert a.valid
    (d,) = a.diagnostics
    assert d.code == "shortcut_target" and d.severity == "warning" and "acts as a plain edge" in d.message


def test_block_that_contains_itself():
    body = Graph()
    body.chain(
        body.add("BlockInput", "input"), body.add("block:B", "inner"), body.add("BlockOutput", "output")
    )
    g = Graph()
    g.chain(g.add("Input", "input", shape=[4, 8, 8]), g.add("block:B", "b"), g.add("Output", "output"))
    a = analyze(Project("t", g, {"B": BlockDef("B", {}, body)}))
    d = next(d for d in a.errors if d.code == "recursive_block")
    assert "block 'B' contains itself (B -> B)" in d.message


def test_unknown_expression_name_lists_the_known_names():
    body = Graph()
    c = body.add("Conv2d", "conv", out_channels="planes * 4")
    body.chain(body.add("BlockInput", "input"), c, body.add("BlockOutput", "output"))
    g = Graph()
    g.chain(g.add("Input", "input", shape=[4, 8, 8]), g.add("block:B", "b"), g.add("Output", "output"))
    p = Project(
        "t", g, {"B": BlockDef("B", {"width": BlockParam("int", 4), "stride": BlockParam("int", 1)}, body)}
    )
    d = only_error(p)
    assert d.block == "B" and d.node == c.id
    assert (
        "unknown name 'planes' in expression 'planes * 4'; "
        "the names it can use are in_channels, stride, width" in d.message
    )


def test_bad_value_from_one_instance_names_it_and_fixes_the_instance():
    """A block body's expression is fine; one instance's value makes it bad: the message names the instance
    and its value, and the fix changes that instance, not the body every instance shares."""
    from graph.templates import make

    p = make("resnet20")
    inst = p.graph.node_by_name("layer2_1")
    p.graph.set_param(inst.id, "out_channels", 0)
    errors = [d for d in analyze(p).errors if d.code == "bad_param"]
    assert errors and all(d.block == "BasicBlock" for d in errors)
    assert 'in instance "layer2_1" with out_channels=0' in errors[0].message
    (fix,) = errors[0].fixes
    assert fix.action.to_dict() == {
        "op": "set_param",
        "block": None,
        "node": inst.id,
        "param": "out_channels",
        "value": 64,
    }
    apply_fix(p, fix.action)
    assert not [d for d in analyze(p).errors if d.code == "bad_param"]
    assert p.blocks["BasicBlock"].graph.node_by_name("conv1").params["out_channels"] == "out_channels"


def test_set_param_node_field_and_edge_field_are_one_edit():
    """SetParam, SetNodeField and SetEdgeField build the one SetField edit; labels and undo as before."""
    from graph import edits as E

    p, nodes = net("Conv2d", "ReLU")
    conv, edge = nodes[1].id, next(iter(p.graph.edges.values()))
    cases = [
        (E.SetParam(None, conv, "stride", 2), "Set stride", lambda: p.graph.nodes[conv].params.get("stride")),
        (E.SetNodeField(None, conv, "name", "c1"), "Rename node", lambda: p.graph.nodes[conv].name),
        (E.SetNodeField(None, conv, "frozen", True), "Set frozen", lambda: p.graph.nodes[conv].frozen),
        (E.SetEdgeField(None, edge.id, "kind", "shortcut"), "Set edge kind", lambda: edge.kind),
        (E.SetEdgeField(None, edge.id, "name", "sc"), "Set shortcut name", lambda: edge.name),
    ]
    for edit, label, read in cases:
        assert isinstance(edit, E.SetField) and edit.label == label
        before = read()
        edit.apply(p)
        assert read() == edit.value
        edit.revert(p)
        assert read() == before
    with pytest.raises(ValueError, match="cannot set a field of 'stage'"):
        E.SetField(None, "stage", conv, "name", "x").apply(p)
