"""Problems rows never draw over one another, whatever the panel's width (wrapped messages)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PySide6.QtWidgets import QApplication

from app.document import Document
from app.panels.problems import ProblemsPanel
from graph.model import Graph, Project


def many_problems() -> Project:
    """Five branches off the input, each a stride-2 conv added to an identity shortcut: five long
    mismatch messages (with their fix buttons)."""
    g = Graph()
    inp = g.add("Input", "input", shape=[3, 64, 64])
    for i in range(5):
        conv = g.add("Conv2d", f"conv{i}", out_channels=16 * (i + 1), kernel_size=3, stride=2, padding=1)
        add = g.add("Add", f"add{i}", num_inputs=2)
        g.connect(inp, conv)
        g.connect(conv, add, 0)
        g.connect(inp, add, 1, kind="shortcut", name=f"shortcut{i}", projection="identity")
    return Project("many", g)


def _rows(panel):
    tree = panel.tree
    return [
        (tree.visualItemRect(tree.topLevelItem(i)), tree.itemWidget(tree.topLevelItem(i), 0))
        for i in range(tree.topLevelItemCount())
    ]


@pytest.fixture
def styled():
    """The editor's stylesheet (its fonts and paddings change the rows' heights once polished)."""
    from app import app_style

    app = QApplication.instance()
    saved = (app.style().name(), app.palette(), app.styleSheet(), app.property("skipwire_theme"))
    app_style.apply_theme(app, "dark")
    yield
    app.setStyle(saved[0])
    app.setPalette(saved[1])
    app.setStyleSheet(saved[2])
    app.setProperty("skipwire_theme", saved[3])


@pytest.mark.parametrize("widths", [(1200, 360), (360, 1200, 520)])
def test_rows_keep_apart_and_show_their_whole_message(qtbot, styled, widths):
    panel = ProblemsPanel(Document(many_problems()))
    qtbot.addWidget(panel)
    panel.resize(widths[0], 220)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.tree.topLevelItemCount() >= 5
    for w in widths:
        panel.resize(w, 220)
        for _ in range(3):
            QApplication.processEvents()
        rows = _rows(panel)
        for (r1, _), (r2, _) in pairwise(rows):
            assert r1.bottom() < r2.top(), (w, r1, r2)
        for rect, row in rows:
            assert row.geometry().height() >= row.heightForWidth(row.width()) - 1, w  # nothing cut off
            assert rect.height() >= row.heightForWidth(row.width()) - 1, w


def test_rows_rebuilt_while_the_tab_is_hidden_fit_when_shown(qtbot, styled):
    from PySide6.QtWidgets import QLabel, QTabWidget

    from tests.app.conftest import mismatch_project

    doc = Document(mismatch_project())
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    panel = ProblemsPanel(doc)
    tabs.addTab(QLabel("code"), "Code")
    tabs.addTab(panel, "Problems")
    tabs.resize(700, 200)
    tabs.show()
    qtbot.waitExposed(tabs)
    doc.replace_project(many_problems(), None)  # a fix, an open: the list is rebuilt while hidden
    QApplication.processEvents()
    tabs.setCurrentIndex(1)
    for _ in range(3):
        QApplication.processEvents()
    rows = _rows(panel)
    assert len(rows) == 6
    for (r1, _), (r2, _) in pairwise(rows):
        assert r1.bottom() < r2.top()
    for rect, row in rows:
        assert rect.width() == panel.tree.viewport().width()
        assert rect.height() >= row.heightForWidth(row.width()) - 1
