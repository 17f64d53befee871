"""Which runs the Training tab's plots overlay: the runs ticked in the runs list, loaded from their
folders into the panel's RunStore (and dropped from it when unticked), their legend names, colours
and the heatmap's run."""

from __future__ import annotations

import re
import time
from pathlib import Path

from app.training_ui.colors import run_color
from graph.errors import UserError


class RunOverlays:
    """The ticked runs of a TrainingPanel (its store, runs list, controller and plots)."""

    def __init__(self, panel) -> None:
        self.panel = panel
        self.last_list_refresh = 0.0

    def color_for(self, key: str):
        return run_color(self.panel.store.color_index(key))

    def shown(self) -> list[str]:
        keys = self.panel.run_list.checked()
        return [k for k in keys if self.panel.store.get(k) is not None]

    def refresh_list_soon(self) -> None:
        if time.monotonic() - self.last_list_refresh > 1.5:
            self.last_list_refresh = time.monotonic()
            self.panel.run_list.refresh()

    def on_overlay(self, keys: list) -> None:
        panel = self.panel
        live = panel.controller.current.key if panel.controller.current else None
        for key in keys:
            if panel.store.get(key) is None and key != live:
                self.load_run(key)
        for key in list(panel.store.runs):
            if key not in keys and key != live and not self.is_queued(key):
                panel.store.remove(key)
        self.label_runs()
        panel.run_list.update_swatches()
        self.redraw()

    def is_queued(self, key: str) -> bool:
        return any(j.key == key for j in self.panel.controller.pending)

    def load_run(self, key: str) -> None:
        info = self.panel.run_list.infos.get(key)
        if info is None:
            return
        run = self.panel.store.add(key, info.project_name or info.name)
        try:
            run.ingest(info.metrics())
        except (OSError, UserError):
            pass
        if info.status not in ("running",) and not run.finished:
            run.state = info.status

    def label_runs(self) -> None:
        """Legend names: the project name, with the folder's time stamp where two runs share one."""
        store = self.panel.store
        shown = self.shown()
        names: dict[str, int] = {}
        for key in shown:
            base = store.get(key).label.split(" (")[0]
            names[base] = names.get(base, 0) + 1
        for key in shown:
            run = store.get(key)
            base = run.label.split(" (")[0]
            stamp = _stamp(key)
            run.label = f"{base} ({stamp})" if names[base] > 1 and stamp else base

    def on_current_run(self, key: str) -> None:
        plots = self.panel.plots
        if plots is not None and key:
            plots.heatmap_key = key
            plots.refresh(self.panel.store, self.shown())

    def redraw(self) -> None:
        plots = self.panel.plots
        if plots is not None:
            self.label_runs()
            plots.refresh(self.panel.store, self.shown())
            plots._rebuild_legends(self.panel.store)  # labels may have changed (time stamps)


def _stamp(key: str) -> str:
    m = re.search(r"(\d{8})-(\d{2})(\d{2})(\d{2})(-\d+)?$", key)
    return f"{m.group(2)}:{m.group(3)}:{m.group(4)}{m.group(5) or ''}" if m else Path(key).name
