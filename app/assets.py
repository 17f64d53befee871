"""The top-level ``assets/`` folder: the application icon and the example projects."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ICONS = ASSETS / "icons"
EXAMPLES = ASSETS / "examples"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon():
    """Skipwire's icon (the SVG plus the PNG sizes, so every size is crisp); an empty QIcon where
    the assets folder is missing."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for size in ICON_SIZES:
        png = ICONS / f"skipwire-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    return icon


def examples() -> list[Path]:
    """The example projects, by file name."""
    return sorted(EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []
