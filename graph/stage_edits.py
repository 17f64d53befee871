"""Edits at the level of a network's stages: depth, width, plain nets and shortcut options.

Each function returns one reversible ``graph.edits.Edit`` (a ``Composite`` of the
ordinary edits, so the editor undoes it in one step) and applies nothing::

    edit = set_stage_depth(project, "layer1", 9)   # adds copies of the last instance (layer1.3 ...)
    edit = set_stage_width(project, "layer2", 2)   # scales the instances' channel parameters
    edit = set_plain(project)                       # removes every shortcut into an Add
    edit = set_shortcut(project, "B")               # every projecting shortcut becomes option B
    edit, result = variant_edit(project, depth=9, width=2, plain=False, shortcut="A")

``variant_edit`` builds a combination on a scratch copy, checks the result with
shape inference, and raises ``UserError`` (exit code 2) naming the problem when
a change is impossible (unknown stage, depth below 1, a width that makes a
channel count non-integral) or leaves the network invalid (a width that breaks
a grouped convolution): the edit never reaches the project then.

Depth counts block instances per stage. Added instances copy the last one's
parameters (a stage of one instance copies it with stride 1, since only a
stage's first block changes the resolution) and take the next names
(``layer1_2`` -> ``layer1_3``; in code ``layer1.3``); removal is from the end.
The edges leaving the stage move to its new last instance, keeping their ids.
Width scales the channel parameters (``WIDTH_PARAMS``) of a stage's block
instances and the ``out_channels`` of plain layers in it; projections and the
layers after the stage take their channels from shape inference.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from graph.edits import (
    AddEdge,
    AddNode,
    Composite,
    Edit,
    RemoveEdge,
    RemoveNode,
    SetEdgeField,
    SetParam,
    SetPositions,
    SetStages,
    positions,
)
from graph.errors import UserError
from graph.model import Edge, Graph, Node, Project, Stage
from graph.naming import Fresh
from graph.stage_tree import stage_tree

WIDTH_PARAMS = ("out_channels", "planes", "growth_rate", "width", "out_planes", "dense_depth")
SHORTCUT_OPTIONS = {"A": "zero_pad", "B": "conv_bn", "C": "conv_bn_always"}
ROW = 110.0  # vertical spacing used when a stage's own spacing cannot be read from its positions
MAX_DEPTH = 1000


# ------------------------------------------------------------------ finding stages
def stage_names(project: Project, block: str | None = None) -> list[str]:
    return [s.name for s in project.graph_of(block).stages]


def find_stage(project: Project, name: str, block: str | None = None) -> Stage:
    graph = project.graph_of(block)
    for s in graph.stages:
        if s.name == name:
            return s
    where = f" of block {block}" if block else ""
    known = ", ".join(s.name for s in graph.stages) or "none"
    raise UserError(f"unknown stage {name!r}{where}; the stages are: {known}")


def stage_depth(project: Project, name: str, block: str | None = None) -> int:
    return len(find_stage(project, name, block).nodes)


def block_stages(project: Project, block: str | None = None) -> list[str]:
    """The stages made only of block instances (layer1..layer4; not DenseNet's mixed ``features``):
    what a depth or width given for the whole network applies to."""
    g = project.graph_of(block)
    return [s.name for s in g.stages if s.nodes and all(g.nodes[i].block_name for i in s.nodes)]


def _spacing(store: dict, ids: list[str]) -> float:
    ys = [store[i][1] for i in ids if i in store]
    return float(ys[-1] - ys[-2]) if len(ys) >= 2 and ys[-1] != ys[-2] else ROW


def _shifted(store: dict, below: float, dy: float, skip: set[str]) -> dict[str, list[float]]:
    return {k: [v[0], v[1] + dy] for k, v in store.items() if k not in skip and v[1] > below}


# ------------------------------------------------------------------ depth
def _check_depth(stage: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise UserError(f"stage {stage}: the depth must be a whole number of block instances; got {n!r}")
    if n < 1:
        raise UserError(f"stage {stage}: the depth must be at least 1; got {n}")
    if n > MAX_DEPTH:
        raise UserError(f"stage {stage}: the depth must be at most {MAX_DEPTH}; got {n}")
    return n


def set_stage_depth(project: Project, stage: str, n: int, block: str | None = None) -> Edit:
    """One edit that makes ``stage`` hold ``n`` instances (copies of its last one, or cut from the end)."""
    graph = project.graph_of(block)
    st = find_stage(project, stage, block)
    n = _check_depth(stage, n)
    current = len(st.nodes)
    label = f"Set depth of {stage} to {n}"
    if n == current:
        return Composite(label, [])
    if not st.nodes:
        raise UserError(f"stage {stage} is empty; there is no instance to copy")
    if n > current:
        return Composite(label, _grow(project, graph, block, st, n - current))
    return Composite(label, _shrink(project, graph, block, st, n))


def _grow(project: Project, graph: Graph, block: str | None, st: Stage, count: int) -> list[Edit]:
    fresh = Fresh(graph)
    last = graph.nodes[st.nodes[-1]]
    params = copy.deepcopy(last.params)
    if len(st.nodes) == 1 and isinstance(params.get("stride"), int) and params["stride"] != 1:
        params["stride"] = 1  # the copy follows the stage's first (downsampling) instance: keep the shape
    store = positions(project, block)
    dy = _spacing(store, st.nodes)
    base = store.get(last.id)
    index = list(graph.nodes).index(last.id) + 1
    outs = graph.out_edges(last.id)
    edits: list[Edit] = [RemoveEdge(block, e.id) for e in outs]
    if base is not None:
        moved = _shifted(store, base[1], dy * count, {last.id})
        if moved:
            edits.append(SetPositions(block, moved))
    prev, name, new_ids = last.id, last.name, []
    for i in range(count):
        name = fresh.next_name(name)
        node = Node(fresh.id("n"), last.type, name, copy.deepcopy(params), last.frozen)
        pos = (base[0], base[1] + dy * (i + 1)) if base is not None else None
        edits.append(AddNode(block, node, pos, index + i))
        edits.append(AddEdge(block, Edge(fresh.id("e"), prev, node.id)))
        prev = node.id
        new_ids.append(node.id)
    edits += [
        AddEdge(block, Edge(e.id, prev, e.dst, e.src_port, e.dst_port, e.kind, e.name, e.projection))
        for e in outs
    ]
    # the stage and the stages holding it (efficientnet's features holds features_2) take the new ids
    tree = stage_tree(graph.stages)
    around = {st.name}
    parent = tree.parent.get(st.name)
    while parent is not None:
        around.add(parent)
        parent = tree.parent.get(parent)
    stages = []
    for s in graph.stages:
        nodes = list(s.nodes)
        if s.name in around:
            at = nodes.index(last.id) + 1
            nodes[at:at] = new_ids
        stages.append(Stage(s.name, s.keys, nodes))
    edits.append(SetStages(block, stages))
    return edits


def _shrink(project: Project, graph: Graph, block: str | None, st: Stage, n: int) -> list[Edit]:
    removed = st.nodes[n:]
    gone = set(removed)
    keep = st.nodes[n - 1]
    chain = {(a, b) for a, b in zip(st.nodes, st.nodes[1:])}
    for e in graph.edges.values():
        if e.dst in gone and (e.src, e.dst) not in chain:
            src = graph.nodes[e.src].name
            raise UserError(
                f"stage {st.name}: {graph.nodes[e.dst].name} has an input from {src} outside the stage's "
                f"chain; remove that edge before shortening the stage"
            )
    leaving = [e for e in graph.edges.values() if e.src in gone and e.dst not in gone]
    store = positions(project, block)
    edits: list[Edit] = [RemoveNode(block, node_id) for node_id in reversed(removed)]
    edits += [
        AddEdge(block, Edge(e.id, keep, e.dst, e.src_port, e.dst_port, e.kind, e.name, e.projection))
        for e in leaving
    ]
    if keep in store and removed[-1] in store:
        top, bottom = store[keep][1], store[removed[-1]][1]
        moved = _shifted(store, bottom, top - bottom, gone)
        if moved and bottom > top:
            edits.append(SetPositions(block, moved))
    return edits


# ------------------------------------------------------------------ width
def _parse_factor(factor: Any, where: str) -> float:
    try:
        f = float(factor)
    except (TypeError, ValueError):
        raise UserError(f"{where}: the width multiplier must be a number; got {factor!r}") from None
    if isinstance(factor, bool) or not math.isfinite(f) or f <= 0:
        raise UserError(f"{where}: the width multiplier must be a positive number; got {factor!r}")
    return f


def _scaled(value: Any, factor: float, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(
            f"{what} is {value!r}, not a number of channels, so a width multiplier cannot scale it"
        )
    new = value * factor
    if abs(new - round(new)) > 1e-9 or round(new) < 1:
        raise UserError(
            f"a width of {factor:g} makes {what} {value} x {factor:g} = {new:g} channels, not a whole "
            f"number of at least 1"
        )
    return round(new)


def set_stage_width(project: Project, stage: str, factor: Any, block: str | None = None) -> Edit:
    """One edit that multiplies the channel parameters of every node in ``stage`` by ``factor``."""
    graph = project.graph_of(block)
    st = find_stage(project, stage, block)
    f = _parse_factor(factor, f"stage {stage}")
    edits: list[Edit] = []
    for node_id in st.nodes:
        node = graph.nodes[node_id]
        bname = node.block_name
        if bname is not None:
            bdef = project.blocks.get(bname)
            defaults = bdef.defaults() if bdef is not None else {}
            keys = [k for k in WIDTH_PARAMS if k in node.params or k in defaults]
            values = {k: node.params.get(k, defaults.get(k)) for k in keys}
        else:
            values = {"out_channels": node.params["out_channels"]} if "out_channels" in node.params else {}
        for k, v in values.items():
            new = _scaled(v, f, f"{stage}: {node.name}.{k}")
            if new != v:
                edits.append(SetParam(block, node_id, k, new))
    if not any(
        (graph.nodes[i].block_name is not None) or "out_channels" in graph.nodes[i].params for i in st.nodes
    ):
        raise UserError(f"stage {stage} has no channel parameters that a width multiplier could scale")
    return Composite(f"Set width of {stage} to x{f:g}", edits)


# ------------------------------------------------------- block parameters (the templates' own knobs)
PARAM_ALIASES = {"cardinality": "groups"}  # ResNeXt's cardinality is its bottleneck's grouped-conv groups


def set_block_param(project: Project, name: str, value: Any, stages: list[str] | None = None) -> Edit:
    """Set block parameter ``name`` (ResNeXt's ``groups``/cardinality and ``base_width``, ...) on every
    instance in ``stages`` (default: every stage of block instances) whose block has it."""
    key = PARAM_ALIASES.get(name, name)
    graph = project.graph
    names = stages if stages is not None else block_stages(project)
    edits: list[Edit] = []
    seen: set[str] = set()
    for stage in names:
        for node_id in find_stage(project, stage).nodes:
            node = graph.nodes[node_id]
            bdef = project.blocks.get(node.block_name or "")
            if bdef is None:
                continue
            seen.add(bdef.name)
            if key not in bdef.params:
                continue
            kind = bdef.params[key].type
            v = _typed(value, kind, f"{name} of {node.name}")
            if node.params.get(key, bdef.params[key].default) != v or key not in node.params:
                edits.append(SetParam(None, node_id, key, v))
    if not edits and not any(key in project.blocks[b].params for b in seen):
        have = sorted({k for b in seen for k in project.blocks[b].params})
        raise UserError(
            f"no block instance in {', '.join(names) or 'the network'} has a parameter {name!r}; "
            f"they have: {', '.join(have) or 'none'}"
        )
    return Composite(f"Set {name} to {value}", edits)


def _typed(value: Any, kind: str, what: str) -> Any:
    text = str(value).strip()
    try:
        if kind == "int":
            v = int(text)
            if v < 1:
                raise ValueError
            return v
        if kind == "float":
            v = float(text)
            if not math.isfinite(v):
                raise ValueError
            return v
    except ValueError:
        raise UserError(
            f"{what} must be a {'whole number of at least 1' if kind == 'int' else 'number'}; got {value!r}"
        ) from None
    if kind == "bool":
        return _as_bool(value, what)
    return value


# ------------------------------------------------------------------ shortcuts
def _graphs(project: Project) -> list[tuple[str | None, Graph]]:
    return [(None, project.graph)] + [(name, b.graph) for name, b in project.blocks.items()]


def set_shortcut(project: Project, option: str) -> Edit:
    """Every projecting shortcut (projection other than identity) gets option A, B or C."""
    key = str(option).strip().upper()
    if key not in SHORTCUT_OPTIONS:
        raise UserError(
            f"shortcut must be A (zero-pad), B (1x1 conv + BN where shapes change) or C (always); "
            f"got {option!r}"
        )
    value = SHORTCUT_OPTIONS[key]
    edits: list[Edit] = [
        SetEdgeField(block, e.id, "projection", value)
        for block, g in _graphs(project)
        for e in g.edges.values()
        if e.is_shortcut and e.projection != "identity" and e.projection != value
    ]
    return Composite(f"Set shortcuts to option {key}", edits)


def set_plain(project: Project) -> Edit:
    """Remove every shortcut edge: a sum left with one input is removed and its main input bridged."""
    edits: list[Edit] = []
    for block, g in _graphs(project):
        fresh = Fresh(g)
        where = f" in block {block}" if block else ""
        for e in [e for e in g.edges.values() if e.is_shortcut]:
            add = g.nodes[e.dst]
            if add.type != "Add":
                raise UserError(
                    f"plain=yes: the shortcut into {add.type} {add.name!r}{where} cannot be removed; only "
                    f"shortcuts into an Add can"
                )
            others = [x for x in g.in_edges(add.id) if x.id != e.id]
            if len(others) == 1:
                main = others[0]
                edits.append(RemoveNode(block, add.id))
                edits += [
                    AddEdge(
                        block,
                        Edge(
                            fresh.id("e"),
                            main.src,
                            o.dst,
                            main.src_port,
                            o.dst_port,
                            o.kind,
                            o.name,
                            o.projection,
                        ),
                    )
                    for o in g.out_edges(add.id)
                ]
            else:
                edits.append(RemoveEdge(block, e.id))
                edits += [
                    SetEdgeField(block, x.id, "dst_port", i) for i, x in enumerate(others) if x.dst_port != i
                ]
    return Composite("Remove every shortcut (plain net)", edits)


# ------------------------------------------------------------------ combinations
def parse_stage_values(spec: Any, project: Project, what: str) -> dict[str, Any]:
    """``9`` (every stage of block instances), ``{"layer1": 9}`` or ``"layer1=9,layer2=5"``
    -> {stage: value}."""
    names = block_stages(project)
    if isinstance(spec, Mapping):
        items = list(spec.items())
    elif isinstance(spec, str) and "=" in spec:
        items = []
        for part in spec.split(","):
            k, sep, v = part.partition("=")
            if not sep or not k.strip() or not v.strip():
                raise UserError(f"--{what} expects STAGE=VALUE pairs separated by commas; got {part!r}")
            items.append((k.strip(), v.strip()))
    else:
        if not names:
            raise UserError(
                f"{what}: the network has no stage made of block instances; name the stage (STAGE=VALUE)"
            )
        items = [(n, spec) for n in names]
    out: dict[str, Any] = {}
    for k, v in items:
        find_stage(project, k)
        out[k] = v
    return out


def _as_depth(value: Any, stage: str) -> int:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise UserError(f"stage {stage}: the depth must be a whole number; got {value!r}") from None
    return value


def _as_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "on"):
        return True
    if text in ("no", "false", "0", "off"):
        return False
    raise UserError(f"{what} must be yes or no; got {value!r}")


def variant_edit(
    project: Project,
    depth: Any = None,
    width: Any = None,
    plain: Any = None,
    shortcut: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[Edit, Project]:
    """One edit combining the given changes, and the changed project (a copy; ``project`` is untouched).
    ``params``: block parameters for every instance in the stages ({"cardinality": 16, "base_width": 4}).

    Raises UserError (exit 2) for impossible values or a result that shape inference rejects.
    """
    from graph.projectfile import project_from_dict
    from graph.shapes import analyze

    work = project_from_dict(project.to_dict())
    before = {(d.code, d.message) for d in analyze(work).errors}
    edits: list[Edit] = []
    parts: list[str] = []

    def run(edit: Edit) -> None:
        edit.apply(work)
        edits.append(edit)

    if shortcut is not None:
        run(set_shortcut(work, shortcut))
        parts.append(f"shortcut {str(shortcut).upper()}")
    if depth is not None:
        for stage, n in parse_stage_values(depth, work, "depth").items():
            run(set_stage_depth(work, stage, _as_depth(n, stage)))
        parts.append(f"depth {depth}")
    if width is not None:
        for stage, f in parse_stage_values(width, work, "width").items():
            run(set_stage_width(work, stage, f))
        parts.append(f"width {width}")
    for name, value in (params or {}).items():
        run(set_block_param(work, name, value))
        parts.append(f"{name} {value}")
    if plain is not None and _as_bool(plain, "plain"):
        run(set_plain(work))
        parts.append("plain")
    new_errors = [d for d in analyze(work).errors if (d.code, d.message) not in before]
    if new_errors:
        msg = " ".join(str(new_errors[0].message).split())
        where = f" (block {new_errors[0].block})" if new_errors[0].block else ""
        raise UserError(f"{', '.join(parts) or 'the change'} makes the network invalid{where}: {msg}")
    return Composite("Set " + ", ".join(parts) if parts else "No change", edits), work


__all__ = [
    "SHORTCUT_OPTIONS",
    "WIDTH_PARAMS",
    "block_stages",
    "find_stage",
    "parse_stage_values",
    "set_block_param",
    "set_plain",
    "set_shortcut",
    "set_stage_depth",
    "set_stage_width",
    "stage_depth",
    "stage_names",
    "variant_edit",
]
