"""docs/architecture.md's import boundaries, checked on the source (import-linter runs too, in
`make lint`)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "pyqtgraph", "PyQt5", "PyQt6", "shiboken6")


def _imports(package: str):
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path, a.name, node
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module, node


def test_no_qt_below_app():
    for pkg in ("graph", "codegen", "training"):
        bad = [f"{p.relative_to(ROOT)}: {m}" for p, m, _ in _imports(pkg) if m.split(".")[0] in QT]
        assert not bad, bad


def test_graph_imports_no_torch_at_all():
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p, m, _ in _imports("graph")
        if m.split(".")[0] in ("torch", "numpy")
    ]
    assert not bad, bad


def test_codegen_emitter_has_no_module_level_torch():
    # codegen/train_script.py is the exported training script, read as text and never imported by codegen
    for path in set((ROOT / "codegen").rglob("*.py")) - {ROOT / "codegen" / "train_script.py"}:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "torch" for n in names), (
                    f"{path}: module-level torch import"
                )
