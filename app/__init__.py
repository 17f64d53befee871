"""Skipwire desktop editor (PySide6)."""

import app.qt_compat  # noqa: F401  (PySide6 6.12 emit() refcount bug: protect True/False/None first)
