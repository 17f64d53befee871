"""Run by test_real_window.py in a child process, on a real X server (Xvfb, QT_QPA_PLATFORM=xcb).

``python tests/app/real_window_driver.py PROJECT NODE_NAME``: starts the editor the way
``python main.py open PROJECT`` does (app.launch.run_editor, pre-flight check included), waits
for the window to be exposed, clicks the card of NODE_NAME with a real X pointer click
(xdotool; QTest on the real window where xdotool is absent and SKIPWIRE_NEED_XDOTOOL is unset),
checks that the click selected that node, then closes the window. Prints one line per step;
exits 0 on success, 3 when a step did not happen within its time.
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
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow

TIMEOUT_S = 30.0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Driver:
    def __init__(self, node_name: str) -> None:
        self.node_name = node_name
        self.t0 = time.monotonic()
        self.stage = "window"
        self.window: MainWindow | None = None
        self.failed = ""
        self.clicked_at = 0.0
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def fail(self, message: str) -> None:
        self.failed = message
        say(f"FAIL {message}")
        self.timer.stop()
        QApplication.instance().exit(3)

    def tick(self) -> None:
        if time.monotonic() - self.t0 > TIMEOUT_S:
            self.fail(f"timed out at the '{self.stage}' step")
            return
        getattr(self, f"_{self.stage}")()

    def _window(self) -> None:
        for w in QApplication.topLevelWidgets():
            handle = w.windowHandle() if isinstance(w, MainWindow) and w.isVisible() else None
            if handle is not None and handle.isExposed():
                self.window = w
                say(f"shown platform={QApplication.platformName()} title={w.windowTitle()!r}")
                self.stage = "settle"
                self.settle_until = time.monotonic() + 1.0
                return

    def _settle(self) -> None:
        if time.monotonic() >= self.settle_until:
            self.stage = "click"

    def _click(self) -> None:
        w = self.window
        node = w.document.project.graph.node_by_name(self.node_name)
        if node is None:
            self.fail(f"the project has no node named {self.node_name!r}")
            return
        view = w.canvas.current_view()
        view.document.request_focus(None, node.id)  # scroll it into view, as a user would
        QApplication.processEvents()
        item = view.scene().nodes[node.id]
        rect = item.card_rect() if hasattr(item, "card_rect") else item.sceneBoundingRect()
        header = rect.center().toPoint()
        header.setY(int(rect.top() + 12))  # the card's header row: the name, not a port
        local = view.mapFromScene(header)
        if not view.viewport().rect().contains(local):
            self.fail(f"{self.node_name} is not in the visible canvas ({local.x()},{local.y()})")
            return
        xdotool = shutil.which("xdotool")
        if xdotool:
            g = view.viewport().mapToGlobal(local)
            subprocess.run([xdotool, "mousemove", "--sync", str(g.x()), str(g.y())], check=True, timeout=10)
            subprocess.run([xdotool, "click", "1"], check=True, timeout=10)
            say(f"clicked {self.node_name} with xdotool at screen {g.x()},{g.y()}")
        elif os.environ.get("SKIPWIRE_NEED_XDOTOOL"):
            self.fail("xdotool is not installed")
            return
        else:
            QTest.mouseClick(
                view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, local
            )
            say(f"clicked {self.node_name} with QTest at {QPoint(local).x()},{QPoint(local).y()}")
        self.node_id = node.id
        self.stage = "selected"

    def _selected(self) -> None:
        _block, nodes, _edges = self.window.document.selection
        if nodes == [self.node_id]:
            say(f"selected {self.node_name}; inspector shows {self.window.inspector.target!r}")
            self.stage = "close"

    def _close(self) -> None:
        self.timer.stop()
        say("closing")
        self.window.close()


def main() -> int:
    project, node_name = sys.argv[1], sys.argv[2]
    app = QApplication.instance() or QApplication(sys.argv[:1])
    driver = Driver(node_name)
    from app.launch import run_editor

    rc = run_editor(project)
    del app
    if driver.failed:
        return 3
    if driver.stage != "close":
        say(f"FAIL the editor exited at the '{driver.stage}' step (exit code {rc})")
        return 3
    say(f"closed, exit code {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
