"""The editor's main window (``run_editor`` starts it: see app.launch).

Layout: palette dock on the left, the canvas in the centre, the inspector
dock on the right, and a bottom dock with tabs (Problems, Code, Summary,
Training).  torch and pyqtgraph are never imported here: the window shows
first, and features that need them import them when used."""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import app_style
from app.document import Document
from app.edit_actions import EditActions
from app.files import FileController
from app.panels.code_panel import CodePanel
from app.panels.inspector import InspectorPanel
from app.panels.palette import PalettePanel
from app.panels.problems import ProblemsPanel
from app.panels.summary_panel import SummaryPanel
from app.settings import Settings
from app.window_menus import WindowMenus, recent_label  # noqa: F401 (recent_label: its old home)
from graph.shapes import fmt
from graph.summary import human


def _canvas_class():
    from app.canvas.area import CanvasArea

    return CanvasArea


DOCK_MIN = {"palette": 170, "inspector": 250, "bottom": 140, "canvas": 320}  # px
# The window's own minimum, set explicitly so that no panel's contents can raise it (Qt's layout
# would, and a larger minimum grows the window): it fits a 1280x720 laptop screen with room for a
# window frame and a task bar. Every panel fits in it, scrolling where it must (ScrollPage).
MIN_WINDOW = (960, 560)  # px
DEFAULT_DOCKS = {"palette": 230, "inspector": 320, "bottom": 230}  # px: a fresh start's dock sizes


class ScrollPage(QScrollArea):
    """A bottom tab's page: it fills the dock and scrolls only where the dock is smaller than the
    page's minimum, so that no page (the Training tab's settings and plots, a sweep's chart) raises
    the dock's minimum and, through it, the window's (issue 25). Sized here rather than by
    ``widgetResizable``, which gives a page with a height-for-width layout (a wrapping toolbar) its
    preferred height and scrolls where nothing needs to."""

    def __init__(self, page: QWidget) -> None:
        super().__init__()
        self.page = page
        self.setWidget(page)
        self.setFrameShape(QFrame.Shape.NoFrame)
        page.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.page and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self.fit)  # after the page's layout has its new minimum
        return super().eventFilter(obj, event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def needed(self) -> QSize:
        """The page's minimum size (what it gets at the least)."""
        return self.page.minimumSizeHint().expandedTo(self.page.minimumSize())

    def fit(self) -> None:
        need = self.needed()
        room = self.maximumViewportSize()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        wide, tall = need.width() > room.width(), need.height() > room.height()
        if wide and not tall:
            tall = need.height() > room.height() - bar
        if tall and not wide:
            wide = need.width() > room.width() - bar
        w = room.width() - (bar if tall else 0)
        h = room.height() - (bar if wide else 0)
        self.page.resize(max(w, need.width()), max(h, need.height()))


class LazyTab(QWidget):
    """A tab whose panel is built the first time it is shown (or ``panel()`` is called): the
    Training tab's module and its imports stay off the start-up path."""

    def __init__(self, build) -> None:
        super().__init__()
        self._build = build
        self._panel: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def panel(self) -> QWidget:
        if self._panel is None:
            self._panel = self._build()
            self._layout.addWidget(self._panel)
        return self._panel

    def built(self) -> QWidget | None:
        return self._panel

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.panel()


def _inspect_panel(window: MainWindow) -> QWidget:
    from app.panels.inspect_panel import InspectPanel  # pyqtgraph here; torch on its worker thread

    return InspectPanel(window.document)


def _training_panel(window: MainWindow) -> QWidget:
    try:
        from app.training_ui import TrainingPanel
    except ImportError:
        label = QLabel("Training is not available in this build.", alignment=Qt.AlignmentFlag.AlignCenter)
        label.setProperty("role", "muted")
        return label
    panel = TrainingPanel(window.document, settings=window.settings)
    panel.open_project_requested.connect(window._open_run_project)  # a run's project.json
    return panel


class WelcomeBar(QFrame):
    """First launch: says what is on the canvas and offers the template gallery."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.setObjectName("welcomeBar")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 8, 6)
        text = QLabel(
            "<b>Welcome to Skipwire.</b> This is ResNet-20 for CIFAR-10, ready to train on the built-in "
            "synthetic data. Click a node to inspect it, or start from another network."
        )
        text.setWordWrap(True)
        lay.addWidget(text, 1)
        browse = QPushButton("Browse templates…")
        browse.clicked.connect(window.files_new)
        open_b = QPushButton("Open…")
        open_b.clicked.connect(window.files_open)
        close = QPushButton("×")
        close.setFixedWidth(28)
        close.setToolTip("Hide")
        close.clicked.connect(self.hide)
        for b in (browse, open_b, close):
            lay.addWidget(b)


class MainWindow(QMainWindow):
    def __init__(
        self,
        document: Document | None = None,
        settings: Settings | None = None,
        recovery_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.document = document or Document()
        self.setWindowTitle("Skipwire")
        from app.assets import app_icon

        self.setWindowIcon(app_icon())
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        try:
            self.canvas = _canvas_class()(self.document)
        except ImportError:  # the canvas package is not in this build yet
            self.canvas = QLabel(
                "The canvas is not available in this build.", alignment=Qt.AlignmentFlag.AlignCenter
            )
        self.welcome = WelcomeBar(self)
        self.welcome.hide()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.welcome)
        cl.addWidget(self.canvas, 1)
        self.setCentralWidget(central)

        self.files = FileController(self, self.document, self.settings, recovery_dir, canvas=self.canvas)
        self.palette_panel = PalettePanel(self.document)
        self.inspector = InspectorPanel(self.document)
        self.problems = ProblemsPanel(self.document)
        self.code_panel = CodePanel(self.document)
        self.summary_panel = SummaryPanel(self.document)
        self.training_tab = LazyTab(lambda: _training_panel(self))
        self.inspect_tab = LazyTab(lambda: _inspect_panel(self))

        self.palette_dock = self._dock(
            "Palette", "paletteDock", self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self._dock(
            "Inspector", "inspectorDock", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.setDocumentMode(True)
        for page, title in (
            (self.problems, "Problems"),
            (self.code_panel, "Code"),
            (self.summary_panel, "Summary"),
            (self.training_tab, "Training"),
            (self.inspect_tab, "Inspect"),
        ):
            self.bottom_tabs.addTab(ScrollPage(page), title)
        self.bottom_dock = self._dock(
            "Output", "bottomDock", self.bottom_tabs, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.bottom_dock.setTitleBarWidget(QWidget())  # the tabs are the title
        # a drag can squeeze a dock, never below what it needs to stay usable
        self.palette_dock.setMinimumWidth(DOCK_MIN["palette"])
        self.inspector_dock.setMinimumWidth(DOCK_MIN["inspector"])
        self.bottom_dock.setMinimumHeight(DOCK_MIN["bottom"])
        self.central_min = DOCK_MIN["canvas"]
        # the width only: its height comes from its layout (the welcome bar and the canvas's own
        # minimum), or the window's minimum would squeeze the canvas under the welcome bar
        central.setMinimumWidth(self.central_min)
        self._default_sizes()

        self.status_valid = QLabel()
        self.statusBar().addPermanentWidget(self.status_valid)
        self.statusBar().setSizeGripEnabled(False)

        self.edits = EditActions(self)
        self.menus = WindowMenus(self)
        self.menus.build()
        self._connect()
        self._theme = self.settings.theme()
        self._on_project_replaced()
        self._on_analysis(self.document.analysis)
        self.setMinimumSize(*MIN_WINDOW)  # explicit (and last): the layout no longer sets, nor grows, it

    # ----- construction ---------------------------------------------------------
    def _default_sizes(self) -> None:
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock],
            [DEFAULT_DOCKS["palette"], DEFAULT_DOCKS["inspector"]],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks([self.bottom_dock], [DEFAULT_DOCKS["bottom"]], Qt.Orientation.Vertical)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        QTimer.singleShot(0, self._keep_canvas_room)

    def _keep_canvas_room(self, tries: int = 6) -> None:
        """A smaller window shrinks the canvas first and below its minimum (Qt keeps the docks'
        sizes): take what the canvas lacks from the bottom dock, down to the dock's own minimum."""
        central = self.centralWidget()
        if central is None or not self.bottom_dock.isVisible() or self.bottom_dock.isFloating():
            return
        canvas_min = self.canvas.minimumSizeHint().expandedTo(self.canvas.minimumSize()).height()
        short = canvas_min - self.canvas.height()  # (the welcome bar's wrapped height is not in a minimum)
        if short > 0 and self.bottom_dock.height() > DOCK_MIN["bottom"]:
            tall = max(DOCK_MIN["bottom"], self.bottom_dock.height() - short - 2)  # 2: the separator
            self.resizeDocks([self.bottom_dock], [tall], Qt.Orientation.Vertical)
            if tries > 1:  # the welcome bar rewraps at the new size: look again
                QTimer.singleShot(0, lambda: self._keep_canvas_room(tries - 1))

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the state of a fresh start, whatever happened before: every panel
        docked in its place and shown at its first size, the Problems tab in front, the Training
        tab's columns at their first widths, the window's own minimum (its size is the user's)."""
        self.setMinimumSize(*MIN_WINDOW)
        self.bottom_tabs.setCurrentIndex(0)
        panel = self.training_tab.built()
        if panel is not None and hasattr(panel, "reset_layout"):
            panel.reset_layout()
        for dock, area in (
            (self.palette_dock, Qt.DockWidgetArea.LeftDockWidgetArea),
            (self.inspector_dock, Qt.DockWidgetArea.RightDockWidgetArea),
            (self.bottom_dock, Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            dock.setFloating(False)
            self.removeDockWidget(dock)
            self.addDockWidget(area, dock)
            dock.show()
        QApplication.processEvents()  # the docks take their places before they are sized
        self._default_sizes()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.statusBar().showMessage("Panels are back in their places", 4000)

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        d.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, d)
        return d

    def _connect(self) -> None:
        d = self.document
        d.analysis_changed.connect(self._on_analysis)
        d.modified_changed.connect(self._update_title)
        d.project_replaced.connect(self._on_project_replaced)
        d.selection_changed.connect(self._update_actions)
        self.files.recent_changed.connect(self.menus.fill_recent)
        self.files.state_changed.connect(self._update_title)
        self.files.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.palette_panel.add_requested.connect(self.add_node_at_centre)
        self.problems.count_changed.connect(self._on_problem_count)
        self.code_panel.export_requested.connect(lambda: self.files.export_code())
        self.bottom_tabs.currentChanged.connect(self._on_bottom_tab)
        status = getattr(self.canvas, "status_message", None)
        if status is None and hasattr(self.canvas, "current_view"):
            view = self.canvas.current_view()
            status = getattr(view, "status_message", None)
        if status is not None:
            status.connect(lambda m: self.statusBar().showMessage(m, 6000))
        current = getattr(self.canvas, "current_changed", None)
        if current is not None:
            current.connect(self._on_canvas_tab)
        self.menus.fill_recent(self.settings.recent_files())

    # ----- state -------------------------------------------------------------------------
    def _on_project_replaced(self) -> None:
        self._update_title()
        self._update_actions()
        for panel in self.project_state_panels():
            panel.reset_project_state()

    def project_state_panels(self) -> list[QWidget]:
        """Every panel that keeps state of the open project beyond what it redraws from the document
        (issue 25: an old download error, curves, a depth profile stayed after Open), in one place.
        Each one's ``reset_project_state()`` runs when a project is opened or created:

        - Summary: the batch size of the memory estimate (the project's own);
        - Training (once built): error, status, progress, ticked curves, heatmap, the sweep's points
          and table (a run still going keeps its curve, labelled with its project);
        - Inspect (once built): the depth profile, its title, the maps (a running inspection is
          dropped).

        The canvas, inspector, Problems and Code redraw from the document's own signals."""
        panels: list[QWidget] = [self.summary_panel]
        for tab in (self.training_tab, self.inspect_tab):
            built = tab.built()
            if built is not None and hasattr(built, "reset_project_state"):
                panels.append(built)
        return panels

    def _on_canvas_tab(self, block) -> None:
        """Switching canvas tabs shows that graph in the inspector (a block tab: its definition)."""
        if self.document.selection[0] != block:
            self.document.set_selection(block, [], [])

    def _update_title(self, *_args) -> None:
        d = self.document
        name = os.path.basename(d.path) if d.path else d.project.name
        suffix = " (recovered)" if self.files.recovered else ""
        self.setWindowTitle(f"{name}[*]{suffix} — Skipwire")
        self.setWindowModified(self.files.is_modified())

    def _update_actions(self) -> None:
        _block, nodes, edges = self.document.selection
        for a in (
            self.act_cut,
            self.act_copy,
            self.act_duplicate,
            self.act_group,
            self.act_freeze,
            self.act_unfreeze,
        ):
            a.setEnabled(bool(nodes))
        self.act_delete.setEnabled(bool(nodes or edges))

    def _on_analysis(self, analysis) -> None:
        if analysis is None:
            return
        if analysis.valid:
            out = analysis.output_shape
            out_text = str(out[0]) if out is not None and len(out) == 1 else fmt(out)
            text = (
                f"Valid · {analysis.total_params:,} params · {human(analysis.macs).replace(' ', ' ')}MACs · "
                f"output {out_text}"
            )
            self.status_valid.setObjectName("statusValid")
        else:
            n = len(analysis.errors)
            text = f"{n} error{'s' if n != 1 else ''} · see Problems"
            self.status_valid.setObjectName("statusInvalid")
        self.status_valid.setText(text)
        self.status_valid.style().unpolish(self.status_valid)
        self.status_valid.style().polish(self.status_valid)
        self._update_title()

    def _on_problem_count(self, errors: int, warnings: int) -> None:
        n = errors + warnings
        self.bottom_tabs.setTabText(0, f"Problems ({n})" if n else "Problems")

    @property
    def training_panel(self) -> QWidget:
        """The Training tab's panel (built on first use)."""
        return self.training_tab.panel()

    def _open_run_project(self, path: str) -> None:
        """A run's graph (Runs list, Pareto point): an unsaved copy, never the run's own file."""
        if self.files.open_run_copy(path):
            self.welcome.hide()
            self._frame_soon()

    def _on_bottom_tab(self, index: int) -> None:
        # the plots need room: give the Training tab a taller dock the first time it shows
        if (
            index == self.bottom_tabs.indexOf(self._page(self.training_tab))
            and self.bottom_dock.height() < 400
        ):
            tall = min(max(430, self.height() // 2), self.height() - 330)  # the canvas keeps some room
            self.resizeDocks([self.bottom_dock], [tall], Qt.Orientation.Vertical)

    def _page(self, panel: QWidget) -> QWidget:
        """The bottom tab (its ScrollPage) that holds ``panel``."""
        for i in range(self.bottom_tabs.count()):
            page = self.bottom_tabs.widget(i)
            if getattr(page, "page", None) is panel:
                return page
        return panel

    def show_bottom_tab(self, index: int) -> None:
        self.bottom_dock.show()
        self.bottom_tabs.setCurrentIndex(index)

    # ----- file actions -------------------------------------------------------------------
    def files_new(self) -> None:
        if self.files.new_from_template():
            self.welcome.hide()
            self._frame_soon()

    def files_import_python(self) -> None:
        from app.import_dialog import import_from_python

        if import_from_python(self):
            self.welcome.hide()
            self._frame_soon()

    def files_new_empty(self) -> None:
        if self.files.new_empty():
            self.welcome.hide()
            self._frame_soon()

    def open_example(self, path: str) -> None:
        if self.files.open_copy(path):
            self.welcome.hide()
            self._frame_soon()

    def files_open(self) -> None:
        if self.files.open():
            self.welcome.hide()
            self._frame_soon()

    def _frame_soon(self) -> None:
        QTimer.singleShot(0, self.frame_readable)

    # ----- edit actions ---------------------------------------------------------------------
    def edit_cut(self) -> None:
        self.edits.view_call("cut")

    def edit_copy(self) -> None:
        self.edits.view_call("copy")

    def edit_paste(self) -> None:
        self.edits.view_call("paste")

    def edit_duplicate(self) -> None:
        self.edits.view_call("duplicate")

    def edit_delete(self) -> None:
        self.edits.view_call("delete_selection")

    def edit_group(self) -> None:
        self.edits.view_call("group_selection")

    def edit_select_all(self) -> None:
        self.edits.view_call("select_all")

    def edit_freeze(self, frozen: bool) -> None:
        self.edits.freeze(frozen)

    def edit_freeze_backbone(self) -> None:
        self.edits.freeze_backbone()

    def add_node_at_centre(self, type_name: str) -> None:
        self.edits.add_node_at_centre(type_name)

    # ----- view actions -------------------------------------------------------------------------
    def view_frame_all(self) -> None:
        fn = getattr(self.canvas, "frame_all", None)
        if fn is not None:
            fn()

    def frame_readable(self, min_zoom: float = 0.8) -> None:
        """Frame the current graph at a readable zoom (GraphView.frame_readable)."""
        view = self.edits.view()
        if view is not None:
            view.frame_readable(min_zoom)

    def view_auto_layout(self) -> None:
        fn = getattr(self.canvas, "auto_layout", None)
        if fn is not None:
            fn()

    def _apply_minimap(self) -> None:
        try:
            from app.canvas.minimap import Minimap
        except ImportError:
            return
        Minimap.set_enabled_everywhere(self.act_minimap.isChecked())

    def toggle_minimap(self) -> None:
        self.settings.set_value("view/minimap", "true" if self.act_minimap.isChecked() else "false")
        self._apply_minimap()

    def apply_theme(self, name: str) -> None:
        self._theme = name
        app = QApplication.instance()
        if app.property("skipwire_theme") != name:  # restyling every widget costs ~0.1 s: only on change
            app_style.apply_theme(app, name)
        self.act_theme.setChecked(name == "light")
        fn = getattr(self.canvas, "set_theme", None)
        if fn is not None:
            fn(name)
        self.code_panel.set_theme(name)
        for tab in (self.training_tab, self.inspect_tab):  # their plots (issue 25: they stayed white)
            built = tab.built()
            if built is not None and hasattr(built, "set_theme"):
                built.set_theme(name)
        self.problems.set_analysis(self.document.analysis)  # severity icons
        self.summary_panel._on_analysis()  # muted zeros

    def toggle_theme(self) -> None:
        name = "dark" if self._theme == "light" else "light"
        self.apply_theme(name)
        self.settings.set_theme(name)

    # ----- help -----------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        from app.help_dialogs import shortcuts_dialog

        shortcuts_dialog(self).open()

    def show_about(self) -> None:
        from app.help_dialogs import show_about

        show_about(self)

    # ----- closing -------------------------------------------------------------------------
    def ask_about_run(self, label: str) -> str:
        """Closing during a run: 'stop', 'background' (it goes on without the window) or 'cancel'."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("A training run is going")
        box.setText(f"<b>{label}</b> is still training. Close Skipwire anyway?")
        box.setInformativeText(
            "Keep training: the run goes on in the background and writes its run folder (open it from "
            "the Training tab's run list later). Stop: it saves a checkpoint; resume it any time."
        )
        keep = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop the run", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        return {keep: "background", stop: "stop"}.get(box.clickedButton(), "cancel")

    def closeEvent(self, event) -> None:
        panel = self.training_tab.built()
        controller = getattr(panel, "controller", None)
        choice = "stop"
        if controller is not None and controller.busy and controller.current is not None:
            choice = self.ask_about_run(controller.current.label)
            if choice == "cancel":
                event.ignore()
                return
        if not self.files.maybe_save():
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        if choice == "background" and panel is not None:
            run_dir = panel.continue_in_background()
            if run_dir is not None:
                sys.stderr.write(f"skipwire: training goes on in the background: {run_dir}\n")
        shutdown = getattr(panel, "shutdown", None)
        if shutdown is not None:  # stop a training child process with the window
            shutdown()
        self.files.clean_exit()
        event.accept()

    def restore_layout(self) -> None:
        geo, state = self.settings.geometry(), self.settings.state()
        if geo is not None:
            self.restoreGeometry(geo)
        else:  # first run: most of the screen, at most 1600x1000
            screen = QApplication.primaryScreen()
            if screen is not None:
                area = screen.availableGeometry()
                self.resize(min(1600, int(area.width() * 0.9)), min(1000, int(area.height() * 0.9)))
        if state is not None:
            self.restoreState(state)


def run_editor(file: str | None = None, screenshot: str | None = None) -> int:
    """``python main.py [open FILE [--screenshot PNG]]``; see app.launch."""
    from app.launch import run_editor as run

    return run(file, screenshot)
