"""Undo commands: every edit in the editor is one QUndoCommand (STYLE.md).

``EditCommand`` wraps a reversible ``graph.edits.Edit`` (the model side);
``MoveNodesCommand`` moves nodes on the canvas (positions live in
``project.ui``) and merges consecutive moves of the same nodes. The
composite edits (add, connect, delete, paste, group into block) are built by
the helpers in ``app.composite`` and re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from app.composite import (  # noqa: F401  (re-exported: the commands' helpers)
    EditRefused,
    SetPositions,
    add_connected_edit,
    clipboard_data,
    connect_edit,
    delete_edit,
    group_edit,
    new_node_edit,
    paste_edit,
    set_edge_kind_edit,
)
from graph.edits import Edit

if TYPE_CHECKING:
    from app.document import Document

MOVE_ID = 0x5357  # commands with the same id() may merge


class EditCommand(QUndoCommand):
    """redo = ``edit.apply(project)``, undo = ``edit.revert(project)``.

    ``applied=True`` means the edit has already been applied (``Document.push``
    applies first so that a failing edit never reaches the stack); the first
    ``redo`` that ``QUndoStack.push`` runs is then skipped.
    """

    def __init__(
        self, document: Document, edit: Edit, label: str | None = None, applied: bool = False
    ) -> None:
        super().__init__(label or getattr(edit, "label", None) or "Edit")
        self.document = document
        self.edit = edit
        self._skip_redo = applied

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.edit.apply(self.document.project)

    def undo(self) -> None:
        self.edit.revert(self.document.project)


class MoveNodesCommand(QUndoCommand):
    """Move nodes of one graph: ``old``/``new`` map node id -> (x, y).

    Pushed on mouse release with the positions captured at press; merges
    with the next move of exactly the same nodes.
    """

    def __init__(
        self,
        document: Document,
        block: str | None,
        old: dict[str, Any],
        new: dict[str, Any],
        label: str | None = None,
    ) -> None:
        n = len(new)
        super().__init__(label or ("Move node" if n == 1 else f"Move {n} nodes"))
        self.document = document
        self.block = block
        self.old = {k: (float(v[0]), float(v[1])) for k, v in old.items()}
        self.new = {k: (float(v[0]), float(v[1])) for k, v in new.items()}

    def id(self) -> int:
        return MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveNodesCommand) or other.block != self.block:
            return False
        if set(other.new) != set(self.new):
            return False
        self.new = dict(other.new)
        return True

    def redo(self) -> None:
        self._apply(self.new)

    def undo(self) -> None:
        self._apply(self.old)

    def _apply(self, where: dict[str, tuple[float, float]]) -> None:
        graph = self.document.project.graph_of(self.block)
        self.document.set_positions(self.block, {k: v for k, v in where.items() if k in graph.nodes})
