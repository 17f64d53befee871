"""Starting the editor: ``python main.py``, ``python main.py open FILE`` and the
offscreen ``--screenshot PNG`` mode.

Start-up order: the QApplication and the stylesheet first, then the window
and the project (a crash's recovery file, the given file, or the resnet20
example), then show. torch is not imported on this path.
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import app_style
from app.main_window import MainWindow
from app.settings import Settings
from graph.atomic import atomic_write
from graph.errors import UserError

SCREENSHOT_SIZE = (1600, 1000)
FIRST_TEMPLATE = "resnet20"


def _make_app(screenshot: bool) -> QApplication:
    if screenshot and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Skipwire")
    app.setApplicationName("Skipwire")
    app.setApplicationDisplayName("Skipwire")
    app.setDesktopFileName("skipwire")  # the .desktop entry (make install-desktop): its icon on Wayland
    from app.assets import app_icon

    app.setWindowIcon(app_icon())
    return app


def _first_project():
    from graph.templates import make

    return make(FIRST_TEMPLATE)


def run_editor(file: str | None = None, screenshot: str | None = None) -> int:
    """Open the editor; with ``screenshot`` render it offscreen to a PNG and return 0."""
    if not screenshot or os.environ.get("QT_QPA_PLATFORM"):
        from app import preflight

        missing = preflight.problem()  # before Qt aborts on a missing xcb library (with a core dump)
        if missing:
            raise UserError(missing, 2)
    app = _make_app(bool(screenshot))
    settings = Settings(_screenshot_settings_path()) if screenshot else Settings()
    theme = os.environ.get("SKIPWIRE_THEME") or settings.theme()
    app_style.apply_theme(app, theme)
    window = MainWindow(settings=settings)
    window.files.interactive = not screenshot
    window.apply_theme(theme)
    # A crash left unsaved work behind: offer it first (never in screenshot mode).
    opened = not screenshot and window.files.offer_recovery()
    if not opened and file is not None:
        opened = window.files.load(file)
        if not opened and screenshot:
            return 2
    if not opened:
        if file is None and (screenshot or not settings.value("welcome/seen")):
            window.welcome.show()  # a first launch only (and the first-launch screenshot)
            if not screenshot:
                settings.set_value("welcome/seen", "true")
        window.document.replace_project(_first_project(), None)
    if screenshot:
        return _screenshot(app, window, screenshot)
    window.restore_layout()
    window.show()
    window.frame_readable()
    if os.environ.get("SKIPWIRE_TIMING"):
        app.processEvents()
        torch_loaded = "torch" in sys.modules
        sys.stderr.write(f"skipwire-timing shown={time.time():.6f} torch_loaded={torch_loaded}\n")
        if os.environ.get("SKIPWIRE_TIMING") == "exit":
            return 0
    window.files.start_autosave()
    return app.exec()


def _screenshot_settings_path() -> str:
    import tempfile

    return os.path.join(tempfile.mkdtemp(prefix="skipwire-shot-"), "settings.ini")


def _screenshot(app: QApplication, window: MainWindow, path: str) -> int:
    """Render at a fixed size. Env knobs for documentation shots: SKIPWIRE_TAB (problems, code,
    summary, training), SKIPWIRE_SELECT (a node name to select), SKIPWIRE_TIMING."""
    window.resize(*SCREENSHOT_SIZE)
    tab = os.environ.get("SKIPWIRE_TAB", "").lower()
    names = ["problems", "code", "summary", "training"]
    if tab in names:
        window.show_bottom_tab(names.index(tab))
        if tab in ("code", "summary", "training"):
            window.resizeDocks([window.bottom_dock], [430], Qt.Orientation.Vertical)
    elif window.document.analysis is not None and not window.document.analysis.valid:
        window.show_bottom_tab(0)
    window.show()
    for _ in range(3):
        app.processEvents()
    window.frame_readable()
    select = os.environ.get("SKIPWIRE_SELECT")
    node = window.document.project.graph.node_by_name(select) if select else None
    analysis = window.document.analysis
    if node is not None:
        window.document.set_selection(None, [node.id], [])
        window.document.request_focus(None, node.id)
    elif analysis is not None and analysis.errors:  # show the first error where it is, as one would look
        from app.panels.problems import focus_target

        first = analysis.errors[0]
        target = focus_target(window.document.project, first)
        if target is not None:
            window.document.request_focus(first.block, target)
            window.document.set_selection(first.block, [target], [])
    deadline = time.time() + 1.0
    while time.time() < deadline:  # let debounced panels (code) settle
        app.processEvents()
        time.sleep(0.02)
    if tab == "code":
        window.code_panel.scroll_to("class BasicBlock") or window.code_panel.scroll_to("class ")
        app.processEvents()
    window.statusBar().clearMessage()  # "Opened /tmp/…": transient, noise in a picture
    if os.environ.get("SKIPWIRE_TIMING"):
        sys.stderr.write(
            f"skipwire-timing rendered={time.time():.6f} torch_loaded={'torch' in sys.modules}\n"
        )
    image = window.grab()
    try:
        atomic_write(path, lambda tmp: _save_png(image, tmp, path))
        ok = True
    except (OSError, UserError):
        ok = False
    window.files.clean_exit()
    window.document.undo_stack.setClean()
    window.files.recovered = False
    window.close()
    if not ok:
        sys.stderr.write(f"skipwire: could not write the screenshot to {path}\n")
        return 2
    return 0


def _save_png(image, tmp: str, path: str) -> None:
    if not image.save(tmp, "PNG"):
        raise OSError(f"could not write the screenshot to {path}")
