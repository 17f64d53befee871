"""Benchmark shape inference: analyze() on resnet152 and on a generated 2,000-node graph.

Goals (docs/architecture.md: shapes update live while editing): resnet152, every block
instance expanded, under 10 ms; a 2,000-node flat graph under 100 ms.
Run: ``python bench/bench_shapes.py [--repeat N]``; prints the median and the
best of N runs. Figures are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graph.model import Graph, Project
from graph.shapes import analyze

GOALS_MS = {"resnet152": 10.0, "flat2000": 100.0}


def resnet152() -> Project:
    from graph.templates import make

    return make("resnet152")


def flat_graph(n_nodes: int = 2000) -> Project:
    """A 2,000-node network without blocks: residual units conv-BN-ReLU-conv-BN + Add (shortcut), ReLU."""
    g = Graph()
    last = g.add("Input", "input", shape=[16, 32, 32])
    units = (n_nodes - 6) // 7
    for i in range(units):
        start = last
        c1 = g.add("Conv2d", f"conv{i}a", out_channels=16)
        b1 = g.add("BatchNorm2d", f"bn{i}a")
        r1 = g.add("ReLU", f"relu{i}a")
        c2 = g.add("Conv2d", f"conv{i}b", out_channels=16)
        b2 = g.add("BatchNorm2d", f"bn{i}b")
        add = g.add("Add", f"add{i}")
        r2 = g.add("ReLU", f"relu{i}b")
        g.chain(start, c1, b1, r1, c2, b2)
        g.connect(b2, add, 0)
        g.connect(start, add, 1, kind="shortcut", name=f"shortcut{i}")
        g.chain(add, r2)
        last = r2
    while len(g.nodes) < n_nodes - 4:
        nxt = g.add("Identity")
        g.connect(last, nxt)
        last = nxt
    tail = [
        g.add("AdaptiveAvgPool2d", "pool"),
        g.add("Flatten", "flatten"),
        g.add("Linear", "fc", out_features=10),
        g.add("Output", "output"),
    ]
    g.chain(last, *tail)
    assert len(g.nodes) == n_nodes, len(g.nodes)
    return Project("flat2000", g)


class _NoMemo(dict):
    """Disables analyze()'s per-(block, input shape, params) memo: every instance is analysed afresh."""

    def __setitem__(self, key, value) -> None:
        pass


def analyze_without_memo(project: Project):
    from graph.shapes import inference

    init = inference._Analyzer.__init__

    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._memo = _NoMemo()

    inference._Analyzer.__init__ = patched
    try:
        return analyze(project)
    finally:
        inference._Analyzer.__init__ = init


def timeit(project: Project, repeat: int, fn=analyze) -> list[float]:
    a = fn(project)  # warm-up (imports, expression cache)
    assert a.valid, [d.message for d in a.errors[:3]]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(project)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args(argv)
    r152 = resnet152()
    cases = [
        ("resnet152", r152, analyze),
        ("resnet152 (no memo)", r152, analyze_without_memo),
        ("flat2000", flat_graph(), analyze),
    ]
    ok = True
    print(f"{'case':<20} {'nodes':>6} {'expanded':>8} {'median ms':>10} {'best ms':>8} {'goal ms':>8}")
    for name, project, fn in cases:
        a = fn(project)
        expanded = sum(1 for _ in _leaf_nodes(a.root))
        times = timeit(project, args.repeat, fn)
        med, best = statistics.median(times), min(times)
        goal = GOALS_MS.get(name)
        missed = goal is not None and med >= goal
        ok &= not missed
        print(
            f"{name:<20} {len(project.graph.nodes):>6} {expanded:>8} {med:>10.2f} {best:>8.2f} "
            f"{'-' if goal is None else f'{goal:.0f}':>8}{'  MISSED' if missed else ''}"
        )
    return 0 if ok else 1


def _leaf_nodes(info):
    """Every node of every block instance (instances sharing a memoised body count once each)."""
    for ni in info.nodes.values():
        if ni.children is not None:
            yield from _leaf_nodes(ni.children)
        else:
            yield ni


if __name__ == "__main__":
    sys.exit(main())
