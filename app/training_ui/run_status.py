"""The Training tab's progress bar and status line for the running job: "Run 2/4 · resnet20 —
epoch 3/5 · step 1,200/2,000 · 4,100 img/s", the ETA from the step rate since the first step, and
the words for how a run ended."""

from __future__ import annotations

import time

from app.training_ui.controller import Job

FINISHED_WORDS = {"completed": "Finished", "stopped": "Stopped", "diverged": "Diverged", "error": "Failed"}
FINISHED_FORMATS = {
    "completed": "Done",
    "stopped": "Stopped at %p%",
    "diverged": "Diverged at %p%",
    "error": "Failed",
}


class RunStatus:
    """The progress and status of a TrainingPanel's job (its ``progress``, ``status`` and the
    experiment's job list for the "Run i/N" prefix)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.started_at = 0.0
        self.first_step: tuple[float, int] | None = None

    def prefix(self, job: Job) -> str:
        panel = self.panel
        if panel._experiment_total and job in panel._experiment:
            return f"Run {panel._experiment.index(job) + 1}/{panel._experiment_total} · {job.label} — "
        return f"{job.label} — "

    def started(self, job: Job) -> None:
        self.started_at = time.monotonic()
        self.first_step = None
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat("")
        self.panel.status.setText(self.prefix(job) + "Starting… (the training process is loading PyTorch)")

    def finished(self, job: Job, state: str, message: str) -> None:
        """The status line and the progress bar's text for a job that ended in ``state``."""
        words = FINISHED_WORDS
        text = f"{words.get(state, state.title())}: {message}" if message else words.get(state, state)
        if state == "error":
            text = "Failed to train; the editor and the runs folder are unaffected"
        self.panel.status.setText(self.prefix(job) + text)
        if state == "completed":
            self.panel.progress.setValue(1000)
        self.panel.progress.setFormat(FINISHED_FORMATS.get(state, "%p%"))

    def show_progress(self, job: Job, run) -> None:
        status, progress = self.panel.status, self.panel.progress
        if run.state == "starting" or (not run.step and not run.total_steps):
            msg = run.message or "loading data"
            status.setText(self.prefix(job) + f"Starting… ({msg})")
            return
        parts = []
        if run.epochs:
            ep = min(int(run.epoch) + 1, run.epochs) if run.epoch % 1 or run.epoch == 0 else int(run.epoch)
            parts.append(f"epoch {ep}/{run.epochs}")
        if run.total_steps:
            frac = min(run.step / run.total_steps, 1.0)
            progress.setValue(int(frac * 1000))
            parts.append(f"step {run.step:,}/{run.total_steps:,}")
            eta = run.eta_s  # the engine's, as of the last epoch
            now = time.monotonic()
            if self.first_step is None and run.step:
                self.first_step = (now, run.step)
            elif (first := self.first_step) is not None and run.step > first[1] and now > first[0] + 1:
                t0, s0 = first  # the step rate since the first step (start-up excluded)
                eta = (run.total_steps - run.step) * (now - t0) / (run.step - s0)
            progress.setFormat(f"%p%  ·  ETA {format_eta(eta)}" if eta is not None and frac < 1 else "%p%")
        if run.images_per_s:
            parts.append(f"{run.images_per_s:,.0f} img/s")
        if run.last_val_acc is not None:
            subset = f" ({run.last_val_images:,} images)" if run.last_val_images else ""
            parts.append(f"val acc {run.last_val_acc:.1%}{subset}")
        status.setText(self.prefix(job) + " · ".join(parts))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"
