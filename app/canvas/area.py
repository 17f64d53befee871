"""CanvasArea: tabs for the network and each opened block definition, a breadcrumb
("Network › BasicBlock") and image export of the current graph.
"""

from __future__ import annotations

import html
import os

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from app.canvas.scene import GraphScene
from app.canvas.view import GraphView
from app.document import failing_instances
from app.theme import get_theme
from graph.atomic import atomic_write

NETWORK = "Network"


class CanvasArea(QWidget):
    status_message = Signal(str)
    current_changed = Signal(object)  # the block shown (None = the network)

    def __init__(self, document, parent: QWidget | None = None, theme: str = "dark") -> None:
        super().__init__(parent)
        self.document = document
        self.theme = get_theme(theme)
        self._views: dict[str | None, GraphView] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        crumb_bar = QWidget(self)
        crumb_bar.setObjectName("CanvasBreadcrumb")
        cl = QHBoxLayout(crumb_bar)
        cl.setContentsMargins(10, 4, 10, 4)
        self.breadcrumb = QLabel(crumb_bar)
        self.breadcrumb.setTextFormat(Qt.TextFormat.RichText)
        self.breadcrumb.linkActivated.connect(self._on_crumb)
        cl.addWidget(self.breadcrumb)
        cl.addStretch(1)
        self.instance_label = QLabel("Shapes of", crumb_bar)
        self.instance_box = QComboBox(crumb_bar)
        self.instance_box.setToolTip(
            "A block definition serves several instances; shapes and shortcut "
            "projections on this tab are those of the chosen instance."
        )
        self.instance_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.instance_box.activated.connect(self._on_instance_chosen)
        cl.addWidget(self.instance_label)
        cl.addWidget(self.instance_box)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.tabCloseRequested.connect(self._on_close_tab)
        self.tabs.currentChanged.connect(self._on_current_changed)
        lay.addWidget(crumb_bar)
        lay.addWidget(self.tabs, 1)
        document.block_open_requested.connect(self.open_block)
        document.focus_requested.connect(self.focus_node)
        document.blocks_changed.connect(self._on_blocks_changed)
        document.project_replaced.connect(self._on_project_replaced)
        document.analysis_changed.connect(lambda _a: self._update_instances())
        document.instance_changed.connect(lambda _b: (self._update_instances(), self._update_breadcrumb()))
        self._open(None)
        self._update_breadcrumb()
        self._update_instances()

    # ----- tabs ---------------------------------------------------------------------------------
    def _open(self, block: str | None) -> GraphView:
        if block in self._views:
            view = self._views[block]
        else:
            scene = GraphScene(self.document, block, self.theme)
            view = GraphView(self.document, scene)
            view.status_message.connect(self.status_message)
            self._views[block] = view
            index = self.tabs.addTab(view, NETWORK if block is None else block)
            if block is None:  # the network tab cannot be closed
                bar = self.tabs.tabBar()
                for side in (bar.ButtonPosition.RightSide, bar.ButtonPosition.LeftSide):
                    if bar.tabButton(index, side) is not None:
                        bar.tabButton(index, side).resize(0, 0)
                        bar.setTabButton(index, side, None)
            view.resize(max(self.tabs.width(), 400), max(self.tabs.height() - 30, 300))
            view.frame_readable()
        self.tabs.setCurrentWidget(view)
        return view

    def open_block(self, name: str) -> GraphView | None:
        if name not in self.document.project.blocks:
            self.status_message.emit(f'There is no block named "{name}".')
            return None
        return self._open(name)

    def open_network(self) -> GraphView:
        return self._open(None)

    def current_view(self) -> GraphView:
        return self.tabs.currentWidget()

    def current_block(self) -> str | None:
        return self.current_view().block

    def view_for(self, block: str | None) -> GraphView | None:
        return self._views.get(block)

    def _close(self, block: str | None) -> None:
        view = self._views.pop(block, None)
        if view is None:
            return
        index = self.tabs.indexOf(view)
        if index >= 0:
            self.tabs.removeTab(index)
        scene = view.graph_scene()
        for sig, slot in (
            (self.document.model_event, scene._on_model_event),
            (self.document.positions_changed, scene._on_positions_changed),
            (self.document.analysis_changed, scene._on_analysis),
            (self.document.selection_changed, scene._on_document_selection),
            (self.document.project_replaced, scene.rebuild),
            (self.document.blocks_changed, scene._on_blocks_changed),
            (self.document.instance_changed, scene._on_instance_changed),
        ):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        view.deleteLater()

    def _on_close_tab(self, index: int) -> None:
        view = self.tabs.widget(index)
        if isinstance(view, GraphView) and view.block is not None:
            self._close(view.block)

    def _on_blocks_changed(self) -> None:
        for block in [b for b in self._views if b is not None and b not in self.document.project.blocks]:
            self._close(block)
        self._update_breadcrumb()

    def _on_project_replaced(self) -> None:
        for block in [b for b in self._views if b is not None]:
            self._close(block)
        self._views[None].frame_all()
        self._update_breadcrumb()

    def _on_current_changed(self, _index: int) -> None:
        self._update_breadcrumb()
        self._update_instances()
        view = self.current_view()
        if view is not None:
            self.current_changed.emit(view.block)

    def crumbs(self) -> list[tuple[str, str | None, str | None]]:
        """Every level from the network down to the current tab: (text, block, instance path).
        A nested block shown as one instance reads Network › DenseBlock16 (denseblock2) ›
        DenseLayer (denseblock2.denselayer1)."""
        view = self.current_view()
        out: list[tuple[str, str | None, str | None]] = [(NETWORK, None, None)]
        if view is None or view.block is None:
            return out
        path = self.document.shown_instance(view.block)
        if not path:
            return [*out, (view.block, view.block, None)]
        owners = self._instance_owners()
        parts = path.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            block = owners.get(prefix)
            if block is not None:
                out.append((f"{block} ({parts[i - 1]})", block, prefix))
        return out

    def _instance_owners(self) -> dict[str, str]:
        """Instance path -> the block it is an instance of."""
        owners: dict[str, str] = {}
        analysis = self.document.analysis
        if analysis is None:
            return owners

        def walk(info, prefix: str) -> None:
            for node_id in info.order:
                ni = info.nodes.get(node_id)
                if ni is None or ni.children is None:
                    continue
                path = prefix + ni.node.name
                owners[path] = ni.children.block
                walk(ni.children, path + ".")

        walk(analysis.root, "")
        return owners

    def _update_breadcrumb(self) -> None:
        muted = self.theme.text_muted
        crumbs = self.crumbs()
        parts = []
        for i, (text, block, path) in enumerate(crumbs):
            if i == len(crumbs) - 1:
                parts.append(f"<b>{html.escape(text)}</b>")
            else:
                href = "network" if block is None else f"block:{block}|{path or ''}"
                parts.append(
                    f"<a href='{html.escape(href)}' style='color:{muted}; text-decoration:none'>"
                    f"{html.escape(text)}</a>"
                )
        self.breadcrumb.setText(f" <span style='color:{muted}'>\u203a</span> ".join(parts))

    def _update_instances(self) -> None:
        view = self.current_view()
        block = view.block if view is not None else None
        self.instance_box.blockSignals(True)
        self.instance_box.clear()
        if block is not None:
            scene = view.graph_scene()
            paths = [p for p, _ in scene.instances(self.document.analysis)]
            for p in paths:
                self.instance_box.addItem(p, p)
            current = self.document.shown_instance(block)
            if current is not None:
                self.instance_box.setCurrentIndex(paths.index(current))
            if not paths:
                self.instance_box.addItem("no instance in the network", None)
        self.instance_box.blockSignals(False)
        self.instance_box.setVisible(block is not None)
        self.instance_label.setVisible(block is not None)

    def _on_instance_chosen(self, index: int) -> None:
        self.show_instance(self.instance_box.itemData(index))

    def show_instance(self, path: str | None) -> None:
        """Block tabs: show the shapes of the instance at ``path`` (e.g. "layer2_0")."""
        view = self.current_view()
        if view is not None and view.block is not None:
            view.graph_scene().set_instance(path)
            self._update_instances()

    def _on_crumb(self, link: str) -> None:
        if link == "network":
            self.open_network()
        elif link.startswith("block:"):
            block, _, path = link[6:].partition("|")
            if path:
                self.document.set_shown_instance(block, path)
            self.document.request_open_block(block)

    def breadcrumb_text(self) -> str:
        return self.breadcrumb.text()

    # ----- navigation and commands ------------------------------------------------------------------
    def focus_node(self, block: str | None, node_id: str) -> None:
        """Show a node. Inside a block, if the instance shown has no error at that node but another
        instance has (a stride-2 instance whose shortcut does not fit), show that instance."""
        view = self.open_network() if block is None else self.open_block(block)
        if view is None:
            return
        if block is not None:
            failing = self.failing_instance(block, node_id)
            if failing is not None and failing != self.document.shown_instance(block):
                self.show_instance(failing)
        view.focus_node(node_id)

    def failing_instance(self, block: str, node_id: str) -> str | None:
        """The path of the first instance of ``block`` whose analysis marks ``node_id`` as failing
        (None when no instance does)."""
        analysis = self.document.analysis
        if analysis is None:
            return None
        instances = self.document.instances(block)
        shown = self.document.shown_instance(block)
        failing = failing_instances(analysis, block, node_id)
        if not failing:  # the node's own check passed everywhere; one whose shape is unknown, then
            failing = [
                path
                for path, info in instances
                if (ni := info.nodes.get(node_id)) is not None and ni.out_shape is None
            ]
        if not failing:
            return None
        return shown if shown in failing else failing[0]

    def frame_all(self) -> None:
        self.current_view().frame_all()

    def auto_layout(self) -> None:
        self.current_view().auto_layout()

    def set_theme(self, name: str) -> None:
        self.theme = get_theme(name)
        for view in self._views.values():
            view.graph_scene().set_theme(self.theme)
            view.resetCachedContent()
            view.viewport().update()
            view.minimap.refresh()
        self._update_breadcrumb()

    # ----- export ------------------------------------------------------------------------------------------
    def export_image(self, path: str, scale: float = 2.0) -> str:
        """Write the current graph as PNG (``scale`` x resolution) or SVG; returns the path."""
        scene = self.current_view().graph_scene()
        selected = scene.selected_node_ids(), scene.selected_edge_ids()
        scene.select([])
        labels = [st.label for st in scene.stages.values()]
        for lab in labels:  # stage names scale with the picture (on screen they keep screen size)
            lab.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        try:
            source = scene.nodes_rect()
            for e in scene.edges.values():
                source = source.united(e.sceneBoundingRect())
            for lab in labels:
                source = source.united(lab.mapRectToScene(lab.boundingRect()))
            source = source.adjusted(-24, -24, 24, 24)
            bg = QColor(self.theme.background)
            svg = path.lower().endswith(".svg")

            def render(tmp: str) -> None:  # into the temporary file; atomic_write renames it into place
                if svg:
                    from PySide6.QtSvg import QSvgGenerator

                    gen = QSvgGenerator()
                    gen.setFileName(tmp)
                    gen.setSize(QSize(int(source.width()), int(source.height())))
                    gen.setViewBox(QRectF(0, 0, source.width(), source.height()))
                    gen.setTitle(self.document.project.name)
                    painter = QPainter(gen)
                    painter.fillRect(QRectF(0, 0, source.width(), source.height()), bg)
                    scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
                    painter.end()
                    if os.path.getsize(tmp) == 0:
                        raise OSError(f"could not write the image {path}")
                    return
                image = QImage(
                    int(source.width() * scale),
                    int(source.height() * scale),
                    QImage.Format.Format_ARGB32_Premultiplied,
                )
                image.fill(bg)
                painter = QPainter(image)
                painter.setRenderHints(
                    QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                )
                scene.render(painter, QRectF(0, 0, image.width(), image.height()), source)
                painter.end()
                if not image.save(tmp, "PNG"):
                    raise OSError(f"could not write the image {path}")

            atomic_write(path, render)
        finally:
            for lab in labels:
                lab.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            scene.select(*selected)
        return path
