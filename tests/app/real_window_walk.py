"""Run by test_real_window_walk.py in a child process on a 1280x720 X server (Xvfb, xcb): the walk
of issue 25 with real pointer clicks and key presses (xdotool), asserting the window's size, its
minimum and the docks' geometry as it goes, and saving a screenshot of the real X screen at each
stage into SHOTS_DIR.

``python tests/app/real_window_walk.py PROJECT SHOTS_DIR``: the editor starts the way ``python
main.py open PROJECT`` does; the walk
  1. sizes the window to the whole 1280x720 screen (xdotool windowsize, as a user would), records
     the fresh start's dock geometry;
  2. clicks every bottom tab, and the Training tab's Settings, Runs and Sweep pages: the window's
     size and minimum never change, no tab needs more width than its dock has;
  3. clicks conv1, types 32 into its out_channels field, Enter, then Ctrl+Z and Ctrl+Shift+Z with the
     focus still in the field: the document's undo and redo run;
  4. on the Sweep page types depth 1,2 and epochs 1, clicks Start sweep (runs from a stand-in trainer
     that leaves ordinary run folders at once: this walk is about the window, the real engine is
     tested elsewhere), waits for the Pareto chart: the window's size and minimum are unchanged,
     the canvas keeps its room;
  5. clicks a Pareto point: the run's graph opens as an unsaved copy (no path, no "project.json"
     in the title);
  6. View ▸ Reset layout from the menu: the docks are back where the fresh start had them;
  7. Ctrl+Shift+N, a double-click on Conv2d in the palette: the new card touches no edge or card;
then closes. Prints one line per step; exits 0 on success, 3 when a step failed or timed out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QLineEdit

from app.main_window import MIN_WINDOW, MainWindow

STEP_TIMEOUT_S = 600.0 if os.environ.get("SKIPWIRE_WALK_REAL_TRAINING") else 40.0
SCREEN = (1280, 720)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def xdo(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=20)


def click(widget, pos: QPoint | None = None, double: bool = False) -> None:
    """A real pointer click at ``pos`` in ``widget`` (its centre by default)."""
    g = widget.mapToGlobal(pos if pos is not None else widget.rect().center())
    xdo("mousemove", "--sync", str(g.x()), str(g.y()))
    if double:
        xdo("click", "--repeat", "2", "--delay", "80", "1")
    else:
        xdo("click", "1")


def keys(*combo: str) -> None:
    xdo("key", "--clearmodifiers", *combo)


def type_text(text: str) -> None:
    xdo("type", "--delay", "30", text)


class Check(Exception):
    pass


def check(cond: bool, message: str) -> None:
    if not cond:
        raise Check(message)


class Walk:
    def __init__(self, shots: Path) -> None:
        self.shots = shots
        self.shots.mkdir(parents=True, exist_ok=True)
        self.window: MainWindow | None = None
        self.failed = ""
        self.finished = False
        self.steps = self.script()
        self.wait = None  # the condition the walk waits for
        self.wait_since = time.monotonic()
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ----- the machinery --------------------------------------------------------------
    def fail(self, message: str) -> None:
        self.failed = message
        say(f"FAIL {message}")
        self.shot("failed")
        self.timer.stop()
        QApplication.instance().exit(3)

    def tick(self) -> None:
        try:
            if self.wait is not None and not self.wait():
                if time.monotonic() - self.wait_since > STEP_TIMEOUT_S:
                    self.fail(f"timed out waiting at: {self.wait.__doc__ or self.wait}")
                return
            self.wait = next(self.steps)
            self.wait_since = time.monotonic()
        except StopIteration:
            self.timer.stop()
            self.finished = True
        except Check as exc:
            self.fail(str(exc))

    def shot(self, name: str) -> None:
        screen = QApplication.primaryScreen()
        if screen is not None:
            n = len(list(self.shots.glob("*.png"))) + 1
            screen.grabWindow(0).save(str(self.shots / f"{n:02d}-{name}.png"))

    @staticmethod
    def after(seconds: float):
        until = time.monotonic() + seconds

        def elapsed() -> bool:
            """a pause"""
            return time.monotonic() >= until

        return elapsed

    # ----- what is checked over and over -----------------------------------------------
    def docks(self) -> dict:
        w = self.window
        return {
            d.objectName(): (d.isFloating(), d.isVisible(), d.geometry().getRect())
            for d in (w.palette_dock, w.inspector_dock, w.bottom_dock)
        }

    def same_window(self, where: str) -> None:
        w = self.window
        size, minimum = w.size().toTuple(), w.minimumSize().toTuple()
        check(size == self.size, f"{where}: the window is {size}, the user made it {self.size}")
        check(minimum == MIN_WINDOW, f"{where}: the window's minimum became {minimum}")
        frame = w.frameGeometry()
        check(frame.right() < SCREEN[0] and frame.bottom() < SCREEN[1], f"{where}: off the screen {frame}")

    # ----- the walk -------------------------------------------------------------------
    def script(self):
        def shown() -> bool:
            """the window on the screen"""
            for top in QApplication.topLevelWidgets():
                if isinstance(top, MainWindow) and top.isVisible() and top.windowHandle().isExposed():
                    self.window = top
                    return True
            return False

        yield shown
        w = self.window
        say(f"shown platform={QApplication.platformName()} size={w.size().toTuple()}")
        xdo("windowmove", "--sync", str(int(w.winId())), "0", "0")
        xdo("windowsize", "--sync", str(int(w.winId())), str(SCREEN[0]), str(SCREEN[1]))

        def full() -> bool:
            """the window at 1280x720"""
            return w.size().toTuple() == SCREEN

        yield full
        yield self.after(1.0)
        self.size = SCREEN
        self.fresh = self.docks()
        self.same_window("start")
        self.shot("start-1280x720")
        say(f"1280x720: minimum {w.minimumSize().toTuple()}, docks {self.fresh}")

        yield from self._every_tab()
        yield from self._undo_in_a_field()
        yield from self._sweep()
        yield from self._pareto_point()
        yield from self._reset_layout()
        yield from self._palette_double_click()

    def _every_tab(self):
        """Every tab, by a click on it."""
        w = self.window
        bar = w.bottom_tabs.tabBar()
        for i in range(w.bottom_tabs.count()):
            click(bar, bar.tabRect(i).center())

            def on_tab(i=i) -> bool:
                """a bottom tab shown"""
                return w.bottom_tabs.currentIndex() == i

            yield on_tab
            yield self.after(0.8)
            name = w.bottom_tabs.tabText(i)
            self.same_window(f"the {name} tab")
            page = w.bottom_tabs.currentWidget()
            check(
                page.needed().width() <= page.viewport().width(),
                f"the {name} tab needs {page.needed().width()} px, its dock has {page.viewport().width()}",
            )
            self.shot(f"tab-{name.split()[0].lower()}")
            if name == "Training":
                panel = w.training_panel
                side = panel.side.tabBar()
                for j in range(panel.side.count()):
                    click(side, side.tabRect(j).center())
                    yield self.after(0.6)
                    self.same_window(f"Training ▸ {panel.side.tabText(j)}")
                    self.shot(f"training-{panel.side.tabText(j).lower()}")
        say("every tab: the window kept its size and minimum")

    def _undo_in_a_field(self):
        """Ctrl+Z with the focus in an inspector field."""
        w = self.window
        bar = w.bottom_tabs.tabBar()
        click(bar, bar.tabRect(0).center())
        conv = w.document.project.graph.node_by_name("conv1")
        view = w.canvas.current_view()
        w.document.request_focus(None, conv.id)
        yield self.after(0.5)
        item = view.scene().nodes[conv.id]
        header = item.card_rect().center().toPoint()
        header.setY(int(item.card_rect().top() + 12))
        click(view.viewport(), view.mapFromScene(header))

        def selected() -> bool:
            """conv1 selected"""
            return w.document.selection[1] == [conv.id]

        yield selected
        field = w.inspector.fields["out_channels"].editor
        edit = field if isinstance(field, QLineEdit) else field.findChild(QLineEdit)
        click(edit)
        xdo("windowfocus", "--sync", str(int(w.winId())))
        keys("ctrl+a")
        type_text("32")
        keys("Return")

        def committed() -> bool:
            """out_channels 32"""
            return conv.params["out_channels"] == 32

        yield committed
        stack = w.document.undo_stack
        at = stack.index()  # the document's own undo, not the field's text history plus a new edit
        focus = QApplication.focusWidget()
        check(focus is not None and w.inspector.isAncestorOf(focus), f"the focus left the field: {focus}")
        say(f"focus after Enter: {type(focus).__name__} (the field: {type(field).__name__})")
        self.shot("inspector-32")
        keys("ctrl+z")

        def undone() -> bool:
            """Ctrl+Z in the field undoes out_channels 32 (Edit ▸ Undo)"""
            return conv.params["out_channels"] == 16 and stack.index() == at - 1

        yield undone
        keys("ctrl+shift+z")

        def redone() -> bool:
            """Ctrl+Shift+Z in the field redoes it (Edit ▸ Redo)"""
            return conv.params["out_channels"] == 32 and stack.index() == at

        yield redone
        keys("ctrl+z")
        yield undone
        say("Ctrl+Z and Ctrl+Shift+Z in an inspector field: the document's undo and redo")

    def _sweep(self):
        """A sweep from the Sweep page."""
        w = self.window
        bar = w.bottom_tabs.tabBar()
        click(bar, bar.tabRect(3).center())
        yield self.after(0.8)
        panel = w.training_panel
        if not os.environ.get("SKIPWIRE_WALK_REAL_TRAINING"):  # =1: the real engine (minutes on a CPU)
            panel.controller.factory = stand_in_trainer
        side = panel.side.tabBar()
        click(side, side.tabRect(0).center())
        yield self.after(0.4)
        click(panel.form.epochs)
        keys("ctrl+a")
        type_text("1")
        keys("Tab")
        sweep_tab = next(j for j in range(panel.side.count()) if panel.side.tabText(j) == "Sweep")
        click(side, side.tabRect(sweep_tab).center())
        yield self.after(0.6)
        depth = panel.sweep.fields["depth"]
        panel.sweep_scroll.ensureWidgetVisible(depth)
        yield self.after(0.3)
        click(depth)
        type_text("1,2")

        def planned() -> bool:
            """the sweep's two configurations planned"""
            return panel.sweep.start_button.isEnabled() and len(panel.sweep.configs) == 2

        yield planned
        check(
            "1 epoch," in panel.sweep.uses.text(),
            f"the sweep does not say its epochs: {panel.sweep.uses.text()}",
        )
        panel.sweep_scroll.ensureWidgetVisible(panel.sweep.start_button)
        yield self.after(0.3)
        click(panel.sweep.start_button)

        def swept() -> bool:
            """the sweep's two runs finished"""
            return panel.sweep.plot is not None and len(panel.sweep.points) == 2 and not panel.controller.busy

        yield swept
        yield self.after(1.0)
        self.same_window("after the sweep")
        canvas = w.canvas.height()
        check(canvas >= 150, f"the canvas is squeezed to {canvas} px")
        panel.sweep_scroll.ensureWidgetVisible(panel.sweep.plot)
        yield self.after(0.5)
        self.shot("sweep-done")
        say(f"sweep of 2 runs: the window kept its size and minimum; canvas {canvas} px tall")

    def _pareto_point(self):
        """A click on a Pareto point opens the run's graph as an unsaved copy."""
        w = self.window
        panel = w.training_panel
        plot = panel.sweep.plot
        spot = panel.sweep._scatter.points()[-1]
        at = plot.mapFromScene(plot.getViewBox().mapViewToScene(spot.pos()))
        on_page = plot.viewport().mapTo(panel.sweep, at)
        panel.sweep_scroll.ensureVisible(on_page.x(), on_page.y(), 30, 30)  # scroll the point into view
        yield self.after(0.5)
        at = plot.mapFromScene(plot.getViewBox().mapViewToScene(spot.pos()))
        port = panel.sweep_scroll.viewport()
        inside = port.rect().contains(port.mapFromGlobal(plot.viewport().mapToGlobal(at)))
        check(inside, f"the Pareto point at {at.toTuple()} is not in view")
        self.shot("pareto-chart")
        click(plot.viewport(), at)

        def copied() -> bool:
            """the run's graph open as an unsaved copy"""
            return w.document.path is None and "depth=" in w.document.project.name

        yield copied
        title = w.windowTitle()
        check("project.json" not in title, f"the title is {title!r}")
        self.same_window("a Pareto point opened")
        self.shot("pareto-copy")
        say(f"Pareto point: {title!r}, unsaved")

    def _reset_layout(self):
        """View ▸ Reset layout, from the menu with the pointer."""
        w = self.window
        w.resizeDocks([w.bottom_dock], [460], Qt.Orientation.Vertical)  # as a drag of the splitter would
        yield self.after(0.5)
        menu_bar = w.menuBar()
        view_menu = next(a for a in menu_bar.actions() if a.text().replace("&", "") == "View")
        click(menu_bar, menu_bar.actionGeometry(view_menu).center())
        menu = view_menu.menu()

        def opened() -> bool:
            """the View menu open"""
            return menu.isVisible()

        yield opened
        yield self.after(0.3)
        click(menu, menu.actionGeometry(w.act_reset_layout).center())

        def reset() -> bool:
            """the docks where a fresh start has them"""
            return not menu.isVisible() and self.docks() == self.fresh

        yield reset
        self.same_window("Reset layout")
        self.shot("reset-layout")
        say("Reset layout: the docks are where the fresh start had them")

    def _palette_double_click(self):
        """An empty network, a double-click in the palette."""
        w = self.window
        xdo("windowfocus", "--sync", str(int(w.winId())))
        view = w.canvas.current_view()
        click(view.viewport())
        keys("ctrl+shift+n")

        def empty() -> bool:
            """the empty network"""
            return len(w.document.project.graph.nodes) == 2

        yield empty
        yield self.after(0.8)
        tree = w.palette_panel.tree
        conv_item = next(
            tree.topLevelItem(i).child(j)
            for i in range(tree.topLevelItemCount())
            for j in range(tree.topLevelItem(i).childCount())
            if tree.topLevelItem(i).child(j).text(0) == "Conv2d"
        )
        tree.scrollToItem(conv_item)
        yield self.after(0.3)
        click(tree.viewport(), tree.visualItemRect(conv_item).center(), double=True)

        def added() -> bool:
            """a Conv2d added by the double-click"""
            return len(w.document.project.graph.nodes) == 3

        yield added
        yield self.after(0.6)
        scene = w.canvas.current_view().graph_scene()
        new = scene.nodes[w.document.selection[1][0]]
        touching = [
            other
            for other in list(scene.nodes.values()) + list(scene.edges.values())
            if other is not new and new.collidesWithItem(other)
        ]
        check(not touching, f"the new Conv2d touches {touching}")
        self.shot("palette-double-click")
        say("palette double-click: the Conv2d sits clear of the edge and the cards")
        self.same_window("the end")
        w.document.undo_stack.setClean()
        say("closing")
        w.close()


def stand_in_trainer(project: dict, config: dict, run_dir: str, resume: bool = False):
    """Leaves an ordinary finished run folder at once (training.runs' own writers)."""
    from training import runs
    from training.metrics import MetricsWriter, record

    run = Path(run_dir)
    runs.create_run(run, project, config, "# model\n", {"dataset": config.get("dataset", "synthetic")})
    acc = 0.4 + 0.05 * sum(1 for n in project["name"] if n.isdigit())
    writer = MetricsWriter(run / "metrics.jsonl")
    writer.write(record("step", step=1, epoch=0.5, loss=2.0, lr=0.1, images_per_s=100.0))
    writer.close()
    runs.update_run_meta(run, status="completed", epochs_done=1, best_val_acc=acc, last_val_acc=acc)
    return _Finished()


class _Finished:
    def __init__(self) -> None:
        from training.metrics import record

        self.records = [
            record("status", state="running", message="", total_steps=1, epochs=1),
            record("step", step=1, epoch=1.0, loss=2.0, lr=0.1, images_per_s=100.0),
            record("status", state="completed", message="finished"),
        ]

    def poll(self, max_items: int = 1000) -> list[dict]:
        out, self.records = self.records[:max_items], self.records[max_items:]
        return out

    def stop(self) -> None:
        pass

    def is_alive(self) -> bool:
        return bool(self.records)


def main() -> int:
    project, shots = sys.argv[1], Path(sys.argv[2])
    if shutil.which("xdotool") is None:
        say("FAIL xdotool is not installed")
        return 3
    app = QApplication.instance() or QApplication(sys.argv[:1])
    walk = Walk(shots)
    from app.launch import run_editor

    rc = run_editor(project)
    del app
    if walk.failed:
        return 3
    if not walk.finished:
        say(f"FAIL the editor exited before the walk ended (exit code {rc})")
        return 3
    say(f"closed, exit code {rc}")
    return rc


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    sys.exit(main())
