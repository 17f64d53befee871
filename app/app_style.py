"""The editor's look: a Fusion-based QPalette plus a small stylesheet, dark
(the default) and light.  Colours for canvas items live in app.theme (the
canvas's module); this file styles the chrome: docks, tabs, menus, forms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parent / "resources"
CHECK_SVG = (RESOURCES / "check.svg").as_posix()
CLOSE_SVG = (RESOURCES / "close.svg").as_posix()
CLOSE_HOVER_SVG = (RESOURCES / "close_hover.svg").as_posix()


@dataclass(frozen=True)
class Chrome:
    name: str
    window: str
    base: str
    alt_base: str
    panel: str
    header: str
    border: str
    text: str
    muted: str
    accent: str
    accent_text: str
    error: str
    warning: str
    ok: str
    selection: str


DARK = Chrome(
    "dark",
    window="#1b1e24",
    base="#16181d",
    alt_base="#1d2026",
    panel="#20232a",
    header="#262a32",
    border="#30343d",
    text="#d8dbe2",
    muted="#8b919e",
    accent="#4c8dff",
    accent_text="#ffffff",
    error="#ef5350",
    warning="#f0b03c",
    ok="#5cc27a",
    selection="#2d4a7a",
)
LIGHT = Chrome(
    "light",
    window="#eef0f3",
    base="#ffffff",
    alt_base="#f5f6f8",
    panel="#f7f8fa",
    header="#e6e9ee",
    border="#cfd4dc",
    text="#1f232b",
    muted="#646b78",
    accent="#2f6fdf",
    accent_text="#ffffff",
    error="#d32f2f",
    warning="#b7791f",
    ok="#2e8b57",
    selection="#cfe0ff",
)
THEMES = {"dark": DARK, "light": LIGHT}


def chrome(name: str | None = None) -> Chrome:
    if name is None:
        app = QApplication.instance()
        name = app.property("skipwire_theme") if app is not None else None
    return THEMES.get(name or "dark", DARK)


def category_color(category: str) -> QColor:
    """The canvas's category colour (app.theme), so palette icons match the node cards."""
    from app.theme import category_color as canvas_category_color

    return canvas_category_color(category)


def palette(c: Chrome) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, v in (
        (role.Window, c.window),
        (role.WindowText, c.text),
        (role.Base, c.base),
        (role.AlternateBase, c.alt_base),
        (role.ToolTipBase, c.header),
        (role.ToolTipText, c.text),
        (role.Text, c.text),
        (role.Button, c.header),
        (role.ButtonText, c.text),
        (role.BrightText, c.error),
        (role.Highlight, c.accent),
        (role.HighlightedText, c.accent_text),
        (role.Link, c.accent),
        (role.PlaceholderText, c.muted),
        (role.Mid, c.border),
        (role.Dark, c.border),
        (role.Light, c.header),
    ):
        p.setColor(r, QColor(v))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(c.muted))
    return p


def stylesheet(c: Chrome) -> str:
    return f"""
QMainWindow, QDialog {{ background: {c.window}; }}
QMainWindow::separator {{ background: {c.border}; width: 1px; height: 1px; }}
QDockWidget {{ color: {c.text}; titlebar-close-icon: none; }}
QDockWidget::title {{ background: {c.header}; padding: 5px 8px; border-bottom: 1px solid {c.border};
    text-transform: uppercase; font-weight: 600; }}
QToolTip {{ background: {c.header}; color: {c.text}; border: 1px solid {c.border}; padding: 4px 6px; }}
QMenuBar {{ background: {c.window}; border-bottom: 1px solid {c.border}; }}
QMenuBar::item {{ padding: 4px 10px; background: transparent; }}
QMenuBar::item:selected {{ background: {c.header}; border-radius: 3px; }}
QMenu {{ background: {c.panel}; border: 1px solid {c.border}; padding: 4px; }}
QMenu::item {{ padding: 5px 28px 5px 22px; border-radius: 3px; }}
QMenu::item:selected {{ background: {c.accent}; color: {c.accent_text}; }}
QMenu::item:disabled {{ color: {c.muted}; }}
QMenu::separator {{ height: 1px; background: {c.border}; margin: 4px 6px; }}
QStatusBar {{ background: {c.header}; border-top: 1px solid {c.border}; color: {c.muted}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QLabel#statusValid {{ color: {c.ok}; font-weight: 600; }}
QLabel#statusInvalid {{ color: {c.error}; font-weight: 600; }}
QTabWidget::pane {{ border: none; border-top: 1px solid {c.border}; background: {c.panel}; }}
QTabBar::tab {{ background: transparent; color: {c.muted}; padding: 6px 14px; border: none;
    border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {c.text}; border-bottom: 2px solid {c.accent}; }}
QTabBar::tab:hover {{ color: {c.text}; }}
QTabBar::close-button {{ image: url({CLOSE_SVG}); subcontrol-position: right; \
border: none; background: transparent;
    margin: 2px; }}
QTabBar::close-button:hover {{ image: url({CLOSE_HOVER_SVG}); }}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit, QTextEdit {{
    background: {c.base}; color: {c.text}; border: 1px solid {c.border}; border-radius: 4px;
    padding: 3px 6px; selection-background-color: {c.accent}; }}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{ border: 1px solid {c.accent}; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QDoubleSpinBox[invalid="true"] {{
    border: 1px solid {c.error}; }}
QLabel[role="error"] {{ color: {c.error}; }}
QLabel[role="muted"], QLabel[role="unit"] {{ color: {c.muted}; }}
QLabel[role="heading"] {{ font-weight: 600; font-size: 11pt; }}
QLabel[role="section"] {{ color: {c.muted}; font-weight: 600; padding-top: 6px; }}
QComboBox QAbstractItemView {{ background: {c.panel}; border: 1px solid {c.border};
    selection-background-color: {c.accent}; }}
QPushButton, QToolButton {{ background: {c.header}; color: {c.text}; border: 1px solid {c.border};
    border-radius: 4px; padding: 4px 12px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {c.accent}; }}
QPushButton:pressed {{ background: {c.selection}; }}
QPushButton:default {{ background: {c.accent}; color: {c.accent_text}; border-color: {c.accent}; }}
QPushButton:disabled, QToolButton:disabled {{ background: {c.panel}; color: {c.muted}; \
border-color: {c.border}; }}
QToolButton[flat="true"], QToolButton[autoRaise="true"] {{ border: none; background: transparent; \
padding: 2px; }}
QToolButton[autoRaise="true"]:hover {{ background: {c.header}; border-radius: 3px; }}
QTreeView, QListView, QTableView, QTreeWidget, QListWidget, QTableWidget {{
    background: {c.panel}; alternate-background-color: {c.alt_base}; border: none;
    selection-background-color: {c.selection}; selection-color: {c.text}; outline: 0; }}
QTreeView::item, QListView::item {{ padding: 3px 2px; }}
QTreeView::item:hover, QListView::item:hover {{ background: {c.header}; }}
QHeaderView::section {{ background: {c.header}; color: {c.muted}; border: none;
    border-right: 1px solid {c.border}; border-bottom: 1px solid {c.border}; padding: 4px 8px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 0; }}
QScrollBar::handle:vertical {{ background: {c.border}; border-radius: 4px; min-height: 24px; margin: 2px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 0; }}
QScrollBar::handle:horizontal {{ background: {c.border}; border-radius: 4px; min-width: 24px; margin: 2px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: none; }}
QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid {c.muted}; border-radius: 3px;
    background: {c.base}; }}
QCheckBox::indicator:hover {{ border-color: {c.accent}; }}
QCheckBox::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; image: url({CHECK_SVG}); }}
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button {{ width: 0px; border: none; }}
QFrame#welcomeBar {{ background: {c.selection}; border-bottom: 1px solid {c.border}; }}
QFrame#welcomeBar QPushButton {{ padding: 3px 10px; }}
QSplitter::handle {{ background: {c.border}; }}
QFrame#panelToolbar {{ background: {c.header}; border-bottom: 1px solid {c.border}; }}
"""


def apply_theme(app: QApplication, name: str) -> Chrome:
    c = THEMES.get(name, DARK)
    app.setStyle("Fusion")
    app.setPalette(palette(c))
    app.setStyleSheet(stylesheet(c))
    app.setProperty("skipwire_theme", c.name)
    return c
