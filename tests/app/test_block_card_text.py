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


def test_a_kernel_size_named_by_a_block_parameter_reads_as_k_equals_the_name():
    from app.canvas.layer_views import APP_TYPES

    card = APP_TYPES["Conv2d"].card
    assert card("Conv2d", {"kernel_size": "kernel_size", "out_channels": "out_channels", "stride": 1}) == (
        "k=kernel_size, out_channels"
    )
    assert card("Conv2d", {"kernel_size": 3, "out_channels": 64, "stride": 2}) == "3x3 conv, 64, /2"
    assert card("Conv2d", {"kernel_size": [1, 7], "out_channels": 64, "stride": 1}) == "1x7 conv, 64"
