"""Dragging an edge out of a port on a GraphView: the compatible ports highlight and the others
dim, a drop near a compatible port snaps to it, a drop on nothing opens quick add (from an output)
or disconnects (an edge picked up by its input end), and a refused drop says why on the view's
``status_message``."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from app import composite as X
from app.canvas.port_item import PortItem
from graph import edits as E

SNAP_PX = 22  # a drop this close to a compatible port connects to it


class PortDrag:
    """One view's edge drag: its context (``ctx``, None when no drag is going) and the dashed
    path that follows the cursor."""

    def __init__(self, view) -> None:
        self.view = view
        self.ctx: dict | None = None
        self.temp = QGraphicsPathItem()
        self.temp.setZValue(10)

    @property
    def active(self) -> bool:
        return self.ctx is not None

    @property
    def _scene(self):
        return self.view.graph_scene()

    def start(self, port: PortItem, at: QPointF) -> None:
        g = self._scene.graph
        ctx = {"replace": None}
        if port.is_output:
            ctx.update(src=port.node_id, src_port=port.index, forward=True)
        else:
            existing = [e for e in g.in_edges(port.node_id) if e.dst_port == port.index]
            if existing:  # pick up the edge from its input end
                e = existing[0]
                ctx.update(
                    src=e.src,
                    src_port=e.src_port,
                    forward=True,
                    replace=e.id,
                    origin=(port.node_id, port.index),
                )
            else:
                ctx.update(dst=port.node_id, dst_port=port.index, forward=False)
        self.ctx = ctx
        self._mark_ports()
        if ctx["replace"] and ctx["replace"] in self._scene.edges:
            self._scene.edges[ctx["replace"]].setOpacity(0.25)
        pen = QPen(self._scene.theme.color("port_ok"), 1.8, Qt.PenStyle.DashLine)
        self.temp.setPen(pen)
        if self.temp.scene() is None:
            self._scene.addItem(self.temp)
        self.drag(at)

    def _anchor(self) -> QPointF:
        c = self.ctx
        if c["forward"]:
            return self._scene.nodes[c["src"]].out_port_pos()
        return self._scene.nodes[c["dst"]].in_port_pos(c["dst_port"])

    def _mark_ports(self) -> None:
        c = self.ctx
        g = self._scene.graph
        if c["forward"]:
            blocked = _closure(g, c["src"], upstream=True)
            for item in self._scene.nodes.values():
                for p in item.ports():
                    ok = (not p.is_output) and item.node_id not in blocked
                    p.set_state("ok" if ok else "dim")
        else:
            blocked = _closure(g, c["dst"], upstream=False)
            for item in self._scene.nodes.values():
                for p in item.ports():
                    ok = p.is_output and item.node_id not in blocked
                    p.set_state("ok" if ok else "dim")

    def _clear_ports(self) -> None:
        for item in self._scene.nodes.values():
            for p in item.ports():
                p.set_state("normal")

    def nearest_port(self, scene_pos: QPointF, only_ok: bool = True) -> PortItem | None:
        radius = SNAP_PX / max(self.view.zoom(), 0.05)
        best, best_d = None, radius
        area = QRectF(scene_pos.x() - radius, scene_pos.y() - radius, 2 * radius, 2 * radius)
        for it in self._scene.items(area):
            if isinstance(it, PortItem) and (it.state == "ok" or not only_ok):
                d = QLineF(it.scenePos(), scene_pos).length()
                if d <= best_d:
                    best, best_d = it, d
        return best

    def drag(self, at: QPointF) -> None:
        a = self._anchor()
        snap = self.nearest_port(at)
        b = snap.scenePos() if snap is not None else at
        if not self.ctx["forward"]:
            a, b = b, a
        c = max(30.0, abs(b.y() - a.y()) * 0.5)
        path = QPainterPath(a)
        path.cubicTo(QPointF(a.x(), a.y() + c), QPointF(b.x(), b.y() - c), b)
        self.temp.setPath(path)

    def end(self) -> dict:
        ctx = self.ctx
        self.ctx = None
        self._clear_ports()
        if self.temp.scene() is not None:
            self._scene.removeItem(self.temp)
        if ctx and ctx.get("replace") in self._scene.edges:
            self._scene.edges[ctx["replace"]].setOpacity(1.0)
        return ctx

    def finish(self, pos) -> None:
        view = self.view
        scene_pos = view.mapToScene(pos)
        target = self.nearest_port(scene_pos)
        if target is None:
            under = view._item_at(pos)
            target = under if isinstance(under, PortItem) else None
        ctx = self.end()
        if target is None:
            if ctx["replace"]:
                view._push(E.RemoveEdge(view.block, ctx["replace"]), "Disconnect")
            elif ctx["forward"]:
                view.open_quick_add(pos, connect_from=(ctx["src"], ctx["src_port"]))
            return
        if ctx["forward"]:
            if target.is_output:
                view.status_message.emit("Drop the edge on an input port (the top edge of a node).")
                return
            src, src_port, dst, dst_port = ctx["src"], ctx["src_port"], target.node_id, target.index
        else:
            if not target.is_output:
                view.status_message.emit("Drop the edge on an output port (the bottom edge of a node).")
                return
            src, src_port, dst, dst_port = target.node_id, target.index, ctx["dst"], ctx["dst_port"]
        if ctx["replace"] and ctx.get("origin") == (dst, dst_port):
            return  # put back where it was
        edit = view._try(lambda: X.connect_edit(view.project, view.block, src, src_port, dst, dst_port))
        if edit is None:
            return
        edit, edge_id = edit
        if ctx["replace"]:
            edit = E.Composite("Reconnect", [E.RemoveEdge(view.block, ctx["replace"]), edit])
        if view._push(edit):
            e = self._scene.graph.edges.get(edge_id)
            if e is not None and e.is_shortcut:
                view.status_message.emit(
                    f"Connected as a shortcut ({e.name}); set its projection in the inspector or the "
                    "edge's context menu."
                )


def _closure(graph, start: str, upstream: bool) -> set[str]:
    """``start`` and every node above it (upstream) or below it."""
    nxt: dict[str, list[str]] = {}
    for e in graph.edges.values():
        a, b = (e.dst, e.src) if upstream else (e.src, e.dst)
        nxt.setdefault(a, []).append(b)
    seen, todo = {start}, [start]
    while todo:
        n = todo.pop()
        for m in nxt.get(n, ()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen
