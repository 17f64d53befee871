"""Issue 25: the layout holds. Nothing but the user changes the window's size or minimum size (no
tab, no sweep, no training run); the window fits 1280x720 with every tab usable (no page needs more
room than its dock has, no visible widget is squeezed below its minimum); View ▸ Reset layout
restores a fresh start's dock geometry whatever happened before."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QWidget

from app.main_window import MIN_WINDOW
from graph.templates import make


def settle(n: int = 8) -> None:
    for _ in range(n):
        QApplication.processEvents()


def squeezed(window) -> list[str]:
    """Visible widgets smaller than their minimum (what a layout that cannot fit does to them)."""
    out = []
    for c in window.findChildren(QWidget):
        if not c.isVisible() or c.isWindow() or c.objectName().startswith("qt_"):
            continue
        if isinstance(c, (QHeaderView, QAbstractItemView)):  # item views scroll their contents
            continue
        need = c.minimumSizeHint().expandedTo(c.minimumSize())
        if c.width() + 1 < need.width() or c.height() + 1 < need.height():
            out.append(f"{type(c).__name__} {c.objectName()!r} {c.size().toTuple()} < {need.toTuple()}")
    return out


def tabs_walk(window):
    """Every bottom tab, and the Training tab's Settings, Runs and Sweep pages; yields a name."""
    for i in range(window.bottom_tabs.count()):
        window.bottom_tabs.setCurrentIndex(i)
        settle()
        yield window.bottom_tabs.tabText(i)
        if window.bottom_tabs.tabText(i) == "Training":
            panel = window.training_panel
            for j in range(panel.side.count()):
                panel.side.setCurrentIndex(j)
                settle()
                yield f"Training/{panel.side.tabText(j)}"
            panel.side.setCurrentIndex(0)


def sweep(window, fake_training, qtbot) -> None:
    """Sweep depth 1,2 with one epoch (issue 25, item 1), to the end."""
    panel = window.training_panel
    panel.controller.factory = fake_training
    panel.side.setCurrentWidget(panel.sweep_scroll)
    panel.form.epochs.setValue(1)
    panel.sweep.fields["depth"].setText("1,2")
    assert panel.sweep.start()
    qtbot.waitUntil(lambda: not panel.controller.busy, timeout=10_000)
    settle()


def dock_geometry(window) -> dict:
    return {
        d.objectName(): (d.isFloating(), d.isVisible(), window.dockWidgetArea(d), d.geometry().getRect())
        for d in (window.palette_dock, window.inspector_dock, window.bottom_dock)
    }


def test_no_tab_nor_a_sweep_changes_the_windows_size_or_minimum(make_window, tmp_path, fake_training, qtbot):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    w.resize(1600, 1000)
    settle()
    size, minimum = w.size(), w.minimumSize()
    assert minimum.toTuple() == MIN_WINDOW
    for name in tabs_walk(w):
        assert (w.size(), w.minimumSize()) == (size, minimum), name
    w.bottom_tabs.setCurrentIndex(3)
    sweep(w, fake_training, qtbot)
    assert w.training_panel.sweep.plot is not None  # the Pareto chart came, and with it the old growth
    assert (w.size(), w.minimumSize()) == (size, minimum)
    canvas = w.canvas.geometry()
    assert canvas.height() >= 300, canvas  # not squeezed to a strip


def test_every_tab_fits_a_1280x720_screen(make_window, tmp_path, fake_training, qtbot):
    w = make_window(make("resnet20"), str(tmp_path / "resnet20.json"))
    w.resize(1280, 720)
    settle()
    assert w.minimumSize().width() <= 1280 and w.minimumSize().height() <= 720 - 60  # a task bar
    for name in tabs_walk(w):
        assert w.size().toTuple() == (1280, 720), name
        page = w.bottom_tabs.currentWidget()
        need, room = page.needed(), page.viewport().size()
        assert need.width() <= room.width(), f"{name}: needs {need.width()} px, the dock has {room.width()}"
        assert not page.horizontalScrollBar().isVisible(), name
        assert squeezed(w) == [], name
        inspector = w.inspector_dock.geometry()
        assert inspector.right() < 1280, name  # the inspector's numbers stay on the screen
    w.bottom_tabs.setCurrentIndex(3)
    sweep(w, fake_training, qtbot)
    assert w.size().toTuple() == (1280, 720)
    assert squeezed(w) == []
    plots = w.training_panel.plots
    assert plots.columns * 240 <= plots.width()  # no plot column hides behind the inspector


def test_reset_layout_restores_a_fresh_starts_docks_after_everything(
    make_window, tmp_path, fake_training, qtbot, settings
):
    fresh = make_window(make("resnet20"), str(tmp_path / "a.json"))
    fresh.resize(1280, 800)
    settle()
    expected = dock_geometry(fresh)
    fresh.close()

    w = make_window(make("resnet20"), str(tmp_path / "b.json"))
    w.resize(1280, 800)
    settle()
    for _name in tabs_walk(w):
        pass
    w.bottom_tabs.setCurrentIndex(3)
    sweep(w, fake_training, qtbot)
    w.training_panel.side.setCurrentIndex(0)
    assert w.training_panel.start()  # and a training run
    qtbot.waitUntil(lambda: not w.training_panel.controller.busy, timeout=10_000)
    w.training_panel.splitter.setSizes([500, 100])
    w.inspector_dock.setFloating(True)
    w.palette_dock.hide()
    w.resizeDocks([w.bottom_dock], [600], Qt.Orientation.Vertical)
    settle()
    assert dock_geometry(w) != expected

    w.reset_layout()
    settle()
    assert dock_geometry(w) == expected
    assert w.bottom_tabs.currentIndex() == 0
    assert w.size().toTuple() == (1280, 800)  # the window's size stays the user's
    assert settings.state() is not None  # what the next start restores
