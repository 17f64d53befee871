"""Nested stages: an ``nn.Sequential`` inside an ``nn.Sequential``.

A graph's stages form a forest. Stage B sits inside stage A when B's nodes are a contiguous run of
A's nodes (B shorter, or as long but listed after A); B is then one member of A, with index ``i`` in
an index-keyed A, or key ``B.name`` in a name-keyed A. torchvision's MobileNetV2 writes
``features = nn.Sequential(Conv2dNormActivation(...), InvertedResidual(...), ...)``, where
Conv2dNormActivation is itself an ``nn.Sequential`` of conv, norm and activation: its weights are
``features.0.0.weight``. Two stages that share nodes without one containing the other are an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.model import Stage


def _inside(inner: Stage, outer: Stage, i_inner: int, i_outer: int) -> bool:
    """``inner`` lists a contiguous run of ``outer``'s nodes (a tie in length goes to the earlier stage)."""
    n, m = len(inner.nodes), len(outer.nodes)
    if not n or n > m or (n == m and i_inner < i_outer):
        return False
    first = inner.nodes[0]
    if first not in outer.nodes:
        return False
    at = outer.nodes.index(first)
    return outer.nodes[at : at + n] == inner.nodes


@dataclass
class StageTree:
    """Parents, children and the outermost stage of every node; ``overlaps`` lists stage pairs that share
    nodes without nesting."""

    parent: dict[str, str | None] = field(default_factory=dict)  # stage name -> enclosing stage name
    children: dict[str, list[str]] = field(default_factory=dict)  # stage name -> direct child stages
    outermost: dict[str, Stage] = field(default_factory=dict)  # node id -> its outermost stage
    overlaps: list[tuple[str, str, str]] = field(default_factory=list)  # (stage, stage, node id)
    by_name: dict[str, Stage] = field(default_factory=dict)

    def members(self, stage: Stage) -> list[str | Stage]:
        """The direct members of ``stage`` in order: node ids, and child stages where they start."""
        out: list[str | Stage] = []
        owner: dict[str, Stage] = {}
        for child_name in self.children.get(stage.name, []):
            child = self.by_name[child_name]
            for nid in child.nodes:
                owner[nid] = child
        for nid in stage.nodes:
            child = owner.get(nid)
            if child is None:
                out.append(nid)
            elif nid == child.nodes[0]:
                out.append(child)
        return out

    def roots(self, stages: list[Stage]) -> list[Stage]:
        return [s for s in stages if self.parent.get(s.name) is None]


def stage_tree(stages: list[Stage]) -> StageTree:
    """The nesting of ``stages`` (see the module docstring)."""
    tree = StageTree()
    tree.by_name = {s.name: s for s in stages}
    for i, s in enumerate(stages):
        best: tuple[int, int] | None = None
        for j, o in enumerate(stages):
            if j != i and _inside(s, o, i, j):
                key = (len(o.nodes), -j)
                if best is None or key < best:
                    best = key
        tree.parent[s.name] = stages[-best[1]].name if best is not None else None
    for s in stages:
        p = tree.parent[s.name]
        if p is not None:
            tree.children.setdefault(p, []).append(s.name)
    seen: dict[str, str] = {}
    for s in stages:
        for nid in s.nodes:
            if nid in seen and not _related(tree, seen[nid], s.name):
                tree.overlaps.append((seen[nid], s.name, nid))
            seen.setdefault(nid, s.name)
            if tree.parent[s.name] is None:
                tree.outermost[nid] = s
    return tree


def _related(tree: StageTree, a: str, b: str) -> bool:
    """One of the two stages encloses the other."""
    for x, y in ((a, b), (b, a)):
        p = tree.parent.get(x)
        while p is not None:
            if p == y:
                return True
            p = tree.parent.get(p)
    return False


__all__ = ["StageTree", "stage_tree"]
