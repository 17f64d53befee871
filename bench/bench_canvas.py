"""Canvas benchmarks: build + first render of resnet152; pan/zoom frame times on 2,000 nodes.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_canvas.py
Frames are rendered through the real view (its viewport's paint event, so the
item caches and level-of-detail painting are exercised) into a QImage.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsItem

from app.canvas.layout import auto_layout
from app.canvas.scene import GraphScene
from app.canvas.view import GraphView
from app.commands import new_node_edit
from app.document import Document
from graph.edits import SetParam, positions
from graph.model import Graph, Project
from graph.templates import make

W, H = 1600, 1000


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def render(view: GraphView) -> float:
    img = QImage(W, H, QImage.Format.Format_ARGB32_Premultiplied)
    t = time.perf_counter()
    view.viewport().render(img)
    return time.perf_counter() - t


def big_project(n: int) -> Project:
    """A residual chain of ``n`` nodes: conv-bn-relu-conv-bn-add(+shortcut)-relu, repeated."""
    g = Graph()
    prev = g.add("Input", shape=[64, 32, 32])
    count = 1
    while count < n - 2:
        x = prev
        c1 = g.add("Conv2d", out_channels=64, kernel_size=3, padding=1, bias=False)
        b1 = g.add("BatchNorm2d")
        r1 = g.add("ReLU")
        c2 = g.add("Conv2d", out_channels=64, kernel_size=3, padding=1, bias=False)
        b2 = g.add("BatchNorm2d")
        add = g.add("Add")
        r2 = g.add("ReLU")
        g.chain(x, c1, b1, r1, c2, b2)
        g.connect(b2, add, 0)
        g.connect(x, add, 1, kind="shortcut", projection="identity")
        g.chain(add, r2)
        prev = r2
        count += 7
    pool = g.add("AdaptiveAvgPool2d", output_size=1)
    g.chain(prev, pool)
    p = Project("big", g)
    return p


def frame_times(view: GraphView, zoom: float, centres: list[QPointF]) -> tuple[float, float]:
    view.set_zoom(zoom)
    render(view)  # first frame at a new zoom fills the item caches
    times = []
    for c in centres:
        view.centerOn(c)
        times.append(render(view))
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    app = QApplication.instance() or QApplication([])
    out: list[str] = [bench_resnet152(app)]
    for cache in ("device", "none"):
        out += bench_pan_zoom(cache)
    out.append(bench_export())
    _ = (QPainter, new_node_edit)
    print("\n".join(f"- {line}" for line in out))


def bench_resnet152(app: QApplication) -> str:
    """resnet152: build the scene and draw it, open the Bottleneck tab, one edit redrawn."""
    t0 = time.perf_counter()
    project = make("resnet152")
    t_make = time.perf_counter() - t0
    t0 = time.perf_counter()
    doc = Document(project)
    t_doc = time.perf_counter() - t0
    t0 = time.perf_counter()
    scene = GraphScene(doc, None)
    view = GraphView(doc, scene)
    view.resize(W, H)
    t_scene = time.perf_counter() - t0
    view.frame_all()
    t_first = render(view)
    view.set_zoom(1.0)
    view.centerOn(QPointF(0, 0))
    t_first_1 = render(view)
    t0 = time.perf_counter()
    bscene = GraphScene(doc, "Bottleneck")
    bview = GraphView(doc, bscene)
    bview.resize(W, H)
    bview.frame_all()
    render(bview)
    t_block = time.perf_counter() - t0
    conv = project.graph.node_by_name("conv1")
    edits = []
    for i in range(10):
        t0 = time.perf_counter()
        doc.push(SetParam(None, conv.id, "out_channels", 64 + (i % 2) * 32))
        app.processEvents()
        edits.append(time.perf_counter() - t0)
    return (
        f"resnet152 ({len(project.graph.nodes)} network nodes, "
        f"{len(project.blocks['Bottleneck'].graph.nodes)} "
        f"in Bottleneck): template {ms(t_make)}, Document + analysis {ms(t_doc)}, scene + view "
        f"{ms(t_scene)}, first frame framed {ms(t_first)}, first frame at 100% {ms(t_first_1)}; "
        f"Bottleneck tab open + first frame {ms(t_block)}; one edit (set out_channels of conv1) to "
        f"re-analysed and redrawn: median {ms(statistics.median(edits))}"
    )


def bench_pan_zoom(cache: str) -> list[str]:
    """2,000 nodes: layout and scene build (reported with ``cache`` "device"), then pan and zoom frame
    times with the nodes' DeviceCoordinateCache ("device") or uncached ("none")."""
    out = []
    big = big_project(2000)
    t0 = time.perf_counter()
    pos = auto_layout(big.graph)
    t_layout = time.perf_counter() - t0
    positions(big, None).update(pos)
    t0 = time.perf_counter()
    bdoc = Document(big)
    t_an = time.perf_counter() - t0
    t0 = time.perf_counter()
    s2 = GraphScene(bdoc, None)
    v2 = GraphView(bdoc, s2)
    v2.resize(W, H)
    t_build = time.perf_counter() - t0
    if cache == "none":
        for item in s2.nodes.values():
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    rect = s2.nodes_rect()
    n_nodes, n_edges = len(s2.nodes), len(s2.edges)
    if cache == "device":
        out.append(
            f"2,000-node scene ({n_nodes} nodes, {n_edges} edges, "
            f"{sum(1 for e in big.graph.edges.values() if e.is_shortcut)} shortcuts): auto-layout "
            f"{ms(t_layout)}, Document + analysis {ms(t_an)}, scene + view {ms(t_build)}"
        )
    rows = pan_rows(v2, rect)
    label = "DeviceCoordinateCache (shipped)" if cache == "device" else "nodes uncached (for comparison)"
    out.append(f"pan frames, {W}x{H}, {label}: " + "; ".join(rows))
    bdoc.deleteLater()
    return out


def pan_rows(v2: GraphView, rect) -> list[str]:
    """Frame times of drag-pans at several zooms, of jumps to unseen places, and of zoom steps."""
    rows = []
    for zoom in (1.0, 0.5, 0.25, 0.1, 0.04):
        # a drag-pan: 60 frames, each moving the view 40 screen pixels down and 8 across
        start = QPointF(rect.center().x(), rect.top() + rect.height() * 0.3)
        centres = [start + QPointF(8 * (i % 5), 40 * i) / zoom for i in range(60)]
        med, p95 = frame_times(v2, zoom, centres)
        rows.append(f"zoom {zoom:g}: median {ms(med)}, p95 {ms(p95)}")
    jumps = [QPointF(rect.center().x(), rect.top() + rect.height() * i / 30) for i in range(30)]
    med, p95 = frame_times(v2, 1.0, jumps)
    rows.append(f"jumps to unseen places at zoom 1: median {ms(med)}, p95 {ms(p95)}")
    # zooming in steps around one point (every frame at a new scale: caches refill)
    v2.set_zoom(0.3)
    v2.centerOn(rect.center())
    z_times = []
    for i in range(20):
        v2.set_zoom(0.3 * (1.1 ** (i % 10)))
        z_times.append(render(v2))
    z_times.sort()
    rows.append(
        f"zoom steps (new scale each frame): median {ms(statistics.median(z_times))}, p95 {ms(z_times[18])}"
    )
    return rows


def bench_export() -> str:
    """Export of the resnet20 network as PNG and SVG."""
    from app.canvas.area import CanvasArea

    area = CanvasArea(Document(make("resnet20")))
    area.resize(W, H)
    t0 = time.perf_counter()
    area.export_image("/tmp/skipwire_bench_resnet20.png")
    t_png = time.perf_counter() - t0
    t0 = time.perf_counter()
    area.export_image("/tmp/skipwire_bench_resnet20.svg")
    t_svg = time.perf_counter() - t0
    return f"export resnet20 network: PNG (2x) {ms(t_png)}, SVG {ms(t_svg)}"


if __name__ == "__main__":
    main()
