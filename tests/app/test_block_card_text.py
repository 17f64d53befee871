"""A block instance's card reads like its constructor call: floats (an imported per-block drop rate)
are shortened, so that a ConvNeXt card does not run off with 0.0058823529411764705."""

from __future__ import annotations

from app.canvas.layer_views import node_summary
from graph.model import BlockDef, BlockParam, Graph, Project


def test_block_call_shortens_floats_and_keeps_ints():
    body = Graph()
    body.chain(body.add("BlockInput", "input"), body.add("BlockOutput", "output"))
    bdef = BlockDef("CNBlock", {"p": BlockParam("float", 0.0), "stride": BlockParam("int", 1)}, body)
    g = Graph()
    node = g.add("block:CNBlock", "b", p=0.0058823529411764705, stride=2)
    project = Project("t", g, {"CNBlock": bdef})
    assert node_summary(project, node) == "CNBlock(0.005882, stride=2)"
