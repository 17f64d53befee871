"""Nested stages (graph/stage_tree.py): an nn.Sequential inside an nn.Sequential, as torchvision's
MobileNetV2 writes ``features.0`` (Conv2dNormActivation) inside ``features``."""

from __future__ import annotations

import pytest

from graph.errors import UserError
from graph.model import Stage
from graph.projectfile import dumps_project, loads_project
from graph.shapes import analyze
from graph.stage_tree import stage_tree
from tests.graph.builders import net


def test_a_contiguous_run_is_a_child_and_a_member_where_it_starts():
    outer = Stage("features", "index", ["a", "b", "c", "d", "e"])
    inner = Stage("features_0", "index", ["a", "b"])
    deeper = Stage("features_0_0", "index", ["b"])
    tree = stage_tree([deeper, outer, inner])
    assert tree.parent == {"features": None, "features_0": "features", "features_0_0": "features_0"}
    assert tree.members(outer) == [inner, "c", "d", "e"]
    assert tree.members(inner) == ["a", deeper]
    assert tree.roots([deeper, outer, inner]) == [outer]
    assert {nid: s.name for nid, s in tree.outermost.items()} == dict.fromkeys("abcde", "features")
    assert tree.overlaps == []


def test_equal_runs_nest_in_list_order_and_crossing_runs_overlap():
    a, b = Stage("a", "index", ["x", "y"]), Stage("b", "index", ["x", "y"])
    tree = stage_tree([a, b])
    assert tree.parent == {"a": None, "b": "a"}
    assert tree.members(a) == [b]
    crossing = stage_tree([Stage("p", "index", ["x", "y"]), Stage("q", "index", ["y", "z"])])
    assert crossing.overlaps == [("p", "q", "y")]
    gap = stage_tree([Stage("p", "index", ["x", "y", "z"]), Stage("q", "index", ["x", "z"])])
    assert gap.overlaps == [("p", "q", "x"), ("p", "q", "z")]  # not contiguous: not nested


def _project_with_nested_stages():
    p, nodes = net(
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}),
        "BatchNorm2d",
        "ReLU",
        ("Conv2d", {"out_channels": 8, "kernel_size": 1}),
        "AdaptiveAvgPool2d",
        "Flatten",
        ("Linear", {"out_features": 10}),
    )
    ids = [n.id for n in nodes]
    p.graph.stages = [
        Stage("features", "index", ids[1:5]),
        Stage("features_0", "index", ids[1:4]),
    ]
    return p, ids


def test_nested_stages_analyse_clean_and_survive_the_project_file():
    p, _ = _project_with_nested_stages()
    assert analyze(p).valid
    again = loads_project(dumps_project(p))
    assert [s.to_dict() for s in again.graph.stages] == [s.to_dict() for s in p.graph.stages]


def test_crossing_stages_are_an_error_in_analysis_and_in_the_file():
    p, ids = _project_with_nested_stages()
    p.graph.stages = [Stage("features", "index", ids[1:4]), Stage("tail", "index", ids[3:5])]
    errors = [d.message for d in analyze(p).errors]
    assert any("is in two stages" in m and "neither holds the other" in m for m in errors), errors
    with pytest.raises(UserError, match='is in stages "features" and "tail", and neither holds the other'):
        loads_project(dumps_project(p))
