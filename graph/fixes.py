"""One-click fixes: a diagnostic's fix action (data) becomes a reversible Edit.

Ops: set_param, set_edge, remove_edge, rename, insert_before,
insert_projection, make_shortcut, add_output, stage_remove, stage_truncate,
stage_rename.  ``apply_fix`` applies the edit
and returns it, so that callers (the editor's undo stack) can revert it.
"""

from __future__ import annotations

from graph import edits as E
from graph.model import Edge, Node, Project, Stage


class FixError(ValueError):
    pass


def _unique_edge_name(graph, base: str) -> str:
    taken = {e.name for e in graph.edges.values() if e.is_shortcut} | {n.name for n in graph.nodes.values()}
    name, i = base, 1
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def build_fix(project: Project, action: dict) -> E.Edit:
    """Turn a fix action into an Edit (not yet applied)."""
    if not isinstance(action, dict):
        raise FixError(f"a fix action must be a dict, got {type(action).__name__}")
    op = action.get("op")
    block = action.get("block")
    if block is not None and block not in project.blocks:
        raise FixError(f"unknown block {block!r}")
    g = project.graph_of(block)
    if op == "set_param":
        _need(g.nodes, action["node"], "node")
        return E.SetParam(block, action["node"], action["param"], action["value"])
    if op == "set_edge":
        _need(g.edges, action["edge"], "edge")
        return E.SetEdgeField(block, action["edge"], action["field"], action["value"])
    if op == "remove_edge":
        _need(g.edges, action["edge"], "edge")
        return E.RemoveEdge(block, action["edge"])
    if op == "rename":
        _need(g.nodes, action["node"], "node")
        return E.SetNodeField(block, action["node"], "name", action["value"])
    if op == "make_shortcut":
        edge = _need(g.edges, action["edge"], "edge")
        name = _unique_edge_name(g, "shortcut")
        return E.Composite(
            "Make shortcut",
            [
                E.SetEdgeField(block, edge.id, "kind", "shortcut"),
                E.SetEdgeField(block, edge.id, "name", name),
                E.SetEdgeField(block, edge.id, "projection", action.get("projection", "conv_bn")),
            ],
        )
    if op == "insert_before":
        node = _need(g.nodes, action["node"], "node")
        incoming = [e for e in g.in_edges(node.id) if e.dst_port == 0]
        if not incoming:
            raise FixError(f'"{node.name}" has no input to insert before')
        return _insert_on_edge(
            project,
            block,
            incoming[0],
            [(action["type"], action.get("params", {}))],
            f"Insert {action['type']}",
        )
    if op == "insert_projection":
        edge = _need(g.edges, action["edge"], "edge")
        chain = [
            (
                "Conv2d",
                {
                    "out_channels": action["out_channels"],
                    "kernel_size": 1,
                    "stride": action.get("stride", 1),
                    "padding": 0,
                    "bias": False,
                },
            ),
            ("BatchNorm2d", {}),
        ]
        return _insert_on_edge(project, block, edge, chain, "Insert 1x1 projection")
    if op == "add_output":
        node = _need(g.nodes, action["node"], "node")
        out = Node(g.new_id("n"), "Output", g.unique_name("output"), {})
        pos = E.positions(project, block).get(node.id)
        return E.Composite(
            "Add Output",
            [
                E.AddNode(block, out, (pos[0], pos[1] + 110) if pos else None),
                E.AddEdge(block, Edge(g.new_id("e"), node.id, out.id)),
            ],
        )
    if op == "stage_remove":
        stages = [
            Stage(st.name, st.keys, [n for n in st.nodes if n != action["node"]])
            if st.name == action["stage"]
            else st
            for st in g.stages
        ]
        if not any(st.name == action["stage"] for st in g.stages):
            raise FixError(f"the stage {action['stage']!r} no longer exists")
        return E.SetStages(block, [st for st in stages if st.nodes])
    if op == "stage_truncate":  # end the stage just before action["node"]
        stage = next(
            (st for st in g.stages if st.name == action["stage"] and action["node"] in st.nodes), None
        )
        if stage is None:
            raise FixError(f"the stage {action['stage']!r} no longer holds {action['node']!r}")
        cut = stage.nodes.index(action["node"])
        stages = [Stage(st.name, st.keys, st.nodes[:cut]) if st is stage else st for st in g.stages]
        return E.SetStages(block, [st for st in stages if st.nodes])
    if op == "stage_rename":
        index = [i for i, st in enumerate(g.stages) if st.name == action["stage"]]
        if not index:
            raise FixError(f"the stage {action['stage']!r} no longer exists")
        stages = list(g.stages)
        last = index[-1]  # of two stages with one name, the later one is renamed
        stages[last] = Stage(action["value"], stages[last].keys, list(stages[last].nodes))
        return E.SetStages(block, stages)
    raise FixError(f"unknown fix op {op!r}")


def apply_fix(project: Project, action: dict) -> E.Edit:
    try:
        edit = build_fix(project, action)
    except KeyError as exc:
        raise FixError(f"the fix action {action.get('op')!r} lacks {exc}") from None
    edit.apply(project)
    return edit


def _need(mapping: dict, key, what: str):
    if key not in mapping:
        raise FixError(f"the {what} {key!r} no longer exists")
    return mapping[key]


def _insert_on_edge(
    project: Project, block: str | None, edge: Edge, chain: list[tuple[str, dict]], label: str
) -> E.Composite:
    """Replace src -> dst by src -> new1 -> ... -> dst, keeping the edge's port and kind."""
    g = project.graph_of(block)
    pos = E.positions(project, block)
    a, b = pos.get(edge.src), pos.get(edge.dst)
    edits: list[E.Edit] = [E.RemoveEdge(block, edge.id)]
    prev, prev_port = edge.src, edge.src_port
    taken_ids: set[str] = set()
    taken_names: set[str] = {n.name for n in g.nodes.values()}

    def fresh_id(prefix: str) -> str:
        i = len(g.nodes) + len(g.edges) + 1
        while f"{prefix}{i}" in g.nodes or f"{prefix}{i}" in g.edges or f"{prefix}{i}" in taken_ids:
            i += 1
        taken_ids.add(f"{prefix}{i}")
        return f"{prefix}{i}"

    for k, (type_name, params) in enumerate(chain, start=1):
        base = {"Conv2d": "proj_conv", "BatchNorm2d": "proj_bn"}.get(type_name, type_name.lower())
        name, i = base, 1
        while name in taken_names:
            name, i = f"{base}{i}", i + 1
        taken_names.add(name)
        node = Node(fresh_id("n"), type_name, name, dict(params))
        where = None
        if a and b:
            t = k / (len(chain) + 1)
            where = (a[0] + (b[0] - a[0]) * t + (120 if edge.is_shortcut else 0), a[1] + (b[1] - a[1]) * t)
        edits.append(E.AddNode(block, node, where))
        edits.append(E.AddEdge(block, Edge(fresh_id("e"), prev, node.id, prev_port, 0)))
        prev, prev_port = node.id, 0
    edits.append(E.AddEdge(block, Edge(fresh_id("e"), prev, edge.dst, 0, edge.dst_port, "data")))
    return E.Composite(label, edits)
