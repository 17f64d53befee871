"""Render assets/icons/skipwire.svg to the PNG sizes beside it (``python assets/render_icons.py``).

The PNGs are committed (the freedesktop icon theme and the window icon use them); re-run this
after changing the SVG."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
HERE = Path(__file__).resolve().parent / "icons"


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(HERE / "skipwire.svg"))
    if not renderer.isValid():
        sys.stderr.write("render_icons: skipwire.svg is not a valid SVG\n")
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = HERE / f"skipwire-{size}.png"
        tmp = target.with_suffix(".png.tmp")
        if not image.save(str(tmp), "PNG"):
            sys.stderr.write(f"render_icons: cannot write {tmp}\n")
            return 1
        os.replace(tmp, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
