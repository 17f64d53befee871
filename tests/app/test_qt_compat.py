"""app/qt_compat.py protects True/False/None only where PySide6's emit() loses references to True."""

from __future__ import annotations

import sys

from app import qt_compat


def test_protection_is_applied_exactly_where_emit_loses_true():
    needed = (
        sys.version_info < (3, 12) and sys.implementation.name == "cpython" and qt_compat.emit_loses_true()
    )
    assert qt_compat.applied == needed


def test_many_emits_leave_true_alive():
    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        changed = Signal(int)

    src = Source()
    got = []
    src.changed.connect(got.append)
    for i in range(5000):
        src.changed.emit(i)
    assert len(got) == 5000 and sys.getrefcount(True) > 5000
