"""Ids and names unused in a graph and by each other (for edits that add nodes and edges: the
editor's paste, duplicate and group, and the stage depth edit)."""

from __future__ import annotations

import re

from graph.model import Graph


class Fresh:
    """Hands out ids and names unused in ``graph`` and by each other."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.ids: set[str] = set(graph.nodes) | set(graph.edges)
        self.names: set[str] = {n.name for n in graph.nodes.values()}

    def id(self, prefix: str) -> str:
        """``prefix`` + the first free number from the graph's size on (``n12``, ``e30``)."""
        i = len(self.ids) + 1
        while f"{prefix}{i}" in self.ids:
            i += 1
        self.ids.add(f"{prefix}{i}")
        return f"{prefix}{i}"

    def name(self, base: str) -> str:
        """``base`` itself when free, else its stem with the first free number (``relu1``)."""
        if base not in self.names:
            self.names.add(base)
            return base
        stem = base.rstrip("0123456789") or base
        i = 1
        while f"{stem}{i}" in self.names:
            i += 1
        self.names.add(f"{stem}{i}")
        return f"{stem}{i}"

    def next_name(self, after: str) -> str:
        """The name that follows ``after`` in its numbering (``layer1_2`` -> ``layer1_3``), the
        first free one from there; ``after_1`` when ``after`` ends in no number."""
        m = re.match(r"^(.*?)(\d+)$", after)
        stem, i = (m.group(1), int(m.group(2))) if m else (f"{after}_", 0)
        while f"{stem}{i + 1}" in self.names:
            i += 1
        name = f"{stem}{i + 1}"
        self.names.add(name)
        return name


__all__ = ["Fresh"]
