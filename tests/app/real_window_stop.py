"""Run by test_real_window_stop.py on a real X server (Xvfb, QT_QPA_PLATFORM=xcb): issue 19's check.

``python tests/app/real_window_stop.py PROJECT SHOTS_DIR``: opens PROJECT in the editor, and on the
Training tab, with real xdotool clicks:
1. starts a one-epoch run; the child is held before its final record (SKIPWIRE_TEST_HOLD_FINAL,
   set by the test), the window's training timer is paused, the child is released and exits: the
   window has not seen the end yet, as when a child ends between two ticks;
2. clicks Stop five times on that ended child (the editor used to freeze here for good);
3. resumes the timer: the run is reported finished;
4. starts a long run, clicks Stop mid-epoch, and waits for "Stopped".
A heartbeat timer ticks every 50 ms throughout; after each step the driver prints the longest gap
between ticks and saves a screenshot (SHOTS_DIR/NN-step.png). Exits 0, or 3 naming the step that did
not happen within its time.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow

STEP_TIMEOUT_S = 120.0


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Driver:
    def __init__(self, shots: Path, hold: Path) -> None:
        self.shots, self.hold = shots, hold
        self.window: MainWindow | None = None
        self.panel = None
        self.stage, self.stage_t0, self.failed = "window", time.monotonic(), ""
        self.n_shot = 0
        self.beats: list[float] = []
        self.heart = QTimer()
        self.heart.setInterval(50)
        self.heart.timeout.connect(lambda: self.beats.append(time.monotonic()))
        self.heart.start()
        self.timer = QTimer()
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ----- helpers
    def go(self, stage: str) -> None:
        self.stage, self.stage_t0 = stage, time.monotonic()

    def fail(self, message: str) -> None:
        self.failed = message
        say(f"FAIL {message}")
        self.timer.stop()
        QApplication.instance().exit(3)

    def gap_ms(self) -> float:
        b = self.beats[-400:]
        return max((y - x for x, y in itertools.pairwise(b)), default=0.0) * 1000

    def shot(self, name: str) -> None:
        self.n_shot += 1
        path = self.shots / f"{self.n_shot:02d}-{name}.png"
        self.window.repaint()  # what the user sees now, not the last frame the X server got
        QApplication.processEvents()
        QApplication.primaryScreen().grabWindow(0).save(str(path))
        say(
            f"shot {path.name}: status {self.panel.status.text()!r}; "
            f"longest heartbeat gap {self.gap_ms():.0f} ms"
        )

    def click(self, button) -> None:
        g = button.mapToGlobal(button.rect().center())
        # no --sync: it waits for a motion event, and there is none when the pointer is there already
        subprocess.run(["xdotool", "mousemove", str(g.x()), str(g.y()), "click", "1"], check=True, timeout=10)

    def tick(self) -> None:
        if time.monotonic() - self.stage_t0 > STEP_TIMEOUT_S:
            self.fail(f"timed out at the '{self.stage}' step")
            return
        getattr(self, f"_{self.stage}")()

    # ----- steps
    def _window(self) -> None:
        for w in QApplication.topLevelWidgets():
            handle = w.windowHandle() if isinstance(w, MainWindow) and w.isVisible() else None
            if handle is not None and handle.isExposed():
                self.window = w
                w.bottom_tabs.setCurrentWidget(w.training_tab)
                self.panel = w.training_panel
                self.panel.form.epochs.setValue(1)
                self.panel.form.device.setCurrentText("cpu")
                self.go("start1")
                return

    def _start1(self) -> None:
        if self.panel.start_button.isVisible() and self.panel.start_button.isEnabled():
            self.click(self.panel.start_button)
            self.go("held")

    def _held(self) -> None:
        if Path(str(self.hold) + ".reached").exists():
            self.panel.controller._timer.stop()  # the window has not seen the end yet
            self.proc = self.panel.controller._proc
            self.hold.write_text("go")
            self.go("exited")

    def _exited(self) -> None:
        if not self.proc.is_alive():
            say(f"the child has exited (code {self.proc.exitcode}); the window does not know yet")
            self.shot("child-ended-window-not-told")
            for i in range(5):
                self.click(self.panel.stop_button)
                QApplication.processEvents()
                say(f"Stop click {i + 1} returned")
            self.shot("after-five-stops")
            self.panel.controller._timer.start()
            self.go("finished1")

    def _finished1(self) -> None:
        if not self.panel.controller.busy:
            if "Finished" not in self.panel.status.text():
                self.fail(f"the first run should be finished: {self.panel.status.text()!r}")
                return
            self.shot("first-run-finished")
            self.hold.unlink()
            os.environ.pop("SKIPWIRE_TEST_HOLD_FINAL", None)
            self.panel.form.epochs.setValue(100)
            self.go("start2")

    def _start2(self) -> None:
        if self.panel.start_button.isEnabled():
            self.click(self.panel.start_button)
            self.go("running2")

    def _running2(self) -> None:
        if self.panel.confirm.isVisible():  # "This run takes about ...; start it?": yes
            say("the long-run question was asked; confirming")
            self.panel.start(confirmed=True)
        if self.panel.controller.busy and self.panel.progress.value() > 0:
            self.shot("second-run-training")
            self.click(self.panel.stop_button)
            self.go("stopped2")

    def _stopped2(self) -> None:
        if not self.panel.controller.busy:
            if "Stopped" not in self.panel.status.text():
                self.fail(f"the second run should be stopped: {self.panel.status.text()!r}")
                return
            self.shot("second-run-stopped")
            self.timer.stop()
            say("closing")
            self.window.close()
            self.go("closed")


def main() -> int:
    project, shots = sys.argv[1], Path(sys.argv[2])
    shots.mkdir(parents=True, exist_ok=True)
    if shutil.which("xdotool") is None:
        say("FAIL xdotool is not installed")
        return 3
    app = QApplication.instance() or QApplication(sys.argv[:1])
    driver = Driver(shots, Path(os.environ["SKIPWIRE_TEST_HOLD_FINAL"]))
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
