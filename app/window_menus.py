"""The main window's menu bar: File (New, Open, Open Recent, Open Example, Save, Export, Quit),
Edit, View and Help. The actions belong to the window and stay its attributes (``act_undo``,
``act_freeze``, ``recent_menu``...): the window enables them, tests and drivers trigger them."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence


def recent_label(path: str) -> str:
    """Open Recent's entry: the file name, then its folder (home as ~, long folders cut in the middle)."""
    folder = os.path.dirname(os.path.abspath(path))
    home = os.path.expanduser("~")
    if home not in ("", "/") and (folder == home or folder.startswith(home + os.sep)):
        folder = "~" + folder[len(home) :]
    if len(folder) > 48:
        folder = folder[:20] + "…" + folder[-27:]
    return f"{os.path.basename(path)}  —  {folder}".replace("&", "&&")


class WindowMenus:
    """Builds the window's menus once (``build``) and refills Open Recent when the list changes."""

    def __init__(self, window) -> None:
        self.window = window

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self.window)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def build(self) -> None:
        w = self.window
        mb = w.menuBar()
        self._build_file_menu(mb.addMenu("&File"))
        self._build_edit_menu(mb.addMenu("&Edit"))
        self._build_view_menu(mb.addMenu("&View"))
        h = mb.addMenu("&Help")
        self._action(h, "&Keyboard shortcuts", w.show_shortcuts, QKeySequence("F1"))
        self._action(h, "&About Skipwire", w.show_about)

    def _build_file_menu(self, f) -> None:
        w = self.window
        new_menu = f.addMenu("&New")
        w.act_new = self._action(
            new_menu,
            "From &template…",
            w.files_new,
            QKeySequence.StandardKey.New,
            "Start a project from a built-in network",
        )
        w.act_new_empty = self._action(
            new_menu,
            "&Empty network (Input → Output)",
            w.files_new_empty,
            QKeySequence("Ctrl+Shift+N"),
            "Start from an Input and an Output; drag layers in from the palette",
        )
        w.act_open = self._action(f, "&Open…", w.files_open, QKeySequence.StandardKey.Open)
        w.act_import_python = self._action(
            f, "&Import from Python…", w.files_import_python, tip="Trace a PyTorch model into a project"
        )
        w.recent_menu = f.addMenu("Open &Recent")
        w.examples_menu = f.addMenu("Open E&xample")
        self.fill_examples()
        f.addSeparator()
        w.act_save = self._action(f, "&Save", w.files.save, QKeySequence.StandardKey.Save)
        w.act_save_as = self._action(f, "Save &As…", lambda: w.files.save_as(), QKeySequence("Ctrl+Shift+S"))
        f.addSeparator()
        ex = f.addMenu("&Export")
        w.act_export_code = self._action(ex, "PyTorch &code (.py)…", lambda: w.files.export_code())
        w.act_export_onnx = self._action(ex, "&ONNX…", lambda: w.files.export_onnx())
        ex.addSeparator()
        self._action(ex, "Graph as &PNG…", lambda: w.files.export_image("png"))
        self._action(ex, "Graph as &SVG…", lambda: w.files.export_image("svg"))
        f.addSeparator()
        self._action(f, "&Quit", w.close, QKeySequence("Ctrl+Q"))

    def _build_edit_menu(self, e) -> None:
        w = self.window
        w.act_undo = w.document.undo_stack.createUndoAction(w, "Undo")
        w.act_undo.setShortcut(QKeySequence.StandardKey.Undo)
        w.act_redo = w.document.undo_stack.createRedoAction(w, "Redo")
        w.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(w.act_undo)
        e.addAction(w.act_redo)
        e.addSeparator()
        w.act_cut = self._action(e, "Cu&t", w.edit_cut, QKeySequence.StandardKey.Cut)
        w.act_copy = self._action(e, "&Copy", w.edit_copy, QKeySequence.StandardKey.Copy)
        w.act_paste = self._action(e, "&Paste", w.edit_paste, QKeySequence.StandardKey.Paste)
        w.act_duplicate = self._action(e, "D&uplicate", w.edit_duplicate, QKeySequence("Ctrl+D"))
        w.act_delete = self._action(e, "&Delete", w.edit_delete, QKeySequence.StandardKey.Delete)
        e.addSeparator()
        w.act_group = self._action(
            e,
            "&Group into block",
            w.edit_group,
            QKeySequence("Ctrl+G"),
            "Make a reusable block from the selection (one input, one output)",
        )
        w.act_select_all = self._action(
            e, "Select &all", w.edit_select_all, QKeySequence.StandardKey.SelectAll
        )
        e.addSeparator()
        w.act_freeze = self._action(
            e,
            "&Freeze selection",
            lambda: w.edit_freeze(True),
            tip="The selected layers and blocks keep their weights while training (one undo step)",
        )
        w.act_unfreeze = self._action(
            e, "Un&freeze selection", lambda: w.edit_freeze(False), tip="The selected layers train again"
        )
        w.act_freeze_backbone = self._action(
            e,
            "Freeze all but the &head",
            w.edit_freeze_backbone,
            tip="Fine-tuning: every layer and block of the network keeps its weights except the Linear head",
        )
        for a in (
            w.act_cut,
            w.act_copy,
            w.act_paste,
            w.act_duplicate,
            w.act_delete,
            w.act_select_all,
        ):
            # Only while the canvas has focus, so text fields keep their own Ctrl+C, Delete, Ctrl+A.
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.canvas.addAction(a)

    def _build_view_menu(self, v) -> None:
        w = self.window
        w.act_frame = self._action(v, "&Frame all", w.view_frame_all, QKeySequence("Home"))
        w.act_frame_sel = self._action(
            v, "Frame &selection", lambda: w.edits.view_call("frame_selection"), QKeySequence("F")
        )
        w.act_layout = self._action(v, "&Auto-layout", w.view_auto_layout, QKeySequence("L"))
        for a in (w.act_frame_sel, w.act_layout):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            w.canvas.addAction(a)
        w.act_minimap = self._action(
            v,
            "&Minimap",
            w.toggle_minimap,
            tip="The small map of the whole graph (it keeps off the cards)",
        )
        w.act_minimap.setCheckable(True)
        w.act_minimap.setChecked(str(w.settings.value("view/minimap", "true")).lower() != "false")
        w._apply_minimap()
        v.addSeparator()
        w.act_theme = self._action(v, "&Light theme", w.toggle_theme, QKeySequence("Ctrl+Shift+T"))
        w.act_theme.setCheckable(True)
        v.addSeparator()
        w.act_reset_layout = self._action(
            v, "&Reset layout", w.reset_layout, tip="Put every panel back in its place and size"
        )
        panels = v.addMenu("&Panels")
        for dock in (w.palette_dock, w.inspector_dock, w.bottom_dock):
            a = dock.toggleViewAction()
            if dock is w.bottom_dock:
                a.setText("Problems, Code, Summary, Training")
            panels.addAction(a)
        group = QActionGroup(w)
        for i, name in enumerate(("Problems", "Code", "Summary", "Training")):
            a = QAction(f"Show {name}", w, shortcut=QKeySequence(f"Alt+{i + 1}"))
            a.triggered.connect(lambda _=False, idx=i: w.show_bottom_tab(idx))
            group.addAction(a)
            panels.addAction(a)

    def fill_recent(self, files: list) -> None:
        w = self.window
        w.recent_menu.clear()
        for path in files:
            a = w.recent_menu.addAction(recent_label(path))  # the folder tells same names apart
            a.setToolTip(path)
            a.setStatusTip(path)
            a.triggered.connect(lambda _=False, p=path: w.files.open(p))
        if files:
            w.recent_menu.addSeparator()
            w.recent_menu.addAction("Clear list", lambda: (w.settings.clear_recent(), self.fill_recent([])))
        w.recent_menu.setEnabled(bool(files))

    def fill_examples(self) -> None:
        """File ▸ Open Example: the projects in assets/examples (opened as files of their own)."""
        w = self.window
        from app.assets import examples

        for path in examples():
            a = w.examples_menu.addAction(path.stem.replace("_", " "))
            a.setStatusTip(str(path))
            a.triggered.connect(lambda _=False, p=str(path): w.open_example(p))
        w.examples_menu.setEnabled(bool(w.examples_menu.actions()))
