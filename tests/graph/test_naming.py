"""graph/naming.py, the one namer: the ids and names that edits and fixes create stay as they were
(node names are state_dict keys). The expected values were taken from the code before issue 23
merged the four namers into one."""

from __future__ import annotations

from graph.fixes import InsertBeforeFix, InsertProjectionFix, MakeShortcutFix, apply_fix
from graph.model import Edge, Graph, Node
from graph.naming import Fresh, next_name, numbered_name, suffixed_name, unique_edge_name
from graph.stage_edits import set_stage_depth
from graph.templates import make


def _added(before: dict, after: dict, what: str) -> list[tuple]:
    old = {x["id"] for x in before[what]}
    if what == "nodes":
        return [(x["id"], x["name"]) for x in after[what] if x["id"] not in old]
    return [(x["id"], x["src"], x["dst"], x.get("name")) for x in after[what] if x["id"] not in old]


def test_name_rules():
    assert numbered_name("relu", {"relu"}) == "relu1"
    assert numbered_name("conv2", {"conv2", "conv1"}) == "conv3"
    assert numbered_name("bn", set()) == "bn"
    assert suffixed_name("conv2", {"conv2"}) == "conv21"
    assert suffixed_name("shortcut", {"shortcut", "shortcut1"}) == "shortcut2"
    assert next_name("layer1_2", {"layer1_3"}) == "layer1_4"
    assert next_name("block", set()) == "block_1"


def test_graph_ids_and_names():
    g = Graph()
    a = g.add_node(Node(g.new_id("n"), "ReLU", "relu", {}))
    b = g.add_node(Node(g.new_id("n"), "ReLU", g.unique_name("relu"), {}))
    assert (a.id, b.id, b.name) == ("n1", "n2", "relu1")
    assert g.unique_name("relu", exclude=a.id) == "relu"
    e = g.add_edge(Edge(g.new_id("e"), a.id, b.id, 0, 0, "shortcut", "shortcut"))
    assert e.id == "e3"
    assert unique_edge_name(g) == "shortcut1"
    g.add_node(Node(g.new_id("n"), "ReLU", "shortcut1", {}))
    assert unique_edge_name(g) == "shortcut2"


def test_fresh_counts_ids_from_what_it_knows_or_from_the_graph():
    g = Graph()
    g.add_node(Node("n7", "ReLU", "a", {}))
    g.add_node(Node("n2", "ReLU", "b2", {}))
    grow = Fresh(g)
    assert [grow.id("n"), grow.id("e"), grow.id("n")] == ["n3", "e4", "n5"]
    fixed = Fresh(g, from_graph_size=True)
    assert [fixed.id("n"), fixed.id("e"), fixed.id("n")] == ["n3", "e3", "n4"]
    names = [grow.name("a"), grow.name("a"), grow.suffixed("b2"), grow.next_name("b2")]
    assert names == ["a1", "a2", "b21", "b3"]


def test_fixes_name_inserted_nodes_and_shortcuts_as_before():
    p = make("resnet20")
    g = p.graph
    conv = g.node_by_name("conv1")
    (edge,) = g.in_edges(conv.id)
    before = p.to_dict()["graph"]
    apply_fix(p, InsertProjectionFix(edge=edge.id, out_channels=16, stride=1))
    after = p.to_dict()["graph"]
    assert _added(before, after, "nodes") == [("n34", "proj_conv"), ("n35", "proj_bn")]
    assert [x[0] for x in _added(before, after, "edges")] == ["e34", "e35", "e36"]
    before = after
    apply_fix(p, InsertBeforeFix(node=conv.id, type="ReLU"))
    after = p.to_dict()["graph"]
    assert _added(before, after, "nodes") == [("n38", "relu1")]
    assert [x[0] for x in _added(before, after, "edges")] == ["e38", "e39"]
    first = g.in_edges(conv.id)[0]
    apply_fix(p, MakeShortcutFix(edge=first.id))
    second = g.in_edges(g.node_by_name("proj_bn").id)[0]
    apply_fix(p, MakeShortcutFix(edge=second.id))
    assert (g.edges[first.id].name, g.edges[second.id].name) == ("shortcut", "shortcut1")


def test_stage_depth_names_new_blocks_as_before():
    p = make("resnet20")
    before = p.to_dict()["graph"]
    set_stage_depth(p, "layer1", 5).apply(p)
    after = p.to_dict()["graph"]
    assert _added(before, after, "nodes") == [("n34", "layer1_3"), ("n36", "layer1_4")]
    assert [x[0] for x in _added(before, after, "edges")] == ["e35", "e37"]
