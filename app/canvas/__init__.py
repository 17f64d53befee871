"""The node-graph canvas: scene, items, view, layout, minimap, quick-add and the tabbed area."""

import app.qt_compat  # noqa: F401  (PySide6 6.12 emit() refcount bug; see there)
