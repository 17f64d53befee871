"""Persistent editor settings (QSettings): window geometry and state, recent
files, theme.  Tests construct ``Settings(path)`` with a temporary INI file so
that they never touch the user's real settings."""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 10
ORGANISATION = "Skipwire"
APPLICATION = "Skipwire"


class Settings:
    def __init__(self, path: str | os.PathLike | None = None) -> None:
        if path is None:
            self._q = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
            )
        else:
            self._q = QSettings(str(path), QSettings.Format.IniFormat)

    # ----- raw access -------------------------------------------------------
    def value(self, key: str, default=None):
        return self._q.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._q.setValue(key, value)

    def sync(self) -> None:
        self._q.sync()

    # ----- window ------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        v = self._q.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def state(self) -> QByteArray | None:
        v = self._q.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    # ----- theme -------------------------------------------------------------
    def theme(self) -> str:
        v = self._q.value("ui/theme", "dark")
        return v if v in ("dark", "light") else "dark"

    def set_theme(self, name: str) -> None:
        self._q.setValue("ui/theme", name)

    # ----- recent files ----------------------------------------------------------
    def recent_files(self) -> list[str]:
        v = self._q.value("files/recent", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or []) if p]

    def add_recent(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        files = [p for p in self.recent_files() if os.path.abspath(p) != path]
        files.insert(0, path)
        files = files[:MAX_RECENT]
        self._q.setValue("files/recent", files)
        return files

    def remove_recent(self, path: str) -> list[str]:
        files = [p for p in self.recent_files() if os.path.abspath(p) != os.path.abspath(path)]
        self._q.setValue("files/recent", files)
        return files

    def clear_recent(self) -> None:
        self._q.setValue("files/recent", [])

    # ----- the Sweep tab's backend -----------------------------------------------
    def sweep_backend(self) -> str:
        """ "local" (this machine, the default) or "ray" (a Ray cluster)."""
        v = self._q.value("sweep/backend", "local")
        return v if v in ("local", "ray") else "local"

    def set_sweep_backend(self, name: str) -> None:
        self._q.setValue("sweep/backend", name if name in ("local", "ray") else "local")

    def ray_address(self) -> str:
        """The Ray cluster the Sweep tab targets: auto (the default), ray://HOST:10001, or empty."""
        v = self._q.value("sweep/ray_address", "auto")
        return v.strip() if isinstance(v, str) else "auto"

    def set_ray_address(self, address: str) -> None:
        self._q.setValue("sweep/ray_address", address.strip())
