"""The window closes but the Training tab's run goes on: stop the child at its next step (it saves
a checkpoint there) and resume the run in a detached ``main.py train --resume RUNDIR``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication


def continue_in_background(panel, wait_s: float = 30.0) -> Path | None:
    """Stop ``panel``'s running job at its next step, then resume the run in a detached
    ``main.py train --resume RUNDIR`` (bitwise the same run on the CPU; its output goes to
    RUNDIR/background.log). Queued experiment runs are dropped. Returns the run folder, or None
    where no checkpoint was saved (the run stopped before its first step)."""
    controller = panel.controller
    job = controller.current
    if job is None:
        return None
    run_dir = Path(job.run_dir)
    panel.stop()
    deadline = time.monotonic() + wait_s
    while controller.busy and time.monotonic() < deadline:  # its records still arrive
        QApplication.processEvents()
        time.sleep(0.02)
    if controller.busy:  # it did not stop in time: end it, so two processes never share the run
        controller.kill()
    if not (run_dir / "last.pt").exists():
        return None
    main = Path(__file__).resolve().parents[2] / "main.py"
    with open(run_dir / "background.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, str(main), "train", "--resume", str(run_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(main.parent),
            start_new_session=True,  # outlives the editor, and its Ctrl+C in a terminal
        )
    return run_dir
