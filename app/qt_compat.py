"""Work around a reference-counting bug of PySide6 6.12 on CPython 3.11.

``SignalInstance.emit()`` returns ``True`` without taking a reference, so
every emit from Python code takes one reference away from ``True``; after a
few hundred emits the interpreter aborts with "bool_dealloc: deallocating
True or False" (measured here: 1,000 emits of any signal, connected or not,
drop ``sys.getrefcount(True)`` by 1,000). Python 3.12 makes ``True``,
``False`` and ``None`` immortal; on 3.11 we give them the same protection by
adding a very large count to their reference counts, once, at import.
Harmless: these singletons are never freed anyway.
"""

from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
_done = False


def protect_singletons() -> None:
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        _done = True
        return
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _done = True


protect_singletons()
