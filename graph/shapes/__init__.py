"""Shape inference and validation, in pure Python; one concern a module.

- ``results``: what analysis returns (NodeInfo, GraphInfo, ShortcutInfo, Analysis, summary rows, module
  paths);
- ``structure``: checks that need no shape (names, markers, edges, stages, cycles, reachability);
- ``inference``: ``analyze(project)``, shape by shape in topological order, block instances expanded;
- ``repairs``: the fixes that need more than the check knows (projections, paddings, merge mismatches).

Fixes are typed actions (graph/fixes.py) that build their own Edits. Callers import from here:
``from graph.shapes import analyze, Analysis, GraphInfo``.
"""

from __future__ import annotations

from graph.model import BLOCK_PREFIX
from graph.params import check_value
from graph.shapes.inference import MAX_BLOCK_DEPTH, analyze
from graph.shapes.repairs import subsample_stride
from graph.shapes.results import (
    PROJECTION_LABELS,
    Analysis,
    GraphInfo,
    Layer,
    NodeInfo,
    Shape,
    ShortcutInfo,
    fmt,
    is_io,
    iter_graph_infos,
    module_path,
)
from graph.shapes.structure import in_edge_index, is_identifier

__all__ = [
    "BLOCK_PREFIX",
    "MAX_BLOCK_DEPTH",
    "PROJECTION_LABELS",
    "Analysis",
    "GraphInfo",
    "Layer",
    "NodeInfo",
    "Shape",
    "ShortcutInfo",
    "analyze",
    "check_value",
    "fmt",
    "in_edge_index",
    "is_identifier",
    "is_io",
    "iter_graph_infos",
    "module_path",
    "subsample_stride",
]
