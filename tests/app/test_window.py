"""The main window: layout, menus, status bar, undo naming, theme."""

from __future__ import annotations

from graph.templates import make
from tests.app.conftest import mismatch_project


def _menu(window, title):
    for a in window.menuBar().actions():
        if a.text().replace("&", "") == title:
            return a.menu()
    raise AssertionError(title)


def _texts(menu):
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def test_window_layout_and_menus(make_window):
    w = make_window(make("resnet20"))
    assert [w.bottom_tabs.tabText(i) for i in range(w.bottom_tabs.count())] == \
        ["Problems", "Code", "Summary", "Training"]
    assert w.palette_dock.isVisible() and w.inspector_dock.isVisible()
    assert {"New from template…", "Open…", "Open Recent", "Save", "Save As…", "Export", "Quit"} <= \
        set(_texts(_menu(w, "File")))
    assert {"Cut", "Copy", "Paste", "Duplicate", "Delete", "Group into block", "Select all"} <= \
        set(_texts(_menu(w, "Edit")))
    assert {"Frame all", "Auto-layout", "Light theme", "Panels"} <= set(_texts(_menu(w, "View")))
    assert {"Keyboard shortcuts", "About Skipwire"} <= set(_texts(_menu(w, "Help")))
    export = next(a.menu() for a in _menu(w, "File").actions() if a.text().replace("&", "") == "Export")
    assert len(_texts(export)) == 4
    assert w.status_valid.text() == "Valid · 269,722 params · 41.02 MMACs · output 10"


def test_status_and_problems_tab_follow_errors(make_window):
    w = make_window(mismatch_project())
    assert w.status_valid.text().startswith("1 error")
    assert w.bottom_tabs.tabText(0).startswith("Problems (")
    w.problems.fix_buttons[0].click()
    assert w.status_valid.text().startswith("Valid")


def test_edit_menu_names_the_undo_step(make_window):
    w = make_window(make("resnet20"))
    conv = w.document.project.graph.node_by_name("conv1")
    w.document.set_selection(None, [conv.id], [])
    assert not w.act_undo.isEnabled()
    w.inspector.fields["stride"].enter_text("2")
    assert w.act_undo.text() == "Undo Set stride of conv1"
    assert w.isWindowModified()
    w.act_undo.trigger()
    assert w.document.project.graph.nodes[conv.id].params["stride"] == 1
    assert w.act_redo.text() == "Redo Set stride of conv1"
    w.act_redo.trigger()
    assert w.document.project.graph.nodes[conv.id].params["stride"] == 2
    assert w.status_valid.text().startswith("Valid")  # stride 2 in the stem is still a valid net


def test_theme_toggle_persists(make_window, settings):
    w = make_window(make("resnet20"))
    assert settings.theme() == "dark"
    w.toggle_theme()
    assert settings.theme() == "light" and w.act_theme.isChecked()
    w.toggle_theme()
    assert settings.theme() == "dark"


def test_palette_double_click_adds_a_node(make_window):
    w = make_window(make("resnet20"))
    n = len(w.document.project.graph.nodes)
    w.palette_panel.add_requested.emit("ReLU")
    assert len(w.document.project.graph.nodes) == n + 1
    assert w.act_undo.text().startswith("Undo Add ReLU")
