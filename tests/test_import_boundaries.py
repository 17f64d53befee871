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


def _package_graph(package: str) -> dict[str, set[str]]:
    """module -> the modules of ``package`` it imports anywhere (TYPE_CHECKING and function bodies too)."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / package).glob("*.py"):
        name = f"{package}.{path.stem}"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                deps |= {f"{package}.{a.name}" for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith(package + ".")}
        graph[name] = deps
    return graph


def test_code_generator_modules_form_no_import_cycle():
    """Issue 23: the planner, the plan, the writer and their helpers import one way only."""
    graph = _package_graph("codegen")
    emit_side = {
        f"codegen.{m}"
        for m in [
            "emitter",
            "planner",
            "class_planner",
            "constructors",
            "class_draft",
            "plan",
            "plan_state",
            "writer",
            "forward",
            "dense",
            "variants",
            "init_rules",
            "values",
            "layer_codegen",
            "helpers",
            "namespace",
            "symbolic",
            "pyformat",
            "safety",
        ]
    }
    assert emit_side <= set(graph)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for dep in graph.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    cyclic = sorted(m for m in emit_side if m in reach(m))
    assert not cyclic, cyclic


def test_no_class_over_500_lines_in_the_code_generator():
    for path in (ROOT / "codegen").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                assert size <= 500, f"{path.name}: class {node.name} has {size} lines"
