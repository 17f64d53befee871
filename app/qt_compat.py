"""Work around a reference-counting bug of PySide6 6.12 on CPython 3.11.

``SignalInstance.emit()`` returns ``True`` without taking a reference, so
every emit from Python code takes one reference away from ``True``; after a
few hundred emits the interpreter aborts with "bool_dealloc: deallocating
True or False" (measured here: 1,000 emits of any signal, connected or not,
drop ``sys.getrefcount(True)`` by 1,000). Python 3.12 makes ``True``,
``False`` and ``None`` immortal; on 3.11 we give them the same protection by
adding a very large count to their reference counts, once, at import.

Applied only where it is needed: on CPython before 3.12, and only when a
probe (64 emits of a private signal) shows the installed PySide6 losing the
references; a PySide6 without the bug is left alone. pyproject.toml states
the PySide6 range the editor is tested with.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_PROBE_EMITS = 64
_done = False
applied = False  # whether the protection was needed and given


def emit_loses_true() -> bool:
    """Emit a private signal a few times and see whether ``True``'s reference count falls with it."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    return sys.getrefcount(True) <= before - _PROBE_EMITS // 2


def protect_singletons() -> None:
    global _done, applied
    if _done:
        return
    _done = True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or not emit_loses_true():
        return
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    applied = True


protect_singletons()
