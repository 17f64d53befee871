"""GraphScene: the items of one graph (the network or a block body), kept in step
with the model through the Document's signals (never through commands).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsScene

from app.canvas.edge_item import EdgeItem
from app.canvas.layer_views import node_summary, shortcut_chip
from app.canvas.layout import ROW
from app.canvas.node_item import HEIGHT, WIDTH, NodeItem
from app.canvas.stage_item import PAD_X, PAD_Y, StageItem
from app.composite import has_output, num_inputs
from app.document import block_instances, failing_instances
from app.theme import CanvasTheme, get_theme
from graph import edits as E
from graph import registry
from graph.shapes import PROJECTION_LABELS, GraphInfo, ShortcutInfo, fmt
from graph.stage_tree import stage_tree


class GraphScene(QGraphicsScene):
    def __init__(self, document, block: str | None, theme: CanvasTheme | None = None) -> None:
        super().__init__()
        self.document = document
        self.block = block
        self.theme = theme or get_theme("dark")
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[str, EdgeItem] = {}
        self.stages: dict[str, StageItem] = {}
        self._syncing_selection = False
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        document.model_event.connect(self._on_model_event)
        document.positions_changed.connect(self._on_positions_changed)
        document.analysis_changed.connect(self._on_analysis)
        document.selection_changed.connect(self._on_document_selection)
        document.project_replaced.connect(self.rebuild)
        document.blocks_changed.connect(self._on_blocks_changed)
        document.instance_changed.connect(self._on_instance_changed)
        self.selectionChanged.connect(self._on_scene_selection)
        self.rebuild()

    # ----- model access ------------------------------------------------------------------
    @property
    def graph(self):
        return self.document.project.graph_of(self.block)

    def is_alive(self) -> bool:
        return self.block is None or self.block in self.document.project.blocks

    def positions(self) -> dict[str, list[float]]:
        return E.positions(self.document.project, self.block)

    # ----- building ------------------------------------------------------------------------
    def rebuild(self) -> None:
        if self.is_alive():
            self.document.layout_missing(self.block)  # a file without positions: placed, and announced
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self.stages.clear()
        if not self.is_alive():
            return
        g = self.graph
        for node_id in g.nodes:
            self._add_node_item(node_id)
        for edge_id in g.edges:
            self._add_edge_item(edge_id)
        self._on_analysis(self.document.analysis)

    def _add_node_item(self, node_id: str) -> NodeItem:
        item = NodeItem(node_id, self.theme)
        self.nodes[node_id] = item
        self._refresh_node(node_id)
        p = self.positions().get(node_id)
        if p is not None:
            item.move_to(p[0], p[1])
        self.addItem(item)
        return item

    def _refresh_node(self, node_id: str) -> None:
        node = self.graph.nodes[node_id]
        lt = registry.get(node.type)
        n_in = num_inputs(self.document.project, node)
        self.nodes[node_id].set_content(
            name=node.name,
            type_name=node.type,
            category=registry.category_of(node.type),
            summary=node_summary(self.document.project, node),
            is_block=node.block_name is not None,
            frozen=node.frozen,
            inputs=n_in,
            input_labels=lt.input_names if lt else (),
            has_output=has_output(node),
        )
        for e in self.nodes[node_id].edges:
            e.update_path()

    def _add_edge_item(self, edge_id: str) -> EdgeItem | None:
        e = self.graph.edges[edge_id]
        if e.src not in self.nodes or e.dst not in self.nodes:
            return None
        item = EdgeItem(edge_id, self.nodes[e.src], self.nodes[e.dst], self.theme)
        item.set_content(dst_port=e.dst_port, kind=e.kind, projection=e.projection)
        self.edges[edge_id] = item
        self.addItem(item)
        if item.dst.pos().y() - item.src.pos().y() > 1.5 * ROW:
            item.update_path()  # in the scene now: a long edge sees whether cards stand in its way
        return item

    def _remove_edge_item(self, edge_id: str) -> None:
        item = self.edges.pop(edge_id, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    # ----- model events ----------------------------------------------------------------------
    def _on_model_event(self, block, name: str, args) -> None:
        if block != self.block or not self.is_alive():
            return
        if name == "node_added":
            node = args[0]
            if node.id not in self.nodes:
                self._add_node_item(node.id)
        elif name == "node_removed":
            item = self.nodes.pop(args[0].id, None)
            if item is not None:
                for e in list(item.edges):
                    self._remove_edge_item(e.edge_id)
                self.removeItem(item)
        elif name == "node_changed":
            if args[0].id in self.nodes:
                self._refresh_node(args[0].id)
        elif name == "edge_added":
            if args[0].id not in self.edges:
                self._add_edge_item(args[0].id)
        elif name == "edge_removed":
            self._remove_edge_item(args[0].id)
        elif name == "edge_changed":
            e = args[0]
            item = self.edges.get(e.id)
            if item is not None:
                if self.nodes.get(e.src) is not item.src or self.nodes.get(e.dst) is not item.dst:
                    self._remove_edge_item(e.id)
                    self._add_edge_item(e.id)
                else:
                    item.set_content(dst_port=e.dst_port, kind=e.kind, projection=e.projection)

    def _on_blocks_changed(self) -> None:
        """A block's parameters changed: instance cards show them ("BasicBlock(128, stride=2)")."""
        if not self.is_alive():
            return
        for node_id, node in self.graph.nodes.items():
            if node.block_name is not None and node_id in self.nodes:
                self._refresh_node(node_id)

    def _on_positions_changed(self, block, ids: list) -> None:
        if block != self.block or not self.is_alive():
            return
        pos = self.positions()
        for node_id in ids:
            item = self.nodes.get(node_id)
            if item is not None and node_id in pos:
                item.move_to(*pos[node_id])
        self.reroute_long_edges()
        self.refresh_stages()

    def reroute_long_edges(self) -> None:
        """A moved node may now stand in (or have left) the way of a long data edge elsewhere."""
        for e in self.edges.values():
            if not e.is_shortcut and e.dst.pos().y() - e.src.pos().y() > 1.5 * ROW:
                e.update_path()

    def refresh_stages(self) -> None:
        """Bands behind each stage's nodes (rebuilt from the model's stages; a few items)."""
        wanted = {s.name: s for s in self.graph.stages if any(n in self.nodes for n in s.nodes)}
        for name in [n for n in self.stages if n not in wanted]:
            self.removeItem(self.stages.pop(name))
        tree = stage_tree(self.graph.stages)
        levels: dict[str, int] = {}  # nested levels inside a stage: its band pads around theirs
        for stage in self.graph.stages:
            p, level = tree.parent.get(stage.name), 1
            while p is not None:
                levels[p] = max(levels.get(p, 0), level)
                p, level = tree.parent.get(p), level + 1
        for name, stage in wanted.items():
            item = self.stages.get(name)
            if item is None:
                item = self.stages[name] = StageItem(name, self.theme)
                self.addItem(item)
            ids = [n for n in stage.nodes if n in self.nodes]
            rect = QRectF()
            for n in ids:
                rect = rect.united(self.nodes[n].card_rect())
            types = {self.graph.nodes[n].type for n in ids}
            kind = next(iter(types)).split(":")[-1] if len(types) == 1 else None
            # the label goes left of the band unless other nodes sit there (a side column's stage) or
            # it holds stages, whose labels are there (MobileNet's features holds features_0)
            left = QRectF(rect.left() - 200, rect.top() - PAD_Y, 200 - PAD_X, rect.height() + 2 * PAD_Y)
            inside = set(ids)
            crowded = any(it.card_rect().intersects(left) for n, it in self.nodes.items() if n not in inside)
            blocks_only = bool(ids) and all(self.graph.nodes[n].block_name for n in ids)
            outer = levels.get(name, 0)
            if outer:
                subtitle = f"{len(tree.members(stage))} modules, {len(ids)} nodes"
            else:
                subtitle = f"{len(ids)} \u00d7 {kind}" if kind else f"{len(ids)} nodes"
            item.on_depth = self._set_stage_depth
            item.set_nodes(
                rect,
                subtitle,
                label_right=crowded or outer > 0,
                depth=len(stage.nodes) if blocks_only and not outer else None,
                outer=outer,
            )

    def _set_stage_depth(self, stage: str, n: int) -> None:
        """The band's depth spin box: one undoable edit (graph/stage_edits.py)."""
        from graph.errors import UserError
        from graph.stage_edits import set_stage_depth

        try:
            edit = set_stage_depth(self.document.project, stage, n, self.block)
        except UserError as exc:  # e.g. an input from outside the stage into an instance to remove
            for view in self.views():
                signal = getattr(view, "status_message", None)
                if signal is not None:
                    signal.emit(exc.message)
            return
        if edit.edits:
            self.document.push(edit, edit.label)

    def sync_positions(self) -> None:
        """Place items whose stored position differs (AddNode stores it after announcing the node)."""
        self.document.layout_missing(self.block)  # a node added without a position
        pos = self.positions()
        for node_id, item in self.nodes.items():
            p = pos.get(node_id)
            if p is not None and (item.pos().x() != p[0] or item.pos().y() != p[1]):
                item.move_to(p[0], p[1])

    # ----- analysis: shapes, shortcut chips, errors ---------------------------------------------
    @property
    def instance(self) -> str | None:
        """Block tabs: the path of the instance whose shapes are shown (None: the first one);
        kept by the Document so that the inspector shows the same instance."""
        return self.document.shown_instances.get(self.block) if self.block is not None else None

    def instances(self, analysis) -> list[tuple[str, GraphInfo]]:
        """Block tabs: every instance of the block in the network, as (module path, its GraphInfo)."""
        return block_instances(analysis, self.block) if self.block is not None else []

    def graph_info(self, analysis) -> GraphInfo | None:
        if self.block is None:
            return analysis.root
        if self.instance is not None:
            for path, info in self.instances(analysis):
                if path == self.instance:
                    return info
        return analysis.block_infos.get(self.block)

    def set_instance(self, path: str | None) -> None:
        """Show the shapes (and shortcut projections) of one instance of the block."""
        if self.block is not None and path != self.instance:
            self.document.set_shown_instance(self.block, path)  # -> instance_changed -> redraw

    def _on_instance_changed(self, block: str) -> None:
        if block == self.block:
            self._on_analysis(self.document.analysis)

    def _shortcut_infos(self, analysis) -> dict[str, ShortcutInfo]:
        info = self.graph_info(analysis)
        return dict(info.shortcuts) if info is not None else {}

    def _on_analysis(self, analysis) -> None:
        if not self.is_alive():
            return
        self.sync_positions()
        self.refresh_stages()
        info = self.graph_info(analysis)
        node_err: dict[str, list[str]] = {}
        node_warn: dict[str, list[str]] = {}
        edge_err: dict[str, str] = {}
        shown = self.document.shown_instance(self.block) if self.block is not None else None
        for d in analysis.diagnostics_for(self.block):
            message, is_error = d.message, d.is_error
            if is_error and shown is not None:
                # One definition, several shapes: an error of other instances only is a warning here.
                target = d.node or (self.graph.edges[d.edge].dst if d.edge in self.graph.edges else None)
                failing = failing_instances(analysis, self.block, target) if target else []
                if failing and shown not in failing:
                    is_error = False
                    message = f"In {', '.join(failing[:3])}{' …' if len(failing) > 3 else ''}: {message}"
            if d.edge is not None and is_error:
                edge_err.setdefault(d.edge, message)
            if d.node is not None:
                (node_err if is_error else node_warn).setdefault(d.node, []).append(message)
        for node_id, item in self.nodes.items():
            ni = info.nodes.get(node_id) if info is not None else None
            shape = fmt(ni.out_shape) if ni is not None and ni.out_shape is not None else ""
            item.set_analysis(shape, node_err.get(node_id, []), node_warn.get(node_id, []))
        shortcuts = self._shortcut_infos(analysis)
        g = self.graph
        for edge_id, item in self.edges.items():
            e = g.edges.get(edge_id)
            if e is None:
                continue
            src = info.nodes.get(e.src) if info is not None else None
            shape = info.edge_shapes.get(edge_id) if info is not None else None
            if shape is None and src is not None:
                shape = src.out_shape
            sc_info = shortcuts.get(edge_id) if e.is_shortcut else None
            chip = shortcut_chip(e, sc_info) if e.is_shortcut else ""
            note = ""
            if sc_info is not None:
                where = f"in {shown}" if shown else "here"
                note = (
                    f"Applied {where}: {PROJECTION_LABELS.get(sc_info.applied, sc_info.applied)} "
                    f"({fmt(sc_info.in_shape)} \u2192 {fmt(sc_info.out_shape)})"
                )
            item.set_analysis(fmt(shape) if shape is not None else "", chip, edge_err.get(edge_id, ""), note)

    # ----- selection <-> document ------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        """Selected nodes in the graph's order (selectedItems' order is arbitrary)."""
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [n for n in self.graph.nodes if n in chosen] if chosen and self.is_alive() else []

    def selected_edge_ids(self) -> list[str]:
        chosen = {i.edge_id for i in self.selectedItems() if isinstance(i, EdgeItem)}
        return [e for e in self.graph.edges if e in chosen] if chosen and self.is_alive() else []

    def _on_scene_selection(self) -> None:
        if self._syncing_selection:
            return
        self.document.set_selection(self.block, self.selected_node_ids(), self.selected_edge_ids())

    def _on_document_selection(self) -> None:
        block, nodes, edges = self.document.selection
        if block != self.block:
            return
        if set(nodes) == set(self.selected_node_ids()) and set(edges) == set(self.selected_edge_ids()):
            return
        self.select(nodes, edges)

    def select(self, node_ids, edge_ids=()) -> None:
        self._syncing_selection = True
        try:
            self.clearSelection()
            for n in node_ids:
                if n in self.nodes:
                    self.nodes[n].setSelected(True)
            for e in edge_ids:
                if e in self.edges:
                    self.edges[e].setSelected(True)
        finally:
            self._syncing_selection = False
        self._on_scene_selection()

    # ----- look ------------------------------------------------------------------------------------
    def set_theme(self, theme: CanvasTheme) -> None:
        self.theme = theme
        for item in list(self.nodes.values()) + list(self.edges.values()) + list(self.stages.values()):
            item.set_theme(theme)

    def free_spot(self, x: float, y: float) -> tuple[float, float]:
        """The top-left of a new card near (x, y) that touches no card and no edge: a node dropped
        on an edge lines its ports up with it and looks connected when it is not (issue 25). Tries
        (x, y), then a card's width to the right, to the left, two to the right, ..."""
        step = WIDTH + 48
        for k in range(24):
            dx = ((k + 1) // 2) * step * (1 if k % 2 else -1)
            rect = QRectF(x + dx, y, WIDTH, HEIGHT).adjusted(-16, -24, 16, 24)
            if not any(self._blocks_spot(item) for item in self.items(rect)):
                return (x + dx, y)
        return (x, y)

    @staticmethod
    def _blocks_spot(item) -> bool:
        while item.parentItem() is not None:
            item = item.parentItem()
        return isinstance(item, (NodeItem, EdgeItem))

    def nodes_rect(self, node_ids=None) -> QRectF:
        items = [self.nodes[n] for n in (node_ids if node_ids is not None else self.nodes) if n in self.nodes]
        rect = QRectF()
        for it in items:
            rect = rect.united(it.sceneBoundingRect())
        for e in self.edges.values():
            inside = node_ids is None or (e.src.node_id in node_ids and e.dst.node_id in node_ids)
            if inside and e.is_shortcut:
                rect = rect.united(e.sceneBoundingRect())
        return rect
