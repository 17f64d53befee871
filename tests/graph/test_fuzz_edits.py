"""Fuzz: random editor-style edits of templates never make analyze() or a fix raise.

A user in the editor removes nodes and edges, connects anything to anything,
types odd values into parameters, renames and retypes nodes, in the network
and inside block bodies. Whatever the result, analysis must answer with
diagnostics (never an exception), the summary rows must be computable, and
every offered fix must apply and revert cleanly.
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph import registry
from graph.fixes import FixError, apply_fix
from graph.model import Edge, Stage
from graph.shapes import analyze
from graph.summary import summarize
from graph.templates import make

TEMPLATES = ("resnet20", "se_resnet20", "highway20", "weighted_resnet20", "dpn26", "preact_resnet110")
_BASE = {}

VALUES = [
    None,
    -1,
    0,
    1,
    2,
    3,
    7,
    1000,
    10**9,
    0.5,
    -0.5,
    1.5,
    "same",
    "valid",
    "x",
    "in_channels",
    "planes * 2",
    "in_channels // 0",
    "",
    [],
    [1],
    [0, 0],
    [3, 8, 8],
    {"a": 1},
    True,
    False,
    float("inf"),
    float("nan"),
]
NAMES = ["", None, "x", "class", "a b", "conv1", "downsample", "layer1"]
TYPES = [
    "Add",
    "Concat",
    "Multiply",
    "Gate",
    "Linear",
    "Flatten",
    "ReLU",
    "Conv2d",
    "block:Nope",
    "Bogus",
    "Input",
    "Output",
    "BlockInput",
    "BlockOutput",
]


def base(name):
    if name not in _BASE:
        _BASE[name] = make(name)
    return copy.deepcopy(_BASE[name])


def graphs(project):
    return [(None, project.graph)] + [(name, b.graph) for name, b in project.blocks.items()]


def random_edit(draw, project) -> None:
    block, g = draw(st.sampled_from(graphs(project)))
    nodes, edges = list(g.nodes), list(g.edges)
    op = draw(
        st.sampled_from(
            [
                "remove_node",
                "remove_edge",
                "param",
                "param",
                "edge_field",
                "add_edge",
                "name",
                "type",
                "stages",
            ]
        )
    )
    if op == "remove_node" and nodes:
        g.remove_node(draw(st.sampled_from(nodes)))
    elif op == "remove_edge" and edges:
        g.remove_edge(draw(st.sampled_from(edges)))
    elif op == "param" and nodes:
        node = g.nodes[draw(st.sampled_from(nodes))]
        lt = registry.get(node.type)
        keys = [s.name for s in lt.params] if lt else list(node.params)
        g.set_param(node.id, draw(st.sampled_from(keys or ["junk"])), draw(st.sampled_from(VALUES)))
    elif op == "edge_field" and edges:
        field, choices = draw(
            st.sampled_from(
                [
                    ("kind", ["data", "shortcut", "bogus"]),
                    ("projection", ["identity", "zero_pad", "conv_bn", "conv_bn_always", "magic"]),
                    ("dst_port", [0, 1, 2, 5, -1]),
                    ("src_port", [0, 1, -1]),
                    ("name", NAMES),
                ]
            )
        )
        g.set_edge_field(draw(st.sampled_from(edges)), field, draw(st.sampled_from(choices)))
    elif op == "add_edge" and nodes:
        src, dst = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
        g.add_edge(
            Edge(
                g.new_id("e"),
                src,
                dst,
                0,
                draw(st.sampled_from([0, 1, 2])),
                draw(st.sampled_from(["data", "shortcut"])),
                "sc",
                draw(st.sampled_from(["identity", "zero_pad", "conv_bn"])),
            )
        )
    elif op == "name" and nodes:
        g.set_node_field(draw(st.sampled_from(nodes)), "name", draw(st.sampled_from(NAMES)))
    elif op == "type" and nodes:
        g.set_node_field(
            draw(st.sampled_from(nodes)),
            "type",
            draw(st.sampled_from(TYPES + [f"block:{block or 'BasicBlock'}"])),
        )
    elif op == "stages" and nodes:
        picked = draw(st.lists(st.sampled_from(nodes + ["removed"]), max_size=4))
        g.set_stages(list(g.stages) + [Stage(draw(st.sampled_from(["layer1", "extra"])), "index", picked)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_edits_never_crash_analysis_or_fixes(data):
    project = base(data.draw(st.sampled_from(TEMPLATES)))
    for _ in range(data.draw(st.integers(1, 6))):
        random_edit(data.draw, project)
    analysis = analyze(project)
    summarize(analysis, batch=2)
    assert analysis.valid == (not analysis.errors)
    for d in analysis.diagnostics:
        assert d.message and d.code
    before = project.to_dict()
    for d in analysis.diagnostics[:4]:
        for fix in d.fixes:
            try:
                edit = apply_fix(project, fix.action)
            except FixError:
                continue
            analyze(project)
            edit.revert(project)
            after = project.to_dict()
            for g in [before["graph"], after["graph"]] + [
                b["graph"] for b in (*before["blocks"].values(), *after["blocks"].values())
            ]:
                g["edges"].sort(key=lambda e: e["id"])
            before["ui"] = after["ui"] = {}
            assert after == before, fix.label


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_what_validates_can_be_emitted(data):
    """The contract between validation and code: a project that analyze() calls valid is one the code
    generator accepts (no torch needed to emit). Stage rules, names and projections must agree."""
    from codegen.emitter import emit

    project = base(data.draw(st.sampled_from(TEMPLATES)))
    for _ in range(data.draw(st.integers(1, 3))):
        random_edit(data.draw, project)
    analysis = analyze(project)
    if analysis.valid:
        emit(project, analysis)


def test_identity_shortcut_into_concat_can_be_emitted():
    from codegen.emitter import emit

    project = base("dpn26")
    g = project.blocks["DualPathBlock"].graph
    edge = next(
        e for e in g.edges.values() if g.nodes[e.src].name == "x_dense" and g.nodes[e.dst].name == "cat"
    )
    g.set_edge_field(edge.id, "kind", "shortcut")
    g.set_edge_field(edge.id, "name", "sc")
    analysis = analyze(project)
    assert analysis.valid
    emit(project, analysis)
