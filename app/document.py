"""The open project as the editor sees it: one adapter from model events to Qt signals.

``Document`` owns the project, its undo stack, the current selection and the
latest shape analysis. It subscribes to the model's own events (the network
graph's, every block body's and the project's) and turns them into Qt
signals (docs/style.md: model apart from view). Views redraw from those signals,
never from the command that caused a change.

Signals
  model_event(block, name, args)  each model event as it happens (block None = the network)
  positions_changed(block, ids)   canvas positions in ``project.ui`` changed
  blocks_changed()                a block definition was added, removed or changed
  project_replaced()              new/open: every view rebuilds
  changed()                       after any model change, once re-analysis is done
  analysis_changed(analysis)      with ``changed``
  selection_changed()
  modified_changed(bool)
  focus_requested(block, node_id) the Problems panel asks the canvas to show a node
  block_open_requested(name)      open a block definition in a canvas tab
  instance_changed(block)         block tabs: the instance whose shapes are shown changed
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

import app.qt_compat  # noqa: F401  (PySide6 6.12 emit() refcount bug; see there)
from graph import edits as E
from graph.fixes import FixAction, build_fix
from graph.model import Project
from graph.shapes import Analysis, GraphInfo, analyze

Selection = tuple[str | None, list[str], list[str]]


class Document(QObject):
    model_event = Signal(object, str, object)
    positions_changed = Signal(object, list)
    blocks_changed = Signal()
    project_replaced = Signal()
    changed = Signal()
    analysis_changed = Signal(object)
    selection_changed = Signal()
    modified_changed = Signal(bool)
    focus_requested = Signal(object, str)
    block_open_requested = Signal(str)
    instance_changed = Signal(str)

    def __init__(
        self, project: Project | None = None, path: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.project: Project = project if project is not None else Project()
        self.path: str | None = path
        self.undo_stack = QUndoStack(self)
        self.selection: Selection = (None, [], [])
        self.shown_instances: dict[str, str] = {}  # block -> path of the instance whose shapes are shown
        self._dirty = False
        self._subscriptions: list[tuple[Any, str, Any]] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self.undo_stack.indexChanged.connect(self._on_index_changed)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self._subscribe()
        self.analysis: Analysis = analyze(self.project)

    # ----- editing ----------------------------------------------------------------
    def push(self, edit: E.Edit, label: str | None = None, merge: Any = None) -> None:
        """Apply ``edit`` and put it on the undo stack (shown as "Undo <label>").

        The edit is applied here first, so an edit that raises leaves nothing
        on the stack; the command's first ``redo`` then does nothing.
        """
        from app.commands import EditCommand

        edit.apply(self.project)
        self.undo_stack.push(EditCommand(self, edit, label, applied=True, merge=merge))
        self._flush()

    def apply_fix(self, action: FixAction | dict, label: str | None = None) -> None:
        """Apply a diagnostic's fix action (typed, or its data form) as one undoable step labelled with
        the fix."""
        edit = build_fix(self.project, action)
        if label is None and isinstance(action, dict):
            label = action.get("label")
        if label is None:
            label = next(
                (f.label for d in self.analysis.diagnostics for f in d.fixes if f.action == action),
                getattr(edit, "label", "Apply fix"),
            )
        self.push(edit, label)

    def set_positions(self, block: str | None, positions: dict[str, Any]) -> None:
        """Write canvas positions (model data in ``project.ui``) and announce them."""
        store = E.positions(self.project, block)
        for node_id, pos in positions.items():
            store[node_id] = [float(pos[0]), float(pos[1])]
        self.project.events.emit("positions_changed", block, list(positions))

    def move_nodes(self, block: str | None, new: dict[str, Any]) -> None:
        """Nodes dragged on the canvas: one undoable edit, merged with the next drag of the same nodes."""
        n = len(new)
        self.push(
            E.SetPositions(block, {k: (float(v[0]), float(v[1])) for k, v in new.items()}),
            "Move node" if n == 1 else f"Move {n} nodes",
            merge=("move", block, frozenset(new)),
        )

    def layout_missing(self, block: str | None) -> None:
        """Give the nodes of a graph that have no canvas position one (a file without positions, a node
        added without one), in ``project.ui``, announced as ``positions_changed``. Not an undo step:
        placing what has no place changes nothing the user made."""
        from app.canvas.layout import place_missing

        g = self.project.graph_of(block)
        store = E.positions(self.project, block)
        missing = place_missing(g, store)
        if missing:
            store.update(missing)
            self.project.events.emit("positions_changed", block, list(missing))

    # ----- selection, focus, tabs ---------------------------------------------------
    def set_selection(
        self, block: str | None, node_ids: list[str] | tuple = (), edge_ids: list[str] | tuple = ()
    ) -> None:
        new = (block, list(node_ids), list(edge_ids))
        if new != self.selection:
            self.selection = new
            self.selection_changed.emit()

    def request_focus(self, block: str | None, node_id: str) -> None:
        self.focus_requested.emit(block, node_id)

    def request_open_block(self, name: str) -> None:
        self.block_open_requested.emit(name)

    # ----- block instances: one definition, several shapes --------------------------
    def instances(self, block: str) -> list[tuple[str, GraphInfo]]:
        """(module-style path, GraphInfo) of every instance of ``block`` in the last analysis."""
        return block_instances(self.analysis, block) if self.analysis is not None else []

    def shown_instance(self, block: str) -> str | None:
        """The instance whose shapes the block's tab and the inspector show (default: the first)."""
        paths = [p for p, _ in self.instances(block)]
        chosen = self.shown_instances.get(block)
        return chosen if chosen in paths else (paths[0] if paths else None)

    def set_shown_instance(self, block: str, path: str | None) -> None:
        if path is None:
            changed = self.shown_instances.pop(block, None) is not None
        else:
            changed = self.shown_instances.get(block) != path
            self.shown_instances[block] = path
        if changed:
            self.instance_changed.emit(block)

    def open_instance(self, block: str | None, node_id: str) -> None:
        """Open the definition of the block instance ``node_id`` (in ``block``'s graph) with this
        instance's shapes shown: double-clicking layer3_0 shows BasicBlock as layer3_0 sees it."""
        node = self.graph_of(block).nodes.get(node_id)
        if node is None or node.block_name is None:
            return
        outer = self.shown_instance(block) if block is not None else ""
        if outer is not None:
            path = f"{outer}.{node.name}" if outer else node.name
            if path in [p for p, _ in self.instances(node.block_name)]:
                self.set_shown_instance(node.block_name, path)
        self.request_open_block(node.block_name)

    def block_info(self, block: str | None) -> GraphInfo | None:
        """The analysis of the network (None) or of the shown instance of ``block``."""
        if self.analysis is None:
            return None
        if block is None:
            return self.analysis.root
        path = self.shown_instances.get(block)
        if path is not None:
            for p, info in self.instances(block):
                if p == path:
                    return info
        return self.analysis.block_infos.get(block)

    # ----- whole project ------------------------------------------------------------
    def replace_project(self, project: Project, path: str | None = None) -> None:
        """New or open: swap the project, clear undo history and selection."""
        self._unsubscribe()
        self.undo_stack.clear()
        self.project = project
        self.path = path
        self._subscribe()
        self.selection = (None, [], [])
        self.shown_instances = {}
        self.analysis = analyze(project)
        self._dirty = False
        self.undo_stack.setClean()
        self.project_replaced.emit()
        self.selection_changed.emit()
        self.analysis_changed.emit(self.analysis)
        self.changed.emit()
        self.modified_changed.emit(False)

    def mark_saved(self, path: str | None = None) -> None:
        if path is not None:
            self.path = path
        self.undo_stack.setClean()

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def graph_of(self, block: str | None):
        return self.project.graph_of(block)

    def reanalyze(self) -> None:
        self._dirty = True
        self._flush()

    # ----- model events -> Qt signals ------------------------------------------------
    def _subscribe(self) -> None:
        self._listen(self.project.events, self._on_project_event)
        self._listen_graph(None)
        for name in list(self.project.blocks):
            self._listen_graph(name)

    def _listen(self, events, callback) -> None:
        events.connect("*", callback)
        self._subscriptions.append((events, "*", callback))

    def _listen_graph(self, block: str | None) -> None:
        graph = self.project.graph_of(block)

        def on_event(name: str, *args: Any, _block: str | None = block) -> None:
            self._on_graph_event(_block, name, args)

        on_event.graph = graph  # type: ignore[attr-defined]
        self._listen(graph.events, on_event)

    def _unlisten_graph(self, graph) -> None:
        keep = []
        for events, name, cb in self._subscriptions:
            if getattr(cb, "graph", None) is graph:
                events.disconnect(name, cb)
            else:
                keep.append((events, name, cb))
        self._subscriptions = keep

    def _unsubscribe(self) -> None:
        for events, name, cb in self._subscriptions:
            events.disconnect(name, cb)
        self._subscriptions = []

    def _on_graph_event(self, block: str | None, name: str, args: tuple) -> None:
        self._mark_dirty()
        self.model_event.emit(block, name, args)

    def _on_project_event(self, name: str, *args: Any) -> None:
        if name == "positions_changed":
            self.positions_changed.emit(args[0], list(args[1]))
            return
        if name == "block_added":
            self._listen_graph(args[0].name)
        elif name == "block_removed":
            self._unlisten_graph(args[0].graph)
        self._mark_dirty()
        if name.startswith("block_"):
            self.blocks_changed.emit()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def _flush(self) -> None:
        """Re-analyse after an edit (once per edit, however many events it fired)."""
        self._flush_timer.stop()
        if not self._dirty:
            return
        self._dirty = False
        self.analysis = analyze(self.project)
        self.analysis_changed.emit(self.analysis)
        self.changed.emit()

    def _on_index_changed(self, _index: int) -> None:
        self._flush()

    def _on_clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)


def block_instances(analysis: Analysis, block: str) -> list[tuple[str, GraphInfo]]:
    """(module-style path, GraphInfo) of every instance of ``block``, in network order."""
    out: list[tuple[str, GraphInfo]] = []

    def walk(info: GraphInfo, prefix: str) -> None:
        for node_id in info.order:
            ni = info.nodes.get(node_id)
            if ni is None or ni.children is None:
                continue
            path = prefix + ni.node.name
            if ni.children.block == block:
                out.append((path, ni.children))
            walk(ni.children, path + ".")

    walk(analysis.root, "")
    return out


def failing_instances(analysis: Analysis, block: str, node_id: str) -> list[str]:
    """Paths of the instances of ``block`` whose analysis marks ``node_id`` as failing (one
    definition, several shapes: often only the stride-2 instances fail)."""
    return [
        path
        for path, info in block_instances(analysis, block)
        if (ni := info.nodes.get(node_id)) is not None and ni.error
    ]
