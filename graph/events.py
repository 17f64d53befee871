"""A small synchronous event mechanism (ryvencore's Flow signals, without Qt)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any


class Events:
    """``events.connect("node_added", cb)``; ``events.emit("node_added", node)``."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[..., Any]]] = defaultdict(list)
        self.muted = 0

    def connect(self, name: str, callback: Callable[..., Any]) -> None:
        self._subs[name].append(callback)

    def disconnect(self, name: str, callback: Callable[..., Any]) -> None:
        if callback in self._subs.get(name, []):
            self._subs[name].remove(callback)

    def emit(self, name: str, *args: Any) -> None:
        if self.muted:
            return
        for cb in list(self._subs.get(name, ())):
            cb(*args)
        for cb in list(self._subs.get("*", ())):
            cb(name, *args)
