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


# codegen/train_script.py is the exported training script, read as text and never imported by codegen;
# codegen/fx_concrete_tracer.py subclasses torch.fx's tracer, so it imports torch at its top, and is itself
# imported only inside the function that runs the second tracer (checked below)
_TORCH_AT_TOP = {"train_script.py", "fx_concrete_tracer.py"}


def _top_level_imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_codegen_emitter_has_no_module_level_torch():
    for path in (ROOT / "codegen").rglob("*.py"):
        names = _top_level_imports(path)
        if path.name not in _TORCH_AT_TOP:
            assert not any(n.split(".")[0] == "torch" for n in names), f"{path}: module-level torch import"
        assert "codegen.fx_concrete_tracer" not in names, f"{path}: imports the torch tracer at its top"


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


def test_no_class_over_500_lines():
    """Issue 23: a class a newcomer can read; a larger one is split by concern (composition)."""
    paths = [ROOT / "main.py"] + [
        p for pkg in ("graph", "codegen", "training", "app") for p in (ROOT / pkg).rglob("*.py")
    ]
    big = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            size = node.end_lineno - node.lineno + 1 if isinstance(node, ast.ClassDef) else 0
            if size > 500:
                big.append(f"{path.relative_to(ROOT)}: class {node.name} has {size} lines")
    assert not big, big
