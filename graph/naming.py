"""The one namer of the graph: fresh ids for nodes and edges, unique node names, shortcut edge names.

Node names are state_dict keys (a node's name is its attribute in the generated code), so the rules
here are part of the file format's meaning: changing one renames the modules of new nodes. Three
name rules, each with one caller kind:

- :func:`numbered_name`: ``base`` itself when free, else its stem (trailing digits dropped) with the
  first free number: ``relu`` -> ``relu1``, ``conv2`` -> ``conv1`` (new nodes: the editor, fixes,
  the model's ``add_node``, repairs in shape analysis);
- :func:`suffixed_name`: ``base``, ``base1``, ``base2``, ... without touching ``base``'s own
  digits (shortcut edge names, and the nodes a fix inserts on an edge);
- :func:`next_name`: the name after ``after`` in its own numbering (``layer1_2`` -> ``layer1_3``:
  the stage depth edit).

Ids: :class:`Fresh` hands out ``prefix`` + a number, counting from the graph's size, unused in the
graph and by each other; ``Graph.new_id`` keeps a running counter per graph (:func:`counter_id`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterator
from typing import Protocol


class _Named(Protocol):
    name: str


class _Edge(Protocol):
    name: str | None

    @property
    def is_shortcut(self) -> bool: ...


class _Graph(Protocol):
    nodes: dict[str, _Named]
    edges: dict[str, _Edge]


def numbered_name(base: str, taken: Collection[str]) -> str:
    """``base`` when free, else its stem (without trailing digits) with the first free number."""
    if base not in taken:
        return base
    stem = base.rstrip("0123456789") or base
    for i in itertools.count(1):
        if f"{stem}{i}" not in taken:
            return f"{stem}{i}"
    raise AssertionError  # pragma: no cover


def suffixed_name(base: str, taken: Collection[str]) -> str:
    """``base`` when free, else ``base1``, ``base2``, ... (``base``'s own digits kept)."""
    name, i = base, 1
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name


def next_name(after: str, taken: Collection[str]) -> str:
    """The name that follows ``after`` in its numbering (``layer1_2`` -> ``layer1_3``), the first free
    one from there; ``after_1`` when ``after`` ends in no number."""
    m = re.match(r"^(.*?)(\d+)$", after)
    stem, i = (m.group(1), int(m.group(2))) if m else (f"{after}_", 0)
    while f"{stem}{i + 1}" in taken:
        i += 1
    return f"{stem}{i + 1}"


def edge_names_taken(graph: _Graph) -> set[str]:
    """What a shortcut edge's name must differ from: other shortcuts' names and every node's (both
    become attributes of one class)."""
    return {e.name for e in graph.edges.values() if e.is_shortcut} | {n.name for n in graph.nodes.values()}


def unique_edge_name(graph: _Graph, base: str = "shortcut") -> str:
    """A name for a new shortcut edge of ``graph``: ``shortcut``, ``shortcut1``, ..."""
    return suffixed_name(base, edge_names_taken(graph))


def counter_id(counter: Iterator[int], prefix: str, used: Callable[[str], bool]) -> str:
    """``prefix`` + the counter's next number not ``used`` (``Graph.new_id``)."""
    while True:
        candidate = f"{prefix}{next(counter)}"
        if not used(candidate):
            return candidate


class Fresh:
    """Hands out ids and names unused in ``graph`` and by each other, for an edit that adds several
    nodes and edges before any is in the graph (paste, duplicate, group, stage depth, fixes).

    Ids count from the graph's size on: by default from the number of ids known so far (the graph's
    and those handed out: ``n12``, ``e13``), with ``from_graph_size`` from the graph's own size
    every time (the fixes' rule: ``n12``, ``e12``)."""

    def __init__(self, graph: _Graph, from_graph_size: bool = False) -> None:
        self.graph = graph
        self.ids: set[str] = set(graph.nodes) | set(graph.edges)
        self.names: set[str] = {n.name for n in graph.nodes.values()}
        self._size = len(graph.nodes) + len(graph.edges) if from_graph_size else None

    def id(self, prefix: str) -> str:
        """``prefix`` + the first free number from the graph's size on (``n12``, ``e30``)."""
        i = (len(self.ids) if self._size is None else self._size) + 1
        while f"{prefix}{i}" in self.ids:
            i += 1
        self.ids.add(f"{prefix}{i}")
        return f"{prefix}{i}"

    def name(self, base: str) -> str:
        """A node name by :func:`numbered_name`, unused by the graph and by earlier ones."""
        return self._take(numbered_name(base, self.names))

    def suffixed(self, base: str) -> str:
        """A node name by :func:`suffixed_name`, unused by the graph and by earlier ones."""
        return self._take(suffixed_name(base, self.names))

    def next_name(self, after: str) -> str:
        """The name after ``after`` by :func:`next_name`, unused by the graph and by earlier ones."""
        return self._take(next_name(after, self.names))

    def _take(self, name: str) -> str:
        self.names.add(name)
        return name


__all__ = [
    "Fresh",
    "counter_id",
    "edge_names_taken",
    "next_name",
    "numbered_name",
    "suffixed_name",
    "unique_edge_name",
]
