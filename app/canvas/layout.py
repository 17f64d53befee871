"""Auto-layout: layered top to bottom, the main chain in one column, side nodes to the right.

The main chain is the longest path of the graph (networkx). Every node gets
a row by longest-path layering; nodes off the main chain sit beside it, as
late as their consumers allow (a projection conv beside the sum it feeds),
in columns to the right. Shortcut edges have no nodes of their own; the
canvas routes them as arcs to the right of the column. Pure Python (no Qt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graph.model import Graph

if TYPE_CHECKING:
    import networkx as nx

ROW = 110.0  # same spacing as graph.templates.common
COLUMN = 260.0


def _dag(graph: Graph) -> nx.DiGraph:
    import networkx as nx  # ~0.45 s to import: only when a layout is computed, never at start-up

    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes)
    for e in graph.edges.values():
        if e.src in graph.nodes and e.dst in graph.nodes and e.src != e.dst:
            g.add_edge(e.src, e.dst)
    while not nx.is_directed_acyclic_graph(g):  # break cycles (an error the validator reports)
        cycle = nx.find_cycle(g)
        g.remove_edge(*cycle[-1][:2])
    return g


def auto_layout(graph: Graph) -> dict[str, list[float]]:
    """Positions (top-left of each card) for every node of ``graph``."""
    if not graph.nodes:
        return {}
    import networkx as nx

    g = _dag(graph)
    order = list(nx.lexicographical_topological_sort(g, key=list(graph.nodes).index))
    chain = nx.dag_longest_path(g, topo_order=order) if g.number_of_edges() else [order[0]]
    on_chain = set(chain)
    row: dict[str, int] = {}
    for i, n in enumerate(chain):
        row[n] = i
    # off-chain nodes: as late as possible (just above their first consumer), else below their producer
    for n in reversed(order):
        if n in on_chain:
            continue
        succ = [row[s] for s in g.successors(n) if s in row]
        if succ:
            row[n] = min(succ) - 1
    for n in order:
        if n in row:
            continue
        pred = [row[p] for p in g.predecessors(n) if p in row]
        row[n] = (max(pred) + 1) if pred else 0
    # keep producers above consumers for the off-chain ones
    for n in order:
        if n in on_chain:
            continue
        pred = [row[p] for p in g.predecessors(n)]
        if pred and row[n] <= max(pred):
            row[n] = max(pred) + 1
    used: dict[int, int] = {}
    pos: dict[str, list[float]] = {}
    for n in order:
        if n in on_chain:
            pos[n] = [0.0, row[n] * ROW]
        else:
            col = used.get(row[n], 0) + 1
            used[row[n]] = col
            pos[n] = [col * COLUMN, row[n] * ROW]
    return pos


def place_missing(graph: Graph, positions: dict[str, list[float]]) -> dict[str, list[float]]:
    """Positions for the nodes of ``graph`` that have none; the others stay where they are."""
    missing = [n for n in graph.nodes if n not in positions]
    if not missing:
        return {}
    if len(missing) == len(graph.nodes):
        return auto_layout(graph)
    placed = {k: list(v) for k, v in positions.items() if k in graph.nodes}
    taken = {(round(p[0]), round(p[1])) for p in placed.values()}
    right = max(p[0] for p in placed.values()) + COLUMN
    out: dict[str, list[float]] = {}
    for n in missing:
        preds = [e.src for e in graph.in_edges(n) if e.src in placed]
        succs = [e.dst for e in graph.out_edges(n) if e.dst in placed]
        if preds:
            x, y = placed[preds[0]][0], placed[preds[0]][1] + ROW
        elif succs:
            x, y = placed[succs[0]][0], placed[succs[0]][1] - ROW
        else:
            x, y = right, 0.0
        while (round(x), round(y)) in taken:
            x += COLUMN
        taken.add((round(x), round(y)))
        placed[n] = out[n] = [x, y]
    return out
