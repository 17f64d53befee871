"""The Training tab's columns: the side tabs (Settings, Sweep, and Runs when narrow), the plots and
the runs list, side by side in a splitter; narrow (a dock between the palette and the inspector),
the runs list becomes a tab beside the settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget


class PanelColumns:
    """The side tabs and the splitter of a TrainingPanel (its footer, runs list and the host of its
    SweepPanel)."""

    def __init__(self, panel, settings_scroll: QScrollArea, middle: QWidget) -> None:
        self.panel = panel
        self.run_list = panel.run_list
        self.narrow = False
        self.side = QTabWidget()
        self.side.setDocumentMode(True)
        self.side.setTabBarAutoHide(True)
        settings_page = QWidget()
        page_lay = QVBoxLayout(settings_page)
        page_lay.setContentsMargins(0, 0, 0, 0)
        page_lay.setSpacing(0)
        page_lay.addWidget(settings_scroll, 1)
        page_lay.addWidget(panel.footer)
        self.side.addTab(settings_page, "Settings")
        from app.training_ui.sweep_panel import SweepPanel

        self.sweep = SweepPanel(panel)  # vary depth/width/shortcuts; a live Pareto scatter
        self.sweep.open_project_requested.connect(panel.open_project_requested)
        sweep_scroll = QScrollArea()  # its chart appears when a sweep starts: it scrolls, never grows
        sweep_scroll.setWidget(self.sweep)
        sweep_scroll.setWidgetResizable(True)
        sweep_scroll.setFrameShape(QFrame.Shape.NoFrame)
        sweep_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sweep_scroll = sweep_scroll
        self.side.addTab(sweep_scroll, "Sweep")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.side)
        split.addWidget(middle)
        split.addWidget(self.run_list)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([300, 860, 440])
        split.setChildrenCollapsible(False)
        self.splitter = split

    def set_narrow(self, narrow: bool, width: int) -> None:
        """Narrow: the runs become a tab beside the settings. Wide: settings, plots and runs side by
        side in a panel ``width`` wide."""
        if narrow == self.narrow:
            return
        self.narrow = narrow
        if narrow:
            self.side.insertTab(1, self.run_list, "Runs")  # after Settings, before Sweep
            self.side.setMaximumWidth(420)
        else:
            self.side.removeTab(self.side.indexOf(self.run_list))
            self.splitter.addWidget(self.run_list)
            self.run_list.show()
            self.side.setMaximumWidth(16777215)
            self.splitter.setSizes([300, max(400, width - 740), 440])

    def reset_layout(self, width: int) -> None:
        """The Settings page in front, the columns at their first widths."""
        self.side.setCurrentIndex(0)
        if self.narrow:
            self.splitter.setSizes([300, max(400, width - 300)])
        else:
            self.splitter.setSizes([300, max(400, width - 740), 440])
