"""Run by test_real_window_ranks.py on a real X server (Xvfb, QT_QPA_PLATFORM=xcb): issue 20's check.

``python tests/app/real_window_ranks.py PROJECT SHOTS_DIR`` with SKIPWIRE_TRAIN_PROCESSES=2: opens
PROJECT in the editor; on the Training tab the "Use" row offers "2 CPU processes"; a real xdotool
click on Start trains the run as 2 gloo processes through torchrun; once rank 0's records have drawn
points it clicks Stop, waits for "Stopped", checks that no rank is left running, saves a screenshot
after each step (SHOTS_DIR/NN-step.png) and closes. Exits 0, or 3 naming the step that failed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow

STEP_TIMEOUT_S = 150.0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Driver:
    def __init__(self, shots: Path) -> None:
        self.shots, self.n_shot, self.failed = shots, 0, ""
        self.window = self.panel = self.proc = None
        self.ranks: list[int] = []
        self.stage, self.stage_t0 = "window", time.monotonic()
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def go(self, stage: str) -> None:
        self.stage, self.stage_t0 = stage, time.monotonic()

    def fail(self, message: str) -> None:
        self.failed = message
        say(f"FAIL {message}")
        self.timer.stop()
        QApplication.instance().exit(3)

    def shot(self, name: str) -> None:
        self.n_shot += 1
        path = self.shots / f"{self.n_shot:02d}-{name}.png"
        self.window.repaint()
        QApplication.processEvents()
        QApplication.primaryScreen().grabWindow(0).save(str(path))
        say(f"shot {path.name}: status {self.panel.status.text()!r}")

    def click(self, button) -> None:
        g = button.mapToGlobal(button.rect().center())
        subprocess.run(["xdotool", "mousemove", str(g.x()), str(g.y()), "click", "1"], check=True, timeout=10)

    def tick(self) -> None:
        if time.monotonic() - self.stage_t0 > STEP_TIMEOUT_S:
            self.fail(f"timed out at the '{self.stage}' step")
            return
        getattr(self, f"_{self.stage}")()

    def _window(self) -> None:
        for w in QApplication.topLevelWidgets():
            handle = w.windowHandle() if isinstance(w, MainWindow) and w.isVisible() else None
            if handle is not None and handle.isExposed():
                self.window = w
                self.panel = w.training_panel
                tabs = w.bottom_tabs  # the tab whose page holds the panel (pages may wrap it)
                page = next(
                    tabs.widget(i) for i in range(tabs.count()) if tabs.widget(i).isAncestorOf(self.panel)
                )
                tabs.setCurrentWidget(page)
                form = self.panel.form
                say(f"Use: {[form.processes.itemText(i) for i in range(form.processes.count())]}")
                if form.processes.currentData() != 2:
                    self.fail(f"the Use row does not offer 2 processes: {form.processes.currentText()!r}")
                    return
                form.epochs.setValue(100)
                form.device.setCurrentText("cpu")
                self.go("start")
                return

    def _start(self) -> None:
        b = self.panel.start_button
        if b.isVisible() and b.isEnabled():
            self.click(b)
            self.go("running")
        elif time.monotonic() - self.stage_t0 > 20 and not getattr(self, "_told", False):
            self._told = True
            chain, w = [], b
            while w is not None:
                chain.append(
                    f"{type(w).__name__}:{w.objectName()}:{'V' if w.isVisible() else 'h'}:{w.height()}"
                )
                w = w.parentWidget()
            say(f"Start: visible {b.isVisible()}, enabled {b.isEnabled()}; chain {chain}")

    def _running(self) -> None:
        if self.panel.confirm.isVisible():  # "This run takes about ...; start it?": yes
            self.panel.start(confirmed=True)
        ctl = self.panel.controller
        item = self.panel.plots.curve(ctl.current.key, "loss") if ctl.current is not None else None
        if ctl.busy and item is not None and len(item.xData) >= 5:
            from training.process import _child_groups

            self.proc = ctl._proc
            self.ranks = _child_groups(self.proc.pid)
            say(f"training as {len(self.ranks)} ranks under torchrun (pid {self.proc.pid})")
            self.shot("two-ranks-training")
            self.click(self.panel.stop_button)
            self.go("stopped")

    def _stopped(self) -> None:
        if self.panel.controller.busy:
            return
        if "Stopped" not in self.panel.status.text():
            self.fail(f"the run should be stopped: {self.panel.status.text()!r}")
            return
        self.shot("stopped")
        if self.proc.is_alive():  # torchrun exits right after its ranks
            return
        left = [pid for pid in self.ranks if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        if left:
            return
        say(f"stopped; {len(self.ranks)} ranks and torchrun have exited")
        self.timer.stop()
        self.window.close()
        self.go("closed")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def main() -> int:
    project, shots = sys.argv[1], Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    if shutil.which("xdotool") is None:
        say("FAIL xdotool is not installed")
        return 3
    app = QApplication.instance() or QApplication(sys.argv[:1])
    driver = Driver(shots)
    from app.launch import run_editor

    rc = run_editor(project)
    del app
    if driver.failed:
        return 3
    if driver.stage != "closed":
        say(f"FAIL the editor exited at the '{driver.stage}' step (exit code {rc})")
        return 3
    say(f"closed, exit code {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
