"""The main window's edit actions on the canvas: the Edit menu's Cut, Copy, Paste... run the open
canvas view's own (the code its keys run); freezing the selection or all but the head (one undo
step each); a palette double-click's node at the centre of the visible canvas."""

from __future__ import annotations


class EditActions:
    """Edits that act on the window's canvas and document."""

    def __init__(self, window) -> None:
        self.window = window

    def current_block(self) -> str | None:
        view = self.view()
        return view.block if view is not None else self.window.document.selection[0]

    def view(self):
        fn = getattr(self.window.canvas, "current_view", None)
        return fn() if fn is not None else None

    def view_call(self, method: str) -> None:
        """Edit actions are the canvas view's own (the same code its keys run)."""
        view = self.view()
        fn = getattr(view, method, None) if view is not None else None
        if fn is not None:
            fn()

    def freeze(self, frozen: bool) -> None:
        """Freeze (or unfreeze) the selected nodes of the open canvas; a block instance freezes
        everything inside it. One undo step."""
        view = self.view()
        if view is None:
            return
        self._set_frozen(view.block, view.graph_scene().selected_node_ids(), frozen, "selection")

    def freeze_backbone(self) -> None:
        """Transfer learning in one step: freeze every node of the network that has parameters
        except the Linear head, and unfreeze the head (a head for a new class count trains)."""
        graph = self.window.document.project.graph
        body = [n.id for n in graph.nodes.values() if n.type != "Linear"]
        head = [n.id for n in graph.nodes.values() if n.type == "Linear"]
        self._set_frozen(None, body, True, "all but the head", also=[(i, False) for i in head])

    def _set_frozen(self, block, node_ids, frozen: bool, what: str, also=()) -> None:
        from graph import edits as E

        graph = self.window.document.graph_of(block)
        wanted = [(i, frozen) for i in node_ids] + list(also)
        changes = [
            E.SetNodeField(block, i, "frozen", v)
            for i, v in wanted
            if i in graph.nodes
            and graph.nodes[i].frozen != v
            and graph.nodes[i].type not in ("Input", "Output")
        ]
        if not changes:
            self.window.statusBar().showMessage(
                "Nothing to change: " + ("frozen" if frozen else "not frozen"), 3000
            )
            return
        label = f"{'Freeze' if frozen else 'Unfreeze'} {what}"
        self.window.document.push(E.Composite(label, changes), label)
        self.window.statusBar().showMessage(f"{label}: {len(changes)} node(s)", 3000)

    def add_node_at_centre(self, type_name: str) -> None:
        """Palette double-click: add a node at the centre of the visible canvas."""
        from app.composite import new_node_edit

        block = self.current_block()
        pos = None
        view = self.view()
        if view is not None:
            c = view.mapToScene(view.viewport().rect().center())
            x, y = view.graph_scene().free_spot(c.x() - 100, c.y() - 27)  # never on a card nor an edge
            pos = (round(x), round(y))

        from app.composite import EditRefused

        try:
            edit = new_node_edit(self.window.document.project, block, type_name, pos)
        except EditRefused as exc:
            self.window.statusBar().showMessage(str(exc), 6000)
            return
        self.window.document.push(edit, edit.label)
        self.window.document.set_selection(block, [edit.node.id], [])
