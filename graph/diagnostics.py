"""Diagnostics and one-click fixes, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graph.fixes import FixAction


@dataclass(frozen=True)
class Fix:
    label: str
    action: FixAction  # a typed action of graph/fixes.py; action.build(project) gives the Edit

    def to_dict(self) -> dict:
        return {"label": self.label, "action": self.action.to_dict()}


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    code: str
    message: str
    node: str | None = None
    edge: str | None = None
    block: str | None = None  # block definition whose body holds node/edge; None = the network
    fixes: tuple[Fix, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict:
        d = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "node": self.node,
            "edge": self.edge,
            "fixes": [f.to_dict() for f in self.fixes],
        }
        if self.block is not None:
            d["block"] = self.block
        return d
