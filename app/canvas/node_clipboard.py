"""Copy, cut, paste and duplicate of a GraphView's selected nodes. The nodes go to the system
clipboard as ``application/x-skipwire-nodes`` (JSON) and to a process-wide fallback, for a
clipboard that cannot hold them; a refusal goes to the view's ``status_message``."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from app import composite as X

CLIP_MIME = "application/x-skipwire-nodes"
_clipboard_fallback: dict | None = None


class NodeClipboard:
    """The clipboard actions of one view (its keys, Edit menu and context menu run them)."""

    def __init__(self, view) -> None:
        self.view = view

    def copy(self) -> bool:
        global _clipboard_fallback
        view = self.view
        nodes = view.graph_scene().selected_node_ids()
        if not nodes:
            view.status_message.emit("Select nodes to copy.")
            return False
        data = X.clipboard_data(view.project, view.block, nodes)
        _clipboard_fallback = data
        mime = QMimeData()
        mime.setData(CLIP_MIME, json.dumps(data).encode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        return True

    def cut(self) -> None:
        view = self.view
        if self.copy():
            nodes = view.graph_scene().selected_node_ids()
            edit = view._try(lambda: X.delete_edit(view.project, view.block, nodes, []))
            if edit is not None:
                view._push(edit, edit.label.replace("Delete", "Cut", 1))

    def contents(self) -> dict | None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasFormat(CLIP_MIME):
            try:
                return json.loads(bytes(mime.data(CLIP_MIME)).decode("utf-8"))
            except ValueError:
                return None
        return _clipboard_fallback

    def paste(self, data: dict | None = None) -> None:
        view = self.view
        data = data or self.contents()
        if not data:
            view.status_message.emit("The clipboard holds no nodes.")
            return
        built = view._try(lambda: X.paste_edit(view.project, view.block, data, (40.0, 40.0)))
        if built is not None and view._push(built[0]):
            view.graph_scene().select(built[1])

    def duplicate(self) -> None:
        view = self.view
        nodes = view.graph_scene().selected_node_ids()
        if not nodes:
            view.status_message.emit("Select nodes to duplicate.")
            return
        self.paste(X.clipboard_data(view.project, view.block, nodes))
