"""Colours and fonts of the canvas (VISUAL.md): a dark default and a light theme.

Category colours are shared with the panels (``category_color``). Text is
never smaller than 9 pt; shapes use the system monospace font.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont, QFontDatabase

CATEGORY_COLORS = {
    "io": "#8a93a6",
    "convolution": "#4f8fe8",
    "normalization": "#2bb3a3",
    "activation": "#59b860",
    "pooling": "#9a6fe0",
    "merge": "#ec9a3c",
    "linear": "#e0609e",
    "shape": "#7d8799",
    "regularization": "#c9b458",
    "block": "#7688a6",
}
PROJECTION_COLORS = {
    "identity": "#8f96a3",
    "zero_pad": "#e3a93b",
    "zero_pad_both": "#e3a93b",
    "conv_bn": "#a57cf0",
    "conv_bn_always": "#a57cf0",
}


@dataclass(frozen=True)
class CanvasTheme:
    name: str
    background: str
    grid_minor: str
    grid_major: str
    card: str
    card_border: str
    header_mix: float  # how much of the category colour tints the header band
    text: str
    text_muted: str
    badge: str
    badge_text: str
    edge: str
    edge_label: str
    selection: str
    error: str
    warning: str
    port: str
    port_ok: str
    minimap: str
    minimap_view: str
    projection: dict[str, str] = field(default_factory=lambda: dict(PROJECTION_COLORS))

    def color(self, attr: str, alpha: int | None = None) -> QColor:
        c = QColor(getattr(self, attr))
        if alpha is not None:
            c.setAlpha(alpha)
        return c

    def projection_color(self, projection: str) -> QColor:
        return QColor(self.projection.get(projection) or self.projection["identity"])

    def header_color(self, category: str) -> QColor:
        return mix(QColor(self.card), category_color(category), self.header_mix)


DARK = CanvasTheme(
    "dark",
    background="#1a1d23",
    grid_minor="#1f2228",
    grid_major="#262a32",
    card="#262a32",
    card_border="#3a404b",
    header_mix=0.42,
    text="#e6e8ec",
    text_muted="#a3a9b5",
    badge="#1b1e24",
    badge_text="#b9c3d3",
    edge="#7f8795",
    edge_label="#7c8391",
    selection="#ffd166",
    error="#ff5a52",
    warning="#f0b03c",
    port="#aab1bd",
    port_ok="#7cd992",
    minimap="#e614161b",
    minimap_view="#4c8dff",
)
LIGHT = CanvasTheme(
    "light",
    background="#f5f6f8",
    grid_minor="#eceef1",
    grid_major="#e0e3e8",
    card="#ffffff",
    card_border="#c9ced6",
    header_mix=0.34,
    text="#1e222a",
    text_muted="#5d6470",
    badge="#eef1f5",
    badge_text="#3b4452",
    edge="#7a828f",
    edge_label="#6b7280",
    selection="#2f6fdf",
    error="#d93025",
    warning="#b7791f",
    port="#6b7280",
    port_ok="#1e9e4a",
    minimap="#e6ffffff",
    minimap_view="#2f6fdf",
    projection={
        "identity": "#80868f",
        "zero_pad": "#c7871a",
        "zero_pad_both": "#c7871a",
        "conv_bn": "#7a4fd6",
        "conv_bn_always": "#7a4fd6",
    },
)
THEMES = {"dark": DARK, "light": LIGHT}


def get_theme(name: str | None) -> CanvasTheme:
    return THEMES.get(name or "dark", DARK)


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, CATEGORY_COLORS["shape"]))


def mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


_FONTS: dict[tuple, QFont] = {}


def ui_font(points: float = 9.5, bold: bool = False) -> QFont:
    key = ("ui", points, bold)
    if key not in _FONTS:
        f = QFontDatabase.systemFont(QFontDatabase.SystemFont.GeneralFont)
        f.setPointSizeF(max(9.0, points))
        f.setWeight(QFont.Weight.DemiBold if bold else QFont.Weight.Normal)
        _FONTS[key] = f
    return QFont(_FONTS[key])


def mono_font(points: float = 9.0) -> QFont:
    key = ("mono", points)
    if key not in _FONTS:
        f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        f.setPointSizeF(max(9.0, points))
        f.setStyleHint(QFont.StyleHint.Monospace)
        _FONTS[key] = f
    return QFont(_FONTS[key])
