"""Undo commands: every edit in the editor is one QUndoCommand (docs/style.md).

``EditCommand`` wraps a reversible ``graph.edits.Edit`` (the model side),
pushed by ``Document.push``; node drags are ``SetPositions`` edits
(``Document.move_nodes``) whose commands merge consecutive drags of the same
nodes. The composite edits (add, connect, delete, paste, group into block) are built by
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
        self,
        document: Document,
        edit: Edit,
        label: str | None = None,
        applied: bool = False,
        merge: Any = None,
    ) -> None:
        super().__init__(label or getattr(edit, "label", None) or "Edit")
        self.document = document
        self.edit = edit
        self._skip_redo = applied
        self.merge = merge  # commands with equal keys merge (drags of the same nodes); None: never

    def id(self) -> int:
        return MOVE_ID if self.merge is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """A later drag of the same nodes: one step that undoes to where the first began."""
        if not isinstance(other, EditCommand) or other.merge is None or other.merge != self.merge:
            return False
        if not isinstance(self.edit, SetPositions) or not isinstance(other.edit, SetPositions):
            return False
        merged = SetPositions(self.edit.block, dict(other.edit.new))
        merged._old = self.edit._old
        self.edit = merged
        return True

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.edit.apply(self.document.project)

    def undo(self) -> None:
        self.edit.revert(self.document.project)
